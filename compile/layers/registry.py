"""The table from built-in component names to their lowering functions.

A lowering is `fn(lw, component, in_shape, path) -> (module, out_shape)`; `lw` is the `Lowerer`
(it lowers children and raises errors that name the component). Each family module registers its
lowerings with `@lowers("name")`; adding a built-in layer needs one function and one decorator.
"""

from __future__ import annotations

from typing import Callable, Dict

LOWERINGS: Dict[str, Callable] = {}


def lowers(*names: str):
    """Register the decorated function as the lowering of the components `names`."""
    def deco(fn: Callable) -> Callable:
        for name in names:
            LOWERINGS[name] = fn
        return fn
    return deco
