"""Every built-in component has its home (a lowering, a hypernetwork part, a loader, an optimizer,
or the part of the runner that reads it), and each registry takes a new entry from its decorator."""

from typing import Annotated

import numpy as np
import pytest
import torch

import hypsearch
from hypsearch.compile.hypernet import BODIES, HEADS, INPUTS, hypernet_head
from hypsearch.compile.hypernet.heads import FullHead
from hypsearch.compile.hypernet.registry import FAMILIES, REGISTRIES
from hypsearch.compile.layers import LOWERINGS, USER, lowering_for, lowers
from hypsearch.compile.layers.base import Stateless
from hypsearch.data import LOADERS, DataInfo, Dataset, data_loader, load_data
from hypsearch.dsl.registry import Component, components
from hypsearch.dsl.vocabulary import Program
from hypsearch.dsl.vocabulary import hypernet as H
from hypsearch.dsl.vocabulary import layers as L
from hypsearch.dsl.vocabulary import objective as O
from hypsearch.dsl.vocabulary.data import DataSet
from hypsearch.dsl.vocabulary.training import Optimizer
from hypsearch.runner.objectives import bounds_of, constraint_values
from hypsearch.runner.optimizers import OPTIMIZERS, make_optimizer, optimizer
from hypsearch.runner.settings import resolve
from hypsearch.runner.train import fit
from hypsearch.runner.trial import objective_of


def _tiny_dataset() -> Dataset:
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    return Dataset("tiny", x, y, x.copy(), y.copy(), DataInfo((3,), 2))


# ---- the home of each kind: None when the component has one, else what is missing --------------

def _lowered(name, cls):
    return None if lowering_for(cls) is not None else "has no lowering (@lowers in compile/layers/)"


def _hypernet_part(family):
    def check(name, cls):
        if name not in REGISTRIES[family]:
            return f"has no @hypernet_{family} entry in compile/hypernet/"
        return None
    return check


def _hypernet(name, cls):
    program = Program(target=L.linear(out=2), hypernet=cls(input=H.task_embedding(dim=2)))
    model = hypsearch.build(program, input_shape=(3,))
    return None if model.hypernet is not None else "is not lowered to a hypernetwork by the compiler"


def _data(name, cls):
    return None if name in LOADERS else "has no @data_loader in hypsearch/data/"


def _python(name, cls):
    if name not in LOADERS:
        return "has no @data_loader in hypsearch/data/ (python(...) is also a data set)"
    objective = objective_of(Program(objective=O.maximize(metric=cls(ref="score.py:fn"))))
    return None if objective.ref == "score.py:fn" else "is not read as a Python objective by the runner"


def _optimizer(name, cls):
    return None if name in OPTIMIZERS else "has no @optimizer entry in hypsearch/runner/optimizers.py"


def _train(name, cls):
    model = hypsearch.build(L.linear(out=2), input_shape=(3,))
    history = fit(model, _tiny_dataset(), cls(epochs=1, batch_size=4))
    return None if len(history) == 1 else "is not a recipe the runner's fit trains with"


def _augment(name, cls):
    from hypsearch.runner.augment import AUGMENTATIONS, make_augment
    if name not in AUGMENTATIONS:
        return "has no @augmentation entry in hypsearch/runner/augment.py"
    op = make_augment([cls()], (3, 8, 8))
    out = op(torch.zeros(2, 3, 8, 8), torch.Generator().manual_seed(0))
    return None if out.shape == (2, 3, 8, 8) else "does not keep the batch's shape"


def _schedule(name, cls):
    from hypsearch.runner.schedules import SCHEDULES
    if name not in SCHEDULES:
        return "has no @schedule entry in hypsearch/runner/schedules.py"
    model = hypsearch.build(L.linear(out=2), input_shape=(3,))
    history = fit(model, _tiny_dataset(), hypsearch.loads(f"train = train(epochs = 1, batch_size = 4, "
                                                           f"schedule = {name}())").sample().train)
    return None if len(history) == 1 else "is not a schedule the runner's fit trains with"


