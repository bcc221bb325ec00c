"""Decision names survive printing: a printed space loads with the same decision table (property tests)."""

import random
import re
import textwrap

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

import hypsearch


def table(space):
    return [(d.name, d.kind, d.choices, d.low, d.high, d.log, d.k, d.condition) for d in space.decisions]


def names(space):
    return [d.name for d in space.decisions]


def reloaded(space):
    return hypsearch.loads(hypsearch.dumps(space))


# -- regressions --------------------------------------------------------------------------------
def test_user_name_in_a_def_used_twice_prints_and_loads_back_with_both_suffixes():
    space = hypsearch.loads(textwrap.dedent('''
        def blk() = linear(out = oneof(8, 16, name = "width"))
        target = sequential(blk(), blk())
    '''))
    assert names(space) == ["width@target.layers[0]", "width@target.layers[1]"]
    again = reloaded(space)
    assert table(again) == table(space)
    assert hypsearch.dumps(again) == hypsearch.dumps(space)


def test_user_name_in_a_def_inside_a_repeat_keeps_the_def_use_suffix():
    space = hypsearch.loads(textwrap.dedent('''
        def blk() = sequential(relu(), linear(out = oneof(8, 16, name = "width")))
        target = sequential(repeat(intv(1, 3), sequential(linear(out = 4), blk())))
    '''))
    assert "width@target.layers[0][2].layers[1]" in names(space)
    assert table(reloaded(space)) == table(space)


def test_user_name_in_a_def_argument_keeps_the_suffix_of_the_use_that_wrote_it():
    space = hypsearch.loads(textwrap.dedent('''
        def pair(x) = sequential(x, relu(), x)
        def blk() = sequential(linear(out = 4), pair(linear(out = oneof(8, 16, name = "width"))))
        target = sequential(blk(), blk())
    '''))
    assert names(space) == ["width@target.layers[0]", "width@target.layers[1]"]
    again = reloaded(space)
    assert table(again) == table(space)
    a = {"width@target.layers[0]": 1, "width@target.layers[1]": 0}
    assert again.materialize(a) == space.materialize(a)


def test_def_argument_keeps_its_condition_when_printed():
    space = hypsearch.loads("def f(x) = oneof(x, relu())\ntarget = f(linear(out = oneof(1, 2)))\n")
    assert [d.condition for d in space.decisions] == [None, None]
    assert table(reloaded(space)) == table(space)


def test_user_name_in_a_repeat_prints_and_loads_back():
    space = hypsearch.loads('target = sequential(repeat(oneof(1, 3), dropout(p = floatv(0.1, 0.5, name = "p")), name = "depth"))')
    assert names(space) == ["depth", "p@target.layers[0][0]", "p@target.layers[0][1]", "p@target.layers[0][2]"]
    assert table(reloaded(space)) == table(space)


def test_experiment_copy_of_a_space_with_suffixed_names_loads(tmp_path):
    # `hypsearch run` on a space given as text writes it with dumps and reloads that file later.
    space = hypsearch.loads(textwrap.dedent('''
        let act = oneof(relu(), tanh())
        def block(w) = sequential(linear(out = w), act, dropout(p = floatv(0.0, 0.5, name = "drop")))
        target = sequential(repeat(intv(1, 3), block(oneof(64, 128, name = "width"))), block(8))
    '''))
    path = tmp_path / "space.hyp"
    path.write_text(hypsearch.dumps(space, path=str(path)))
    again = hypsearch.load(str(path))
    assert table(again) == table(space)
    a = space.random_assignment(random.Random(0))
    assert again.materialize(a) == space.materialize(a)


def test_def_printed_in_two_forms_gets_a_second_name_that_loads():
    # `g(act, act)` passes one node twice, so its use prints as a one-parameter def.
    space = hypsearch.loads(textwrap.dedent('''
        let act = oneof(relu(), tanh())
        def g(a, b) = sequential(a, b, linear(out = oneof(8, 16, name = "width")))
        def g_2() = dropout(p = floatv(0.1, 0.5, name = "p"))
        target = sequential(g(act, act), g(relu(), act), g_2(), g_2())
    '''))
    printed = hypsearch.dumps(space)
    assert "def g(a) =" in printed and "def g_2(a, b) =" in printed and "def g_2_2() =" in printed
    again = hypsearch.loads(printed)
    assert table(again) == table(space)
    assert hypsearch.dumps(again) == printed


