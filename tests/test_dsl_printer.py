"""Printing programs and spaces back to .hyp text round-trips (property tests)."""

import glob

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

import pyglove as pg

import hypsearch

EXAMPLES = sorted(glob.glob("examples/*.hyp"))
SPACES = {path: hypsearch.load(path) for path in EXAMPLES}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(example=st.sampled_from(EXAMPLES), seed=st.integers(0, 2**32 - 1))
def test_every_sampled_program_prints_and_loads_back_equal(example, seed):
    p = SPACES[example].sample(seed=seed)
    assert pg.from_json(p.to_json()) == p  # built without run-time checks, equal to a checked build
    text = hypsearch.dumps(p, path=example)
    again = hypsearch.loads(text, filename=example)
    assert again.size == 1
    assert again.sample() == p


@settings(max_examples=10, deadline=None)
@given(example=st.sampled_from(EXAMPLES))
def test_example_spaces_print_idempotently_with_the_same_decisions(example):
    space = SPACES[example]
    text = hypsearch.dumps(space, path=example)
    again = hypsearch.loads(text, filename=example)
    assert hypsearch.dumps(again, path=example) == text
    assert again.decisions == space.decisions


# A generator of random spaces over a small vocabulary.
ints = st.integers(1, 64)
int_expr = st.one_of(
    ints.map(str),
    st.lists(ints, min_size=1, max_size=4).map(lambda xs: f"oneof({', '.join(map(str, xs))})"),
    st.tuples(ints, ints).map(lambda t: f"intv({min(t)}, {max(t)})"),
)
float_expr = st.one_of(
    st.floats(0.0, 0.9, allow_nan=False).map(repr),
    st.tuples(st.floats(0.01, 0.4), st.floats(0.5, 0.9), st.booleans()).map(
        lambda t: f"floatv({t[0]!r}, {t[1]!r}{', log = true' if t[2] else ''})"),
)
leaf = st.one_of(
    int_expr.map(lambda e: f"linear(out = {e})"),
    st.just("relu()"), st.just("act"),
    float_expr.map(lambda e: f"dropout(p = {e})"),
)


def _extend(children):
    return st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda xs: f"sequential({', '.join(xs)})"),
        st.lists(children, min_size=1, max_size=3).map(lambda xs: f"oneof({', '.join(xs)})"),
        children.map(lambda x: f"sequential(optional({x}), relu())"),
        st.tuples(st.sampled_from(["2", "intv(0, 2)", "oneof(1, 3)"]), children).map(
            lambda t: f"sequential(repeat({t[0]}, {t[1]}))"),
        children.map(lambda x: f"twice({x})"),
    )


layer = st.recursive(leaf, _extend, max_leaves=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=layer, extra=st.lists(int_expr, max_size=2), seed=st.integers(0, 1000))
def test_random_spaces_round_trip(target, extra, seed):
    text = "let act = oneof(relu(), tanh())\ndef twice(x) = sequential(x, x)\n"
    text += "".join(f"p{i} = {e}\n" for i, e in enumerate(extra))
    text += f"target = {target}\n"
    space = hypsearch.loads(text)
    printed = hypsearch.dumps(space)
    again = hypsearch.loads(printed)
    assert hypsearch.dumps(again) == printed
    assert [d.name for d in again.decisions] == [d.name for d in space.decisions]
    assert again.size == space.size
    a = space.random_assignment(__import__("random").Random(seed))
    p = space.materialize(a)
    assert pg.from_json(p.to_json()) == p
    assert again.materialize(a) == p
    assert hypsearch.loads(hypsearch.dumps(p)).sample() == p


def test_augment_prints_back_as_a_reserved_field_after_data():
    text = ("let w = oneof(4, 8)\n"
            "target = sequential(conv2d(out = w, kernel = 3), global_avgpool(), linear(out = 10))\n"
            "augment = [random_crop(padding = 2), optional(flip(p = floatv(0.2, 0.8))), optional(cutout(size = w))]\n"
            "data = digits(image = true)\n")
    space = hypsearch.loads(text)
    printed = hypsearch.dumps(space)
    lines = [line.split(" = ")[0] for line in printed.splitlines() if " = " in line and not line.startswith(" ")]
    assert lines[lines.index("data") + 1] == "augment"
    again = hypsearch.loads(printed)
    # The same table; the printed file lists the fields in their canonical order, and so the decisions.
    assert {d.name: d for d in again.decisions} == {d.name: d for d in space.decisions}
    assert hypsearch.dumps(again) == printed
    for seed in range(6):
        p = space.sample(seed=seed)
        assert "augment" not in p.params and p["augment"] is p.augment
        assert p.augment[0].padding == 2 and all(a is not None for a in p.augment)
        assert hypsearch.loads(hypsearch.dumps(p)).sample() == p