def _regime(name, cls):
    from hypsearch.dsl.vocabulary.training import train
    from hypsearch.runner.regimes import train_regime

    x = np.random.default_rng(0).standard_normal((16, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    tasks = np.repeat(np.arange(2), 8)
    data = Dataset("tiny_tasks", x, y, x.copy(), y.copy(), DataInfo((3,), 2, tasks=2), task_train=tasks,
                   task_val=tasks.copy())
    program = Program(target=L.linear(out=2), hypernet=H.hypernet(input=H.task_embedding(dim=2),
                                                                  body=H.mlp(hidden=[4])))
    model = hypsearch.build(program, input_shape=(3,), tasks=2)
    history = train_regime(model, data, train(epochs=1, batch_size=4, regime=cls()), task_input=True)
    return None if history and "cl_accuracy" in history[-1] else "is not a regime the runner trains with"


def _objective(name, cls):
    objective_of(Program(objective=cls()))  # raises for a component the runner does not score by
    return None


def _constraint(name, cls):
    bounds = bounds_of(Program(constraints=[cls(metric="params", bound=10.0)]))
    values = constraint_values(bounds, {"params": 12.0})
    return None if bounds and values is not None else "is not a constraint the runner reads"


def _search(name, cls):
    resolve(hypsearch.loads(f"search = {name}()").search_settings(), {})
    return None


HOMES = {
    "layer": _lowered,
    "hypernet": _hypernet,
    "hypernet_input": _hypernet_part("input"),
    "hypernet_body": _hypernet_part("body"),
    "hypernet_head": _hypernet_part("head"),
    "data": _data,
    "python": _python,
    "optimizer": _optimizer,
    "train": _train,
    "augment": _augment,
    "schedule": _schedule,
    "regime": _regime,
    "objective": _objective,
    "constraint": _constraint,
    "search": _search,
}

BUILTIN = sorted(n for n, c in components().items() if c.__module__.startswith("hypsearch.dsl."))


@pytest.fixture(autouse=True)
def restore_registries():
    """Entries a test registers are gone afterwards (the vocabulary's components stay: it keeps no
    removal, and the walk skips components declared outside `hypsearch.dsl`)."""
    registries = (LOWERINGS, INPUTS, BODIES, HEADS, OPTIMIZERS, LOADERS)
    saved = [dict(r) for r in registries]
    yield
    for registry, entries in zip(registries, saved):
        registry.clear()
        registry.update(entries)


def test_the_walk_sees_the_whole_builtin_vocabulary():
    kinds = {components()[n].__hyp_kind__ for n in BUILTIN}
    assert {"layer", "hypernet", "hypernet_input", "hypernet_body", "hypernet_head", "data", "optimizer",
            "train", "objective", "search"} <= kinds
    assert {"linear", "sequential", "residual", "coordinates", "chunked", "rnn", "npz", "adamw"} <= set(BUILTIN)


@pytest.mark.parametrize("name", BUILTIN)
def test_every_builtin_component_has_its_home(name):
    cls = components()[name]
    kind = cls.__hyp_kind__
    check = HOMES.get(kind)
    assert check is not None, (f"`{name}` is of kind `{kind}`, which nothing lowers, loads or reads: "
                               "give the kind a home and add it to HOMES in this test")
    try:
        problem = check(name, cls)
    except Exception as e:  # the home rejects it: report which component, and why
        problem = f"is rejected by the home of kind `{kind}`: {type(e).__name__}: {e}"
    assert problem is None, f"`{name}` ({kind}) {problem}"


def test_every_registry_entry_names_a_builtin_component_of_its_kind():
    def kind_of(name):
        cls = components().get(name)
        return cls.__hyp_kind__ if cls is not None and name in BUILTIN else None

    stale = [f"lowering `{n}`" for n in LOWERINGS if n != USER and kind_of(n) != "layer"]
    for family, registry in REGISTRIES.items():
        stale += [f"hypernet {family} `{n}`" for n in registry if kind_of(n) != FAMILIES[family]]
    stale += [f"data loader `{n}`" for n in LOADERS if kind_of(n) not in ("data", "python")]
    stale += [f"optimizer `{n}`" for n in OPTIMIZERS if kind_of(n) != "optimizer"]
    assert stale == [], f"registry entries without a built-in component of their kind: {stale}"


def test_every_part_a_declaration_names_is_registered():
    unknown = [f"{part.name} -> {family} `{n}`"
               for registry in REGISTRIES.values() for part in registry.values()
               for family, names in part.works_with.items() for n in names if n not in REGISTRIES[family]]
    assert unknown == []


# ---- compatibility errors come from the declarations -------------------------------------------

def _hyper_program(**hyper):
    hyper.setdefault("body", H.mlp(hidden=[8]))
    return Program(target=L.linear(out=2), hypernet=H.hypernet(**hyper))


def test_coordinates_input_with_a_chunked_head_names_the_head_and_the_reason():
    program = _hyper_program(input=H.coordinates(), head=H.chunked(size=4))
    with pytest.raises(hypsearch.HypError, match=r"hypernet.head \(chunked\): a coordinates input generates each "
                       r"value from its coordinates, so the head must be full\(\), got chunked\(\)"):
        hypsearch.build(program, input_shape=(3,))


def test_coordinates_input_with_an_rnn_body_names_the_body():
    program = _hyper_program(input=H.coordinates(), body=H.rnn(hidden=4))
    with pytest.raises(hypsearch.HypError, match=r"hypernet.body \(rnn\): .*so the body must be mlp\(\.\.\.\), got rnn\(\)"):
        hypsearch.build(program, input_shape=(3,))


def test_a_component_of_a_family_without_a_compiler_entry_says_how_to_register_one():
    program = _hyper_program(input=H.task_embedding(dim=2), head=test_reg_head())
    with pytest.raises(hypsearch.HypError, match=r"`test_reg_head` is a hypernetwork head with no lowering"):
        hypsearch.build(program, input_shape=(3,))


def test_a_component_of_another_family_lists_the_registered_parts():
    program = _hyper_program(input=H.task_embedding(dim=2), head=H.rnn())
    with pytest.raises(hypsearch.HypError, match=r"head must be full\(\), chunked\(\.\.\.\) or lowrank\(\.\.\.\), got rnn\(\)"):
        hypsearch.build(program, input_shape=(3,))


# ---- entries registered from a test are picked up ----------------------------------------------

@hypsearch.component(kind="hypernet_head")
class test_reg_head(Component):
    """A full head under another name, registered from this test."""


@hypsearch.component(kind="layer")
class test_reg_double(Component):
    """2 * x, lowered by this test."""


@hypsearch.component(kind="optimizer")
class test_reg_sgd(Optimizer):
    """Plain SGD, registered from this test."""

    lr: Annotated[float, "learning rate"] = 0.1


@hypsearch.component(kind="data")
class test_reg_data(DataSet):
    """Eight samples of three features, loaded by this test."""

    def info(self):
        return DataInfo((3,), 2)


def _test_head(comp, ctx):
    head = FullHead(ctx.hidden, ctx.shapes, per_unit=ctx.per_tensor)
    head.from_test = True
    return head


def test_a_head_registered_with_its_decorator_is_built():
    hypernet_head("test_reg_head")(_test_head)
    model = hypsearch.build(_hyper_program(input=H.task_embedding(dim=2), head=test_reg_head()), input_shape=(3,))
    assert getattr(model.hypernet.head, "from_test", False)
    model(torch.randn(4, 3)).sum().backward()


def test_a_heads_declared_inputs_make_the_compatibility_error():
    hypernet_head("test_reg_head", works_with={"input": ("task_embedding",)},
                  reason="is conditioned on the task alone")(_test_head)
    program = _hyper_program(input=H.layer_embedding(dim=2), head=test_reg_head())
    with pytest.raises(hypsearch.HypError, match=r"hypernet.input \(layer_embedding\): a test_reg_head head is "
                       r"conditioned on the task alone, so the input must be task_embedding\(\.\.\.\), "
                       r"got layer_embedding\(\)"):
        hypsearch.build(program, input_shape=(3,))


def test_a_layer_lowering_registered_with_its_decorator_is_used():
    lowers("test_reg_double")(lambda lw, comp, shape, path: (Stateless(lambda x: 2 * x, "double"), shape))
    model = hypsearch.build(test_reg_double(), input_shape=(3,))
    x = torch.randn(2, 3)
    assert torch.equal(model(x), 2 * x)


def test_an_optimizer_registered_with_its_decorator_is_made():
    optimizer("test_reg_sgd")(lambda comp, params, weight_decay: torch.optim.SGD(params, lr=comp.lr))
    made = make_optimizer(test_reg_sgd(lr=0.5), [torch.nn.Parameter(torch.zeros(2))])
    assert isinstance(made, torch.optim.SGD) and made.defaults["lr"] == 0.5


def test_an_unknown_optimizer_lists_the_registered_ones():
    with pytest.raises(hypsearch.HypError, match=r"`relu` is not an optimizer; use adam, adamw or sgd"):
        make_optimizer(L.relu(), [torch.nn.Parameter(torch.zeros(2))])


def test_a_data_set_registered_with_its_decorator_is_loaded():
    data_loader("test_reg_data")(lambda comp: _tiny_dataset())
    assert load_data(test_reg_data()).name == "tiny"
