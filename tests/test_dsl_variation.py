"""Symbolic variation from Python: choices read back, mutation, crossover, neighbours and fixing
decisions, over the examples and generated spaces (hypothesis)."""

from __future__ import annotations

import glob
import os

import pyglove as pg
import pytest
from hypothesis import HealthCheck, assume, given, settings
import hypothesis.strategies as st

import numpy as np

import hypsearch
from hypsearch import HypError
from hypsearch.dsl import variation
from test_dsl_naming import spaces

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.hyp")))
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _load(text):
    try:
        return hypsearch.loads(text)
    except HypError:
        assume(False)


def _ancestors(space, name):
    by_name = {d.name: d for d in space.decisions}
    out, d = [], by_name[name]
    while d.condition is not None:
        out.append(d.condition.parent)
        d = by_name[d.condition.parent]
    return out


@pytest.mark.parametrize("example", EXAMPLES, ids=os.path.basename)
def test_choices_of_reads_back_every_sampled_program_of_an_example(example):
    space = hypsearch.load(example)
    for seed in range(10):
        p = space.sample(seed=seed)
        assert space.program(space.choices_of(p)) == p


@PROPERTY
@given(text=spaces(), seed=st.integers(0, 10_000))
def test_choices_of_inverts_program_on_generated_spaces(text, seed):
    space = _load(text)
    p = space.sample(seed=seed)
    assert space.program(space.choices_of(p)) == p


def test_choices_of_an_edited_program_follows_the_edit():
    space = hypsearch.load(os.path.join(ROOT, "examples", "digits_hypernet.hyp"))
    p = space.sample(seed=1)
    edited = p.clone(deep=True)
    edited.rebind({"train.batch_size": 32 if p.train.batch_size == 64 else 64})
    assert space.choices_of(edited)["train.batch_size"] == edited.train.batch_size
    assert space.program(space.choices_of(edited)) == edited


def test_a_program_outside_the_space_names_the_field_and_what_the_space_allows():
    space = hypsearch.load(os.path.join(ROOT, "examples", "digits_hypernet.hyp"))
    p = space.sample(seed=1).clone(deep=True)
    p.rebind({"train.batch_size": 48})
    with pytest.raises(HypError, match=r"train\.batch_size: 48 is not one of oneof\(32, 64\)"):
        space.choices_of(p)
    q = space.sample(seed=1).clone(deep=True)
    q.rebind({"data.tasks": 3})
    with pytest.raises(HypError, match=r"data\.tasks: 3 where the space"):
        space.choices_of(q)


@PROPERTY
@given(text=spaces(), seed=st.integers(0, 10_000), n=st.integers(1, 3))
def test_mutate_returns_a_program_of_the_space_that_differs_in_at_most_n_decisions(text, seed, n):
    space = _load(text)
    p = space.sample(seed=seed)
    a = space.assignment_of(p)
    assume(any((d.size or 2) > 1 for d in space.decisions if d.name in a))
    space.assignment_of(space.mutate(p, seed=seed, n=n))  # a program of the space
    # The difference is stated on the decisions (two assignments can print the same program).
    b = variation.mutate(space.encoding, a, n, np.random.default_rng(seed))
    space.encoding.from_assignment(b)
    changed = {k for k in a.keys() & b.keys() if a[k] != b[k]}
    assert 1 <= len(changed) <= n or set(a) != set(b)
    for name in set(b) - set(a):  # switched on: only below a changed decision
        assert set(_ancestors(space, name)) & changed


@PROPERTY
@given(text=spaces(), seed=st.integers(0, 10_000))
def test_crossover_takes_every_decision_from_one_parent_and_subtrees_whole(text, seed):
    space = _load(text)
    pa, pb = space.sample(seed=seed), space.sample(seed=seed + 1)
    a, b = space.assignment_of(pa), space.assignment_of(pb)
    space.assignment_of(space.crossover(pa, pb, seed=seed))  # a program of the space
    c = variation.crossover(space.encoding, a, b, np.random.default_rng(seed))
    space.encoding.from_assignment(c)
    for name, value in c.items():
        assert value in (a.get(name), b.get(name)) or name not in a and name not in b
    for name, value in c.items():  # a child decision comes from the parent its own parent came from
        d = next(x for x in space.decisions if x.name == name)
        if d.condition is not None:
            parent = d.condition.parent
            if c[parent] == a.get(parent) != b.get(parent) and name in a:
                assert value == a[name]


@PROPERTY
@given(text=spaces(), seed=st.integers(0, 10_000))
def test_neighbours_are_programs_of_the_space_one_step_away(text, seed):
    space = _load(text)
    p = space.sample(seed=seed)
    a = space.assignment_of(p)
    for q in space.neighbours(p):
        space.assignment_of(q)  # a program of the space
    seen = 0
    for b in variation.neighbours(space.encoding, a):
        space.encoding.from_assignment(b)
        changed = {k for k in a.keys() & b.keys() if a[k] != b[k]}
        assert len(changed) == 1
        seen += 1
    finite = [d for d in space.decisions if d.name in a and d.kind != "float" and d.size > 1]
    assert (seen > 0) == bool(finite)


