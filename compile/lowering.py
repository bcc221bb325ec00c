"""Walks a component tree, lowering each component to a torch module with inferred shapes.

The `Lowerer` keeps one `Node` per lowered component (its readable path, kind, shapes, module) so
that the hypernetwork can select components by kind or path and `.summary()` can print them in
order. Every error raised while lowering is a `HypError` naming the component's path and, where the
parser recorded one, its `.hyp` location and source line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from torch import nn

from hypsearch.dsl.errors import HypError, Location
from hypsearch.dsl.registry import Component

from .layers import lowering_for
from .shapes import Shape, fmt


@dataclass
class Node:
    """One lowered component: where it is, what it is, its shapes and its module."""

    path: str
    kind: str
    component: Any
    module: nn.Module
    in_shape: Shape
    out_shape: Shape
    depth: int


def component_name(comp: Any) -> str:
    """The `.hyp` name of a component (`linear`), or its class name."""
    return getattr(type(comp), "__hyp_name__", "") or type(comp).__name__


def _source_line(loc: Optional[Location]) -> Optional[str]:
    if loc is None or not loc.file or not os.path.isfile(loc.file):
        return None
    try:
        with open(loc.file, encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                if i == loc.line:
                    return line
    except OSError:
        return None
    return None


def error(comp: Any, path: str, message: str) -> HypError:
    """A HypError about `comp` at `path`, carrying its `.hyp` location when the parser set one."""
    loc = getattr(comp, "_hyp_location", None)
    name = component_name(comp) if comp is not None else ""
    where = f"{path} ({name})" if name else path
    return HypError(f"{where}: {message}", location=loc, source_line=_source_line(loc))


class Lowerer:
    """Lowers components recursively, recording a `Node` for each."""

    def __init__(self) -> None:
        self.nodes: List[Node] = []
        self._depth = 0

    def error(self, comp: Any, path: str, message: str) -> HypError:
        """An error naming `comp` and its path (raise it)."""
        return error(comp, path, message)

    def lower(self, comp: Any, in_shape: Shape, path: str) -> Tuple[nn.Module, Shape]:
        """Lower one component given its per-sample input shape: (module, output shape)."""
        if not isinstance(comp, Component):
            raise error(None, path, f"expected a layer component, got {type(comp).__name__} `{comp!r}`")
        name = component_name(comp)
        kind = getattr(type(comp), "__hyp_kind__", "layer")
        fn = lowering_for(type(comp))
        if kind != "layer":
            raise error(comp, path, f"`{name}` is a {kind} component, not a layer of a network")
        if fn is None:
            raise error(comp, path, f"`{name}` has no lowering to torch: register it with @hypsearch.component "
                        "on a class or function that returns an nn.Module")
        node = Node(path, name, comp, None, tuple(in_shape), (), self._depth)  # type: ignore[arg-type]
        self.nodes.append(node)
        self._depth += 1
        try:
            module, out_shape = fn(self, comp, tuple(in_shape), path)
        finally:
            self._depth -= 1
        if hasattr(module, "path"):
            module.path = path
        node.module, node.out_shape = module, tuple(out_shape)
        return module, tuple(out_shape)

    def shape_error(self, comp: Any, path: str, expected: str, in_shape: Shape) -> HypError:
        """An error for an input of the wrong rank: what the layer expects and what it got."""
        return error(comp, path, f"expects input of shape {expected}, got {fmt(in_shape)}")
