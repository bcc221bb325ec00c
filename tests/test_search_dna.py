"""The pyglove wrapper: pg.sample and pg.iter drive a hypsearch algorithm through DNA."""

from __future__ import annotations

import pyglove as pg
import pytest

from hypsearch.decisions import Condition, Decision
from hypsearch.decisions.dna import dna_spec, from_dna
from hypsearch.search import algorithm


def table():
    return [
        Decision("depth", "int", low=1, high=3),
        Decision("w1", "choice", choices=("16", "32"), condition=Condition("depth", frozenset({2, 3}))),
        Decision("steps", "int", low=1, high=1000, log=True),
        Decision("lr", "float", low=1e-4, high=1e-1, log=True),
        Decision("inputs", "subset", choices=("a", "b", "c"), k=2, sorted=True),
    ]


@pytest.mark.parametrize("name", ["mcts", "smbo"])
def test_pg_sample_drives_the_algorithm_through_the_lead_dna_spec(name):
    decisions = table()
    algo = algorithm(name, decisions, seed=0)
    proposed = []
    for dna, feedback in pg.sample(dna_spec(decisions), algo.as_dna_generator(), num_examples=12):
        assignment = from_dna(decisions, dna)
        proposed.append(assignment)
        feedback(float(assignment["depth"]))
    told = list(algo.trials.values())
    assert len(told) == 12 and all(t.status == "ok" for t in told)
    assert [algo.encoding.to_assignment(algo.row(t)) for t in told] == proposed
    assert algo.best().value == max(a["depth"] for a in proposed)


def test_pg_iter_on_a_hyper_value_stops_when_the_space_is_exhausted():
    hyper = pg.Dict(x=pg.oneof([1, 2, 3], name="x"), y=pg.oneof(["a", "b"], name="y"))
    algo = algorithm("evolution", [Decision("x", "choice", choices=("1", "2", "3")),
                                   Decision("y", "choice", choices=("'a'", "'b'"))], seed=0)
    seen = []
    for example, feedback in pg.iter(hyper, 20, algo.as_dna_generator()):
        seen.append((example.x, example.y))
        feedback(example.x)
    assert sorted(seen) == [(x, y) for x in (1, 2, 3) for y in ("a", "b")]


def test_a_dna_spec_for_other_decisions_is_refused():
    algo = algorithm("random", table(), seed=0)
    other = dna_spec([Decision("z", "choice", choices=("a", "b"))])
    with pytest.raises(ValueError, match="one decision point per decision"):
        next(iter(pg.sample(other, algo.as_dna_generator(), num_examples=1)))


# -- the hierarchical spec of Space.to_pyglove() ------------------------------------------------

import functools
import glob
import os
import random

from hypothesis import HealthCheck, given, settings
import hypothesis.strategies as st

import hypsearch
from hypsearch import HypError
from test_dsl_naming import spaces

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.hyp")))


@pytest.mark.parametrize("name", ["random", "evolution", "mcts", "smbo"])
def test_pg_iter_over_to_pyglove_drives_the_algorithm_and_materializes_its_programs(name):
    # A conditional space with a variable repeat, a `let` shared by every copy and an optional
    # list item: pyglove places the shared decisions several times, the algorithm decides once.
    space = hypsearch.load(os.path.join(ROOT, "examples", "digits_hypernet.hyp"))
    algo = algorithm(name, space.decisions, seed=3)
    examples = []
    for example, feedback in pg.iter(space.to_pyglove(), 8, algo.as_dna_generator()):
        examples.append(example)
        feedback(float(len(examples)))
    told = sorted(algo.trials.values(), key=lambda t: t.id)
    assert len(told) == 8 and all(t.status == "ok" for t in told)
    for example, trial in zip(examples, told):
        assert pg.eq(example, space.materialize(trial.assignment))
        assert space.choices_of(example) is not None


@functools.lru_cache(maxsize=None)
def _tree(example):
    # pyglove builds its tree spec slowly for wide integer ranges (a oneof over each value, as
    # pyglove has no integer primitive): build each example's once.
    space = hypsearch.load(example)
    hyper = space.to_pyglove()
    return space, hyper, pg.dna_spec(hyper)


@pytest.mark.parametrize("example", EXAMPLES, ids=os.path.basename)
def test_both_dna_specs_encode_every_program_and_decode_it_back(example):
    space, hyper, tree = _tree(example)
    for seed in range(4):
        a = space.random_assignment(random.Random(seed))
        for spec in (space.dna_spec(), tree):
            dna = space.to_dna(a, spec)
            assert space.from_dna(dna) == a
        # pyglove's own materialization of the tree DNA is the space's program.
        assert pg.eq(pg.materialize(hyper, space.to_dna(a, tree)), space.materialize(a))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=spaces(), seed=st.integers(0, 10_000))
def test_any_dna_of_the_tree_spec_decodes_to_a_program_of_the_space(text, seed):
    try:
        space = hypsearch.loads(text)
    except HypError:
        return
    hyper = space.to_pyglove()
    tree = pg.dna_spec(hyper)
    dna = pg.random_dna(tree, random_generator=random.Random(seed))
    dna.use_spec(tree)
    program = space.program(dna)
    assert space.choices_of(program) is not None
    places = [str(p.name) for p in tree.decision_points]
    if len(places) == len(space.decisions):
        # Every decision placed once: pyglove and hypsearch build the same program.
        assert pg.eq(pg.materialize(hyper, dna), program)


def test_pyglove_mutators_on_tree_dna_give_programs_of_the_space():
    space, _, tree = _tree(os.path.join(ROOT, "examples", "cifar10.hyp"))
    mutator = pg.evolution.mutators.Uniform(seed=2)
    for seed in range(10):
        parent = space.to_dna(space.random_assignment(random.Random(seed)), tree)
        child = mutator.mutate(parent)
        child.use_spec(tree)
        assert space.choices_of(space.program(child)) is not None


def test_a_dna_of_another_space_is_a_clear_error():
    space = hypsearch.load(os.path.join(ROOT, "examples", "quickstart.hyp"))
    other = hypsearch.load(os.path.join(ROOT, "examples", "nb201.hyp"))
    dna = other.to_dna(other.random_assignment(random.Random(0)))
    with pytest.raises(HypError, match="not a DNA of this space"):
        space.program(dna)


def test_a_constant_repeat_before_decisions_does_not_make_pyglove_names_clash_with_its_ids():
    # The choices are named after their source places (layers[1], layers[2]) but sit at layers[2]
    # and layers[3] once the repeat is expanded: the first one's id is the second one's name.
    space = hypsearch.loads("def d0() = sequential(repeat(2, relu()), oneof(linear(out = 4), linear(out = 8)),\n"
                            "                      oneof(linear(out = 16), linear(out = 32)))\n"
                            "target = sequential(d0())\n")
    hyper = space.to_pyglove()
    tree = pg.dna_spec(hyper)
    assert len(tree.decision_points) == len(space.decisions) == 2
    seen = set()
    for seed in range(12):
        dna = pg.random_dna(tree, random_generator=random.Random(seed))
        dna.use_spec(tree)
        program = space.program(dna)
        assert pg.eq(pg.materialize(hyper, dna), program)
        seen.add(tuple(space.choices_of(program).values()))
        a = space.random_assignment(random.Random(seed))
        assert pg.eq(pg.materialize(hyper, space.to_dna(a, tree)), space.materialize(a))
    assert len(seen) == 4  # both decisions vary, each in its own place
