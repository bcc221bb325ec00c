"""The registry of target-layer lowerings: built-in component name -> lowering function.

A lowering turns one concrete component into a torch module, given the per-sample shape it
receives: `fn(lw, component, in_shape, path) -> (module, out_shape)`, where `lw` is the `Lowerer`
(it lowers children and makes errors that name the component). `Lowering` states that contract.
Each module of this package registers its lowerings with `@lowers("name")`, and the package
imports all of its modules, so a new built-in layer is one new module here (plus its declaration
in `dsl/vocabulary/`). User components carry their own lowering and share the `USER` entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Protocol, Tuple, TypeVar

from torch import nn

from ..shapes import Shape

if TYPE_CHECKING:  # the Lowerer imports this package: a runtime import would be circular
    from ..lowering import Lowerer

# The entry for components registered with `@hypsearch.component` (they bring their own lowering).
USER = "<user>"


class Lowering(Protocol):
    """Lowers one component: `(lowerer, component, in_shape, path) -> (module, out_shape)`."""

    def __call__(self, lw: "Lowerer", comp: Any, in_shape: Shape, path: str, /) -> Tuple[nn.Module, Shape]:
        ...


L = TypeVar("L", bound=Lowering)

LOWERINGS: Dict[str, Lowering] = {}


def lowers(*names: str) -> Callable[[L], L]:
    """Register the decorated function as the lowering of the components `names`."""
    def deco(fn: L) -> L:
        for name in names:
            old = LOWERINGS.get(name)
            if old is not None and _qualname(old) != _qualname(fn):
                # Two modules claiming one name would make the lowering depend on import order.
                raise ValueError(f"`{name}` already has a lowering ({_qualname(old)})")
            LOWERINGS[name] = fn
        return fn
    return deco


def lowering_for(component_type: type) -> Optional[Lowering]:
    """The lowering of a component class (user components: the `USER` entry), or None."""
    if getattr(component_type, "__hyp_lowering__", None) is not None:
        return LOWERINGS.get(USER)
    return LOWERINGS.get(getattr(component_type, "__hyp_name__", "") or component_type.__name__)


def _qualname(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
