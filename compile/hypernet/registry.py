"""The registries of hypernetwork parts: inputs, bodies and heads, each entry with its declarations.

A hypernetwork is assembled from one part of each family, found by its component's name
(`task_embedding`, `mlp`, `chunked`, ...). Besides the function that builds it, an entry declares
- `units` (inputs and bodies): what the body runs over when this part is chosen: `"tensors"`, one
  step per generated tensor, or `"elements"`, one per generated value (heads that emit fixed-size
  chunks declare `chunks` instead: the chunk size and chunk-embedding size of their component);
- `works_with`: the parts of other families it combines with (a family left out: any of them),
  with a `reason`, so that an incompatible choice is an error naming both parts and why;
- `per_sample` (inputs): weights differ per sample, which user components cannot take.
The generator derives its mode and every compatibility error from these declarations, so a new
part is one module here with one decorated builder (plus its component in `dsl/vocabulary/`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple, TypeVar, Union

import torch
from torch import nn

from hypsearch.dsl.registry import lookup

from ..layers.basic import activation_fn
from ..lowering import Lowerer, component_name, error
from ..shapes import Shape

# The component kind (`__hyp_kind__`) of each family.
FAMILIES = {"input": "hypernet_input", "body": "hypernet_body", "head": "hypernet_head"}
INPUT_UNITS = ("tensors", "elements")
BODY_UNITS = ("tensors",)

# (first unit, unit count, tensors) per group: the units whose chunks make up those tensors.
Groups = List[Tuple[int, int, List[int]]]


class Conditioner(Protocol):
    """What an input contributes per condition (a task, a sample): vectors N x width."""

    def condition(self, x: Optional[torch.Tensor], task: Any
                  ) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor], bool]:
        """(conditions, per-sample index into them or None, whether the weights are per sample)."""
        ...

    def calibration(self, x: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        """Conditions representative of training at init (every task, encodings of a batch)."""
        ...


class Body(Protocol):
    """Maps the body input (conditions x units x features) to hidden vectors of `out_features`."""

    out_features: int

    def __call__(self, h: torch.Tensor) -> torch.Tensor:
        ...


class Head(Protocol):
    """Maps hidden vectors (N x U x H) to one raw tensor per generated tensor, leading dim N."""

    def __call__(self, h: torch.Tensor) -> List[torch.Tensor]:
        ...

    def initialise(self, scales: Sequence[float], mean_squares: Sequence[float]) -> None:
        """Start tensor t at std scales[t] given body outputs of mean square norm mean_squares[t]."""
        ...


@dataclass
class InputContext:
    """What an input's builder may use: the hypernet, its body, the data and the generated tensors."""

    hypernet: Any  # the hypernet(...) component
    body: Any  # its body component (mlp() when none is given)
    tasks: int
    mip: bool
    in_shape: Shape  # per-sample input of the target
    shapes: List[Shape]  # the generated tensors, in target order
    lowerer: Lowerer  # for networks inside the input (a data encoder)


@dataclass
class InputParts:
    """What an input contributes: a conditioner, or unit embeddings, or per-value features."""

    conditioner: Optional[nn.Module] = None  # a `Conditioner`
    width: int = 0  # of its condition vectors
    unit_dim: int = 0  # units "tensors": size of the learned embedding of each tensor
    features: Optional[nn.Module] = None  # units "elements": U x features.out_features


@dataclass
class HeadContext:
    """What a head's builder may use: the body width, the generated shapes and the units."""

    hidden: int
    shapes: List[Shape]
    mode: str  # single | tensors | chunks | tensor_chunks | coords (see generator)
    groups: Optional[Groups] = None  # chunked modes and coords: which units make which tensors

    @property
    def per_tensor(self) -> bool:
        """Whether the body ran once per tensor (a head then keeps rows per unit)."""
        return self.mode == "tensors"

    @property
    def per_value(self) -> bool:
        """Whether each unit is one generated value (an input with units "elements")."""
        return self.mode == "coords"


class InputBuilder(Protocol):
    """Builds an input from its component: `(component, InputContext) -> InputParts`."""

    def __call__(self, comp: Any, ctx: InputContext, /) -> InputParts:
        ...


class BodyBuilder(Protocol):
    """Builds a body from its component and input width: a `Body` module."""

    def __call__(self, comp: Any, d_in: int, /) -> nn.Module:
        ...


class HeadBuilder(Protocol):
    """Builds a head from its component: a `Head` module."""

    def __call__(self, comp: Any, ctx: HeadContext, /) -> nn.Module:
        ...


@dataclass(frozen=True, kw_only=True)
class Part:
    """A registered part and what it declares (see the module docstring)."""

    family: str
    name: str
    works_with: Mapping[str, Tuple[str, ...]] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class InputPart(Part):
    build: InputBuilder
    units: Optional[str] = None
    per_sample: bool = False


@dataclass(frozen=True, kw_only=True)
class BodyPart(Part):
    build: BodyBuilder
    units: Optional[str] = None


@dataclass(frozen=True, kw_only=True)
class HeadPart(Part):
    build: HeadBuilder
    chunks: Optional[Callable[[Any], Tuple[int, int]]] = None  # component -> (size, embedding dim)


AnyPart = Union[InputPart, BodyPart, HeadPart]
INPUTS: Dict[str, InputPart] = {}
BODIES: Dict[str, BodyPart] = {}
HEADS: Dict[str, HeadPart] = {}
REGISTRIES: Dict[str, Dict[str, Any]] = {"input": INPUTS, "body": BODIES, "head": HEADS}