def _expected_narrowing(space, fixed):
    """The decision table a space fixed at `fixed` (encoded) must have: every other decision whose
    fixed ancestors take values that switch it on and whose first free ancestor is still there,
    conditioned on that ancestor."""
    by_name = {d.name: d for d in space.decisions}
    out, kept = [], set()
    for d in space.decisions:
        if d.name in fixed:
            continue
        cond, ok = d.condition, True
        while ok and cond is not None and cond.parent in fixed:
            ok = cond.holds(fixed[cond.parent])
            cond = by_name[cond.parent].condition
        if ok and (cond is None or cond.parent in kept):
            kept.add(d.name)
            out.append((d.name, d.kind, len(d.choices), d.low, d.high, None if cond is None else (cond.parent, cond.values)))
    return out


@PROPERTY
@given(text=spaces(), seed=st.integers(0, 10_000), data=st.data())
def test_fix_narrows_the_decision_table_exactly(text, seed, data):
    space = _load(text)
    a = space.assignment_of(space.sample(seed=seed))
    keys = data.draw(st.lists(st.sampled_from(sorted(a)), unique=True)) if a else []
    fixed = {k: a[k] for k in keys}
    try:
        narrowed = space.fix({k: space.decode({k: v})[k] for k, v in fixed.items()})
    except HypError as e:  # one copy of a repeat whose depth stays open cannot be fixed alone
        assert "while the depth of its `repeat`" in str(e)
        assume(False)
    # Candidates keep their number; their text shows what was fixed inside them.
    got = [(d.name, d.kind, len(d.choices), d.low, d.high,
            None if d.condition is None else (d.condition.parent, d.condition.values)) for d in narrowed.decisions]
    expected = _expected_narrowing(space, fixed)
    # Nothing new (the order may differ: a `def` argument is listed where its first remaining use is).
    assert set(got) <= set(expected) and len(set(got)) == len(got)
    q = narrowed.sample(seed=seed)
    space.assignment_of(q)  # still a program of the wider space
    # The program is the wider space's under the fixed values and the narrowed choices.
    full = variation.complete(space.decisions, {**narrowed.assignment_of(q), **fixed}, variation.first_values(space.decisions))
    assert space.materialize(full) == q
    # What the narrowing dropped beyond the table's conditions cannot change a program any more
    # (a `let` or `def` argument used only in a cut branch).
    for name, kind, *_ in expected:
        if any(g[0] == name for g in got):
            continue
        d = next(x for x in space.decisions if x.name == name)
        if name in full and kind != "float" and d.size > 1:
            other = next(v for v in d.values() if v != full[name])
            fresh = {**variation.first_values(space.decisions), **full}
            assert space.materialize(variation.complete(space.decisions, {**full, name: other}, fresh)) == q
    again = hypsearch.loads(hypsearch.dumps(narrowed))
    assert len(again.decisions) == len(narrowed.decisions)


def test_fix_a_program_but_keep_the_hypernetwork_open():
    space = hypsearch.load(os.path.join(ROOT, "examples", "digits_hypernet.hyp"))
    p = space.sample(seed=2)
    narrowed = space.fix(p, keep=["hypernet.*"])
    assert narrowed.decisions and all(d.name.startswith("hypernet.") for d in narrowed.decisions)
    q = narrowed.sample(seed=5)
    assert q.target == p.target and q.train == p.train and q.data == p.data
    text = hypsearch.dumps(narrowed)
    assert "repeat(" not in text  # the target's decisions are printed as values


def test_fixing_one_copy_of_a_repeat_needs_its_depth_fixed_too():
    space = hypsearch.loads("target = sequential(repeat(intv(1, 3), linear(out = oneof(8, 16))))\n")
    copy = "target.layers[0][1].out"
    with pytest.raises(HypError, match="fix the depth too"):
        space.fix({copy: 16})
    narrowed = space.fix({"target.layers[0].n": 2, copy: 16})
    assert [d.name for d in narrowed.decisions] == ["target.layers[0][0].out"]
    assert "linear(out = 16)" in hypsearch.dumps(narrowed)


def test_fix_rejects_unknown_decisions_and_keep_without_a_program():
    space = hypsearch.load(os.path.join(ROOT, "examples", "quickstart.hyp"))
    with pytest.raises(HypError, match="no decision named"):
        space.fix({"train.batch_sise": 64})
    with pytest.raises(HypError, match="keep="):
        space.fix({}, keep=["x"])


def test_pyglove_mutators_on_the_spaces_dna_give_programs_of_the_space():
    space = hypsearch.load(os.path.join(ROOT, "examples", "digits_hypernet.hyp"))
    spec = space.dna_spec()
    mutator = pg.evolution.mutators.Uniform(seed=1)
    recombinator = pg.evolution.recombinators.Uniform(seed=1)
    for seed in range(10):
        parent = space.to_dna(space.random_assignment(__import__("random").Random(seed)))
        other = space.to_dna(space.random_assignment(__import__("random").Random(seed + 50)))
        child = mutator.mutate(parent)
        child.use_spec(spec)
        assert space.choices_of(space.program(child)) is not None
        for kid in recombinator.recombine([parent, other], global_state=pg.geno.AttributeDict(), step=0):
            kid.use_spec(spec)
            space.choices_of(space.program(kid))
