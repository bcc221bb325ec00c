"""The .hyp language: syntax, names, sharing, templates, repeat, optional, conditions."""

import os
import random
import textwrap

import pyglove as pg
import pytest

import hypsearch
from hypsearch import HypError


def names(space):
    return [d.name for d in space.decisions]


def test_literals_lists_comments_and_trailing_commas_parse():
    space = hypsearch.loads(textwrap.dedent('''
        # a comment
        a = 1            # trailing comment
        b = -2.5e-3
        c = "tab\\there \\"quoted\\""
        d = [true, false, none, 'single',]
        e = 1e3
    '''))
    p = space.sample()
    assert p.params == {"a": 1, "b": -2.5e-3, "c": 'tab\there "quoted"', "d": [True, False, None, "single"], "e": 1000.0}


def test_file_without_decisions_is_a_space_of_size_one():
    space = hypsearch.loads("data = digits()\ntarget = sequential(linear(out = 10))\n")
    assert space.size == 1 and space.decisions == ()
    assert space.sample() == space.sample(seed=5)


def test_let_is_one_decision_shared_by_every_use():
    space = hypsearch.loads(textwrap.dedent('''
        let act = oneof(relu(), gelu())
        target = sequential(linear(out = 4), act, linear(out = 4), act)
    '''))
    assert names(space) == ["act"]
    for seed in range(5):
        layers = space.sample(seed=seed).target.layers
        assert type(layers[1]) is type(layers[3])


def test_each_def_use_gets_fresh_decisions():
    space = hypsearch.loads(textwrap.dedent('''
        def block() = linear(out = oneof(8, 16))
        target = sequential(block(), block())
    '''))
    assert names(space) == ["target.layers[0].out", "target.layers[1].out"]


def test_def_argument_is_passed_by_value():
    space = hypsearch.loads(textwrap.dedent('''
        def twin(w) = sequential(linear(out = w), linear(out = w))
        target = twin(oneof(8, 16, 32))
    '''))
    assert len(space.decisions) == 1
    for seed in range(5):
        a, b = space.sample(seed=seed).target.layers
        assert a.out == b.out


def test_repeat_copy_keeps_its_name_at_every_depth():
    space = hypsearch.loads("target = sequential(repeat(intv(1, 3), linear(out = oneof(4, 8))), relu())")
    assert names(space) == ["target.layers[0].n", "target.layers[0][0].out", "target.layers[0][1].out", "target.layers[0][2].out"]
    cond = {d.name: d.condition for d in space.decisions}
    assert cond["target.layers[0][1].out"].parent == "target.layers[0].n"
    assert cond["target.layers[0][1].out"].values == frozenset({2, 3})
    for depth in (1, 2, 3):
        a = {"target.layers[0].n": depth, **{f"target.layers[0][{i}].out": 1 for i in range(depth)}}
        layers = space.materialize(a).target.layers
        assert len(layers) == depth + 1 and [l.out for l in layers[:-1]] == [8] * depth


def test_repeat_splices_into_sequences_and_makes_lists_elsewhere():
    space = hypsearch.loads("hidden = repeat(2, oneof(8, 16))\ntarget = sequential(repeat(2, relu()), linear(out = 3))")
    p = space.sample(seed=1)
    assert len(p.params["hidden"]) == 2
    assert [type(l).__name__ for l in p.target.layers] == ["relu", "relu", "linear"]


def test_absent_optional_drops_out_of_a_list():
    space = hypsearch.loads("target = sequential(linear(out = 4), optional(dropout(p = 0.1)), relu())")
    (d,) = space.decisions
    assert d.kind == "choice" and d.choices[0] == "none"
    assert len(space.materialize({d.name: 0}).target.layers) == 2
    assert len(space.materialize({d.name: 1}).target.layers) == 3


def test_oneof_branch_decisions_are_active_only_in_their_branch():
    space = hypsearch.loads("target = oneof(linear(out = intv(1, 4)), relu())")
    (top, inner) = space.decisions
    assert inner.condition.parent == top.name and inner.condition.values == frozenset({0})
    assert space.active({top.name: 1}) == [top.name]
    assert space.size == 5


def test_manyof_returns_the_chosen_candidates():
    space = hypsearch.loads('x = manyof(2, "a", "b", "c")\ny = manyof(2, 1, 2, distinct = false, sorted = true)')
    x, y = space.decisions
    assert x.size == 6 and y.size == 3
    p = space.program({"x": ["c", "a"], "y": [1, 2]})
    assert p.params == {"x": ["c", "a"], "y": [1, 2]}