IB = TypeVar("IB", bound=InputBuilder)
BB = TypeVar("BB", bound=BodyBuilder)
HB = TypeVar("HB", bound=HeadBuilder)


def _register(part: AnyPart) -> None:
    registry = REGISTRIES[part.family]
    old = registry.get(part.name)
    if old is not None and _qualname(old.build) != _qualname(part.build):
        raise ValueError(f"hypernetwork {part.family} `{part.name}` is already registered ({_qualname(old.build)})")
    for other in part.works_with:
        if other not in REGISTRIES or other == part.family:
            raise ValueError(f"{part.name}: works_with names the families {', '.join(REGISTRIES)} "
                             f"other than its own, got `{other}`")
    registry[part.name] = part


def hypernet_input(name: str, *, units: Optional[str] = None, per_sample: bool = False,
                   works_with: Optional[Mapping[str, Sequence[str]]] = None, reason: str = "") -> Callable[[IB], IB]:
    """Register the decorated `(component, InputContext) -> InputParts` as the input `name`."""
    if units is not None and units not in INPUT_UNITS:
        raise ValueError(f"input {name}: units must be one of {INPUT_UNITS} or None, got {units!r}")

    def deco(fn: IB) -> IB:
        _register(InputPart(family="input", name=name, build=fn, units=units, per_sample=per_sample,
                            works_with=_tuples(works_with), reason=reason))
        return fn
    return deco


def hypernet_body(name: str, *, units: Optional[str] = None,
                  works_with: Optional[Mapping[str, Sequence[str]]] = None, reason: str = "") -> Callable[[BB], BB]:
    """Register the decorated `(component, input width) -> body module` as the body `name`."""
    if units is not None and units not in BODY_UNITS:
        raise ValueError(f"body {name}: units must be one of {BODY_UNITS} or None, got {units!r}")

    def deco(fn: BB) -> BB:
        _register(BodyPart(family="body", name=name, build=fn, units=units,
                           works_with=_tuples(works_with), reason=reason))
        return fn
    return deco


def hypernet_head(name: str, *, chunks: Optional[Callable[[Any], Tuple[int, int]]] = None,
                  works_with: Optional[Mapping[str, Sequence[str]]] = None, reason: str = "") -> Callable[[HB], HB]:
    """Register the decorated `(component, HeadContext) -> head module` as the head `name`."""
    def deco(fn: HB) -> HB:
        _register(HeadPart(family="head", name=name, build=fn, chunks=chunks,
                           works_with=_tuples(works_with), reason=reason))
        return fn
    return deco


def part_of(family: str, comp: Any) -> Any:
    """The registered part of `family` that `comp` names; a HypError listing the choices if none."""
    registry = REGISTRIES[family]
    name = component_name(comp)
    part = registry.get(name)
    if part is not None:
        return part
    path = f"hypernet.{family}"
    if getattr(type(comp), "__hyp_kind__", "") == FAMILIES[family]:
        raise error(comp, path, f"`{name}` is a hypernetwork {family} with no lowering in the compiler: "
                    f"register one with @hypernet_{family}(\"{name}\") in a module of compile/hypernet/")
    raise error(comp, path, f"{family} must be {alternatives(registry)}, got {name}()")


def check_compatible(chosen: Mapping[str, Tuple[Any, Any]]) -> None:
    """Raise when a chosen part declares that it does not work with another chosen part.

    `chosen` maps each family to (its part, its component), in the order the checks run.
    """
    for family, (part, _) in chosen.items():
        for other, allowed in part.works_with.items():
            other_part, other_comp = chosen[other]
            if other_part.name in allowed:
                continue
            choices = alternatives({n: None for n in allowed})
            need = (f"{part.reason}, so the {other} must be {choices}" if part.reason
                    else f"needs the {other} to be {choices}")
            raise error(other_comp, f"hypernet.{other}", f"a {part.name} {family} {need}, got {other_part.name}()")


def alternatives(names: Mapping[str, Any]) -> str:
    """`a(), b(...) or c()`: the names as calls, `(...)` for components that take arguments."""
    calls = [f"{n}(...)" if _has_fields(n) else f"{n}()" for n in names]
    return calls[0] if len(calls) == 1 else ", ".join(calls[:-1]) + " or " + calls[-1]


def check_positive(comp: Any, path: str, **values: Any) -> None:
    """Raise unless every value is a positive int (not a bool)."""
    for name, v in values.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise error(comp, path, f"{name} must be a positive integer, got {v!r}")


def activation(comp: Any, path: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The torch function of an activation component; a HypError listing them otherwise."""
    fn = activation_fn(comp)
    if fn is None:
        name = component_name(comp) if comp is not None else ""
        raise error(comp, path, "activation must be one of relu(), gelu(), silu(), tanh(), sigmoid(), "
                    f"leaky_relu(), identity(); got {name}()")
    return fn


def _has_fields(name: str) -> bool:
    cls = lookup(name)
    return cls is not None and bool(cls.hyp_fields())


def _tuples(works_with: Optional[Mapping[str, Sequence[str]]]) -> Dict[str, Tuple[str, ...]]:
    return {family: tuple(names) for family, names in (works_with or {}).items()}


def _qualname(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