# -- generated spaces ---------------------------------------------------------------------------
# Each `@N@` becomes a fresh `name = "nK"`, so only def uses and repeat copies repeat a name.
def named(call: str, name: bool) -> str:
    return call[:-1] + ', @N@)' if name else call


ints = st.one_of(
    st.sampled_from(["4", "8"]),
    st.booleans().map(lambda n: named("oneof(8, 16)", n)),
    st.booleans().map(lambda n: named("intv(1, 4)", n)),
)
floats = st.one_of(st.just("0.25"), st.booleans().map(lambda n: named("floatv(0.1, 0.5)", n)))


def layers(scope):
    """Layer expressions that may refer to the parameters, lets and defs in `scope`."""
    layer_refs, int_refs, defs = scope
    int_expr = st.one_of(ints, *[st.just(w) for w in int_refs])
    leaves = [int_expr.map(lambda e: f"linear(out = {e})"), st.just("relu()"), floats.map(lambda e: f"dropout(p = {e})")]
    leaves += [st.just(r) for r in layer_refs]
    leaf = st.one_of(*leaves)

    def extend(inner):
        count = st.sampled_from(["1", "2", "intv(0, 2)", "oneof(1, 3)"])
        item = st.one_of(
            inner,
            st.tuples(inner, st.booleans()).map(lambda t: named(f"optional({t[0]})", t[1])),
            st.tuples(count, inner, st.booleans()).map(
                lambda t: named(f"repeat({t[0]}, {t[1]})", t[2] and not t[0].isdigit())),
        )
        options = [
            st.lists(item, min_size=1, max_size=3).map(lambda xs: f"sequential({', '.join(xs)})"),
            st.tuples(inner, inner, st.booleans()).map(lambda t: named(f"oneof({t[0]}, {t[1]})", t[2])),
        ]
        for name, kind in defs:
            arg = {"x": inner, "w": int_expr, "": st.just("")}[kind]
            options.append(arg.map(lambda a, name=name: f"{name}({a})"))
        return st.one_of(*options)

    return st.recursive(leaf, extend, max_leaves=5)


@st.composite
def spaces(draw):
    """`.hyp` texts of lets and defs (with a layer parameter `x`, an int parameter `w` or none)
    calling the ones before them, then a target using them."""
    lines, defs, lets = [], [], []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            kind = draw(st.sampled_from(["", "x", "w"]))
            scope = ((kind,) if kind == "x" else ()) + tuple(lets), (kind,) if kind == "w" else (), tuple(defs)
            lines.append(f"def d{len(defs)}({kind}) = {draw(layers(scope))}")
            defs.append((f"d{len(defs)}", kind))
        else:
            lines.append(f"let l{len(lets)} = {draw(layers((tuple(lets), (), tuple(defs))))}")
            lets.append(f"l{len(lets)}")
    if draw(st.booleans()):
        lines.append(f"width = {draw(ints)}")
    items = draw(st.lists(layers((tuple(lets), (), tuple(defs))), min_size=1, max_size=3))
    lines.append(f"target = sequential({', '.join(items)})")
    counter = iter(range(10_000))
    return re.sub("@N@", lambda _: f'name = "n{next(counter)}"', "\n".join(lines) + "\n")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=spaces(), seed=st.integers(0, 1000))
def test_printed_space_loads_with_the_same_decision_table_and_sharing(text, seed):
    space = hypsearch.loads(text)
    printed = hypsearch.dumps(space)
    again = hypsearch.loads(printed)
    assert table(again) == table(space), printed
    assert hypsearch.dumps(again) == printed
    a = space.random_assignment(random.Random(seed))
    assert again.materialize(a) == space.materialize(a)  # a shared decision drives every use in both


def test_augment_decisions_are_named_by_their_path_in_the_field():
    space = hypsearch.loads(textwrap.dedent("""\
        data = digits(image = true)
        augment = [random_crop(padding = intv(1, 4)), optional(flip()),
                   optional(cutout(size = oneof(2, 3))), optional(noise(std = 0.05), name = "noisy")]
        """))
    assert names(space) == ["augment[0].padding", "augment[1]", "augment[2]", "augment[2].size", "noisy"]
    by_name = {d.name: d for d in space.decisions}
    assert by_name["augment[2].size"].condition.parent == "augment[2]"
    assert table(reloaded(space)) == table(space)