def test_intv_bounds_are_inclusive_and_log_sampling_stays_in_range():
    space = hypsearch.loads("n = intv(1, 3)\nm = intv(2, 1000, log = true)\nf = floatv(1e-4, 1e-1, log = true)")
    seen = set()
    for seed in range(200):
        p = space.sample(seed=seed).params
        seen.add(p["n"])
        assert 2 <= p["m"] <= 1000 and 1e-4 <= p["f"] <= 1e-1
    assert seen == {1, 2, 3}


def test_user_names_and_suffixes_inside_templates():
    space = hypsearch.loads(textwrap.dedent('''
        def block() = linear(out = oneof(8, 16, name = "width"))
        lr = floatv(0.1, 1.0, name = "learning_rate")
        target = sequential(block(), block())
    '''))
    assert set(names(space)) == {"learning_rate", "width@target.layers[0]", "width@target.layers[1]"}


def test_decision_used_once_inside_a_def_keeps_its_plain_user_name():
    space = hypsearch.loads('def block() = linear(out = oneof(8, 16, name = "width"))\ntarget = block()')
    assert names(space) == ["width"]


def test_repeat_count_can_be_named():
    space = hypsearch.loads('target = sequential(repeat(intv(1, 2), relu(), name = "depth"))')
    assert names(space) == ["depth"]


def test_sampling_is_deterministic_per_seed():
    space = hypsearch.load("examples/digits_hypernet.hyp")
    assert space.sample(seed=7) == space.sample(seed=7)
    assert any(space.sample(seed=7) != space.sample(seed=s) for s in range(8, 12))


def test_concrete_programs_are_pyglove_objects():
    p = hypsearch.load("examples/quickstart.hyp").sample(seed=0)
    q = p.clone(deep=True)
    q.rebind({"target.layers[-1].out": 12})
    assert q.target.layers[-1].out == 12 and p.target.layers[-1].out == 10
    assert pg.from_json(p.to_json()) == p


def test_program_from_user_values_and_decode_agree():
    space = hypsearch.load("examples/quickstart.hyp")
    rng_assignment = space.random_assignment()
    choices = space.decode(rng_assignment)
    assert space.program(choices) == space.materialize(rng_assignment)


def test_program_from_dna_matches_the_assignment():
    space = hypsearch.load("examples/digits_hypernet.hyp")
    a = space.random_assignment()
    dna = space.to_dna(a)
    assert space.from_dna(dna) == {k: v for k, v in a.items()}
    assert space.program(dna) == space.materialize(a)
    random_dna = pg.random_dna(space.dna_spec(), random.Random(1))
    assert isinstance(space.program(random_dna), hypsearch.dsl.vocabulary.Program)


def test_program_needs_every_active_decision():
    space = hypsearch.loads("a = oneof(1, 2)\nb = intv(0, 3)")
    with pytest.raises(HypError, match="no value for the active decision `b`"):
        space.program({"a": 1})
    with pytest.raises(HypError, match="did you mean `a`"):
        space.program({"aa": 1, "b": 0})


def test_plain_hyperparameters_with_a_python_objective(tmp_path):
    (tmp_path / "obj.py").write_text("def score(p):\n    return -(p.params['lr'] - 0.01) ** 2\n")
    (tmp_path / "s.hyp").write_text('lr = floatv(1e-4, 1e-1, log = true)\nobjective = maximize(python("obj.py:score"))\n')
    space = hypsearch.load(str(tmp_path / "s.hyp"))
    p = space.sample(seed=0)
    ref = p.objective.metric.ref
    assert os.path.isabs(ref.rpartition(":")[0])
    fn = hypsearch.dsl.pyref.resolve(ref)
    assert fn(p) <= 0


def test_imported_python_file_registers_components_and_objectives(tmp_path):
    (tmp_path / "layers.py").write_text(textwrap.dedent('''
        import hypsearch

        @hypsearch.component
        def swish(beta: float = 1.0):
            """x * sigmoid(beta x)."""
            raise RuntimeError("lowering is only called by the compiler")
    '''))
    (tmp_path / "s.hyp").write_text('import "layers.py"\ntarget = sequential(linear(out = 4), swish(beta = oneof(1, 2)))\n')
    space = hypsearch.load(str(tmp_path / "s.hyp"))
    assert space.sample(seed=0).target.layers[1].beta in (1.0, 2.0)
    assert isinstance(space.sample(seed=0).target.layers[1].beta, float)


