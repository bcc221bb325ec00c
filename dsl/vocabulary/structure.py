"""Structural components: sequences and residual connections of other components."""


from typing import Annotated, List

from ..registry import Component, builtin


@builtin("layer", varargs="layers")
class sequential(Component):
    """Apply layers in order; `repeat(...)` inside splices its copies in."""

    layers: Annotated[List[Component], "the layers, in order"] = []


@builtin("layer")
class residual(Component):
    """x + body(x), with a learned projection when the shapes differ."""

    body: Annotated[Component, "the branch added to its input"]
