"""Lowerings of structure: `sequential` chains layers, `residual` adds its body to its input.

`repeat(n, x)` never reaches the compiler: the language splices its copies into the enclosing
`sequential`, so a concrete program holds plain lists of layers.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..shapes import fmt
from .base import Generated, Layer, conv, default_uniform, linear, uniform_std
from .registry import lowers


class Sequential(Layer):
    """Apply the layers in order, passing the generated tensors along."""

    def __init__(self, layers) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor, gen: Optional[Generated] = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, gen)
        return x


@lowers("sequential")
def lower_sequential(lw, comp, shape, path):
    """sequential(layers): each layer lowered on the previous one's output shape."""
    modules = []
    for i, child in enumerate(comp.layers):
        module, shape = lw.lower(child, shape, f"{path}.layers[{i}]")
        modules.append(module)
    return Sequential(modules), shape


class Residual(Layer):
    """x + body(x), projecting x when the body changes its shape (linear or strided 1x1 conv)."""

    def __init__(self, body: nn.Module, projection: Optional[str], in_shape, out_shape, stride: int) -> None:
        super().__init__()
        self.body, self.projection, self.stride = body, projection, stride
        if projection == "linear":
            fan_in = in_shape[-1]
            self.add_tensor("proj_weight", default_uniform((out_shape[-1], fan_in), fan_in), uniform_std(fan_in))
        elif projection is not None:
            dims = len(in_shape) - 1
            fan_in = in_shape[0]
            self.add_tensor("proj_weight", default_uniform((out_shape[0], in_shape[0]) + (1,) * dims, fan_in),
                            uniform_std(fan_in))
            self.dims = dims

    def forward(self, x: torch.Tensor, gen: Optional[Generated] = None) -> torch.Tensor:
        y = self.body(x, gen)
        if self.projection is None:
            return x + y
        w = self.tensor("proj_weight", gen)
        if self.projection == "linear":
            return linear(x, w, None) + y
        return conv(x, w, None, self.stride, 0, 1, self.dims) + y


def projection_for(in_shape, out_shape):
    """How to map the input onto the body's output shape: (kind or None, stride), kind None if equal."""
    if in_shape == out_shape:
        return None, 1
    if len(in_shape) == len(out_shape) and in_shape[:-1] == out_shape[:-1]:
        return "linear", 1
    if len(in_shape) == len(out_shape) and len(in_shape) in (2, 3):
        sin, sout = in_shape[1:], out_shape[1:]
        stride = -(-sin[0] // sout[0])
        if all((a - 1) // stride + 1 == b for a, b in zip(sin, sout)):
            return "conv", stride
    return "impossible", 1


@lowers("residual")
def lower_residual(lw, comp, shape, path):
    """residual(body): the body, plus a projection of the input when the shapes differ."""
    body, out_shape = lw.lower(comp.body, shape, f"{path}.body")
    projection, stride = projection_for(shape, out_shape)
    if projection == "impossible":
        raise lw.error(comp, path, f"cannot add the input ({fmt(shape)}) to the body's output ({fmt(out_shape)}): "
                       "no linear or strided 1x1 projection maps one onto the other")
    return Residual(body, projection, shape, out_shape, stride), out_shape