def test_hyp_file_imports_lets_and_defs(tmp_path):
    (tmp_path / "lib.hyp").write_text("let act = oneof(relu(), tanh())\ndef block(w) = sequential(linear(out = w), act)\n")
    (tmp_path / "s.hyp").write_text('import "lib.hyp"\ntarget = sequential(block(8), block(16))\n')
    space = hypsearch.load(str(tmp_path / "s.hyp"))
    assert [d.name for d in space.decisions] == ["act"]


def test_sample_printed_elsewhere_keeps_working(tmp_path):
    space = hypsearch.load("examples/nb201.hyp")
    p = space.sample(seed=3)
    out = tmp_path / "deep" / "best.hyp"
    out.parent.mkdir()
    out.write_text(hypsearch.dumps(p, path=str(out)))
    again = hypsearch.load(str(out)).sample()
    assert again == p
    fn = hypsearch.dsl.pyref.resolve(again.objective.metric.ref)
    assert 0 < fn(again)["value"] <= 100


def test_objective_registered_by_name_is_found_from_the_file(tmp_path):
    (tmp_path / "objs.py").write_text("import hypsearch\n\n@hypsearch.objective(name='neg_lr')\ndef f(p):\n    return -p.params['lr']\n")
    (tmp_path / "s.hyp").write_text('import "objs.py"\nlr = floatv(0.1, 1.0)\nobjective = minimize(python("neg_lr"))\n')
    p = hypsearch.load(str(tmp_path / "s.hyp")).sample(seed=0)
    assert hypsearch.dsl.pyref.resolve(p.objective.metric.ref)(p) == -p.params["lr"]
    (tmp_path / "t.hyp").write_text('objective = minimize(python("not_registered_xyz"))\n')
    with pytest.raises(HypError, match="no objective registered as `not_registered_xyz`"):
        hypsearch.load(str(tmp_path / "t.hyp"))


def test_a_visitor_missing_a_node_type_fails_when_it_is_defined():
    from hypsearch.dsl.tree import TreeVisitor

    with pytest.raises(TypeError, match=r"handles no .*RepeatN.* define .*visit_repeat"):
        class Partial(TreeVisitor):  # noqa: F841
            visit_const = visit_list = visit_dict = visit_component = lambda self, node: None
            visit_choice = visit_subset = visit_int = visit_float = visit_optional = lambda self, node: None


def test_a_decision_visitor_given_another_node_names_the_node_type():
    from hypsearch.dsl.tree import Const, DecisionVisitor

    class Kinds(DecisionVisitor):
        visit_choice = visit_subset = visit_int = visit_float = visit_optional = lambda self, node: node.keyword

    with pytest.raises(TypeError, match="Kinds cannot handle a Const node"):
        Kinds().visit(Const(3))


def test_every_primitive_has_an_evaluator():
    from hypsearch.dsl.semantics import PRIMITIVES, Evaluator

    assert PRIMITIVES == ("oneof", "manyof", "intv", "floatv", "optional", "repeat")
    assert all(callable(getattr(Evaluator, f"prim_{p}", None)) for p in PRIMITIVES)


def test_augment_is_a_reserved_field_the_editor_and_check_know():
    from hypsearch.lsp import features
    from hypsearch.lsp.document import Document

    text = "data = digits(image = true)\naugment = [random_crop(padding = 4), optional(flip())]\n"
    doc = Document(text)
    space, diagnostics = features.check(doc, "a.hyp")
    assert diagnostics == [] and space.sample(seed=0).params == {}
    offered = {i.label for i in features.completion(doc, 1, 11).items if i.kind == 7}  # Class
    assert offered == {"random_crop", "flip", "cutout", "noise"}
    inside_optional = {i.label for i in features.completion(doc, 1, 46).items if i.kind == 7}
    assert inside_optional == offered
    assert "augmentations of training batches" in features.hover(doc, space, 1, 2).contents.value
    assert "`augment[1]`: oneof(none, flip())" in features.hover(doc, space, 1, 40).contents.value
    fields = {i.label for i in features.completion(Document("data = digits()\n"), 1, 0).items}
    assert "augment" in fields
    bad = Document("data = digits(image = true)\naugment = [dropout(p = 0.1)]\n")
    _, [diagnostic] = features.check(bad, "a.hyp")
    assert diagnostic.range.start.line == 1 and diagnostic.range.start.character == 11
    assert "allowed: random_crop, flip, cutout, noise" in diagnostic.message
