"""Lowerings of convolutions and pooling over (channels, length) and (channels, height, width)."""

from __future__ import annotations

import functools
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F

from ..shapes import conv_out, fmt, padding_pairs
from .base import Generated, Layer, Stateless, conv, default_uniform, uniform_std
from .registry import lowers


def check_padding(lw, comp, path, padding) -> None:
    """Raise unless padding is a non-negative int, "same" or "valid"."""
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise lw.error(comp, path, f"padding must be an int, \"same\" or \"valid\", got \"{padding}\"")
    elif isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise lw.error(comp, path, f"padding must be a non-negative int, \"same\" or \"valid\", got {padding!r}")


def conv_geometry(lw, comp, path, spatial, kernel, stride, padding) -> Tuple[list, tuple]:
    """(padding pairs, output spatial sizes) of a convolution, raising on a window that does not fit."""
    if kernel < 1 or stride < 1:
        raise lw.error(comp, path, f"kernel and stride must be at least 1, got kernel {kernel}, stride {stride}")
    check_padding(lw, comp, path, padding)
    pads = padding_pairs(padding, spatial, kernel, stride)
    out = tuple(conv_out(s, kernel, stride, a + b) for s, (a, b) in zip(spatial, pads))
    if any(o < 1 for o in out):
        raise lw.error(comp, path, f"kernel {kernel} does not fit the input {fmt(spatial)} "
                       f"(padding {padding}, stride {stride})")
    return pads, out


class Conv(Layer):
    """1-D or 2-D convolution whose weight and bias may be generated (also per sample)."""

    def __init__(self, dims: int, cin: int, cout: int, kernel: int, stride: int, pads: List[Tuple[int, int]],
                 groups: int, bias: bool) -> None:
        super().__init__()
        self.dims, self.stride, self.groups, self.has_bias = dims, stride, groups, bias
        symmetric = all(a == b for a, b in pads)
        self.padding = tuple(a for a, _ in pads) if symmetric else 0
        # F.pad takes the last dimension first.
        self.pre_pad = None if symmetric else tuple(v for a, b in reversed(pads) for v in (a, b))
        fan_in = (cin // groups) * kernel ** dims
        std = uniform_std(fan_in)
        self.add_tensor("weight", default_uniform((cout, cin // groups) + (kernel,) * dims, fan_in), std)
        if bias:
            self.add_tensor("bias", default_uniform((cout,), fan_in), std, role="bias")

    def forward(self, x: torch.Tensor, gen: Optional[Generated] = None) -> torch.Tensor:
        if self.pre_pad is not None:
            x = F.pad(x, self.pre_pad)
        return conv(x, self.tensor("weight", gen), self.tensor("bias", gen), self.stride, self.padding,
                    self.groups, self.dims)


@lowers("conv1d", "conv2d")
def lower_conv(lw, comp, shape, path):
    """conv1d / conv2d(out, kernel, stride, padding, groups, bias)."""
    dims = 1 if type(comp).__hyp_name__ == "conv1d" else 2
    if len(shape) != dims + 1:
        raise lw.shape_error(comp, path, "channels x length" if dims == 1 else "channels x height x width", shape)
    cin = shape[0]
    if comp.out < 1:
        raise lw.error(comp, path, f"out must be at least 1, got {comp.out}")
    if comp.groups < 1 or cin % comp.groups or comp.out % comp.groups:
        raise lw.error(comp, path, f"groups = {comp.groups} must divide both the input channels ({cin}) "
                       f"and out ({comp.out})")
    pads, spatial = conv_geometry(lw, comp, path, shape[1:], comp.kernel, comp.stride, comp.padding)
    module = Conv(dims, cin, comp.out, comp.kernel, comp.stride, pads, comp.groups, comp.bias)
    return module, (comp.out,) + spatial


@lowers("maxpool", "avgpool")
def lower_pool(lw, comp, shape, path):
    """maxpool / avgpool(kernel): window and stride `kernel` over the spatial dimensions."""
    name = type(comp).__hyp_name__
    if len(shape) not in (2, 3):
        raise lw.shape_error(comp, path, "channels x length or channels x height x width", shape)
    k = comp.kernel
    if k < 1 or any(s < k for s in shape[1:]):
        raise lw.error(comp, path, f"kernel {k} does not fit the input {fmt(shape)}")
    dims = len(shape) - 1
    fn = {("maxpool", 1): F.max_pool1d, ("maxpool", 2): F.max_pool2d,
          ("avgpool", 1): F.avg_pool1d, ("avgpool", 2): F.avg_pool2d}[(name, dims)]
    return Stateless(functools.partial(fn, kernel_size=k), f"{name}({k})"), (shape[0],) + tuple(s // k for s in shape[1:])


def _global_mean(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(2).mean(-1)


@lowers("global_avgpool")
def lower_global_avgpool(lw, comp, shape, path):
    """global_avgpool(): (C, ...) -> (C,)."""
    if len(shape) < 2:
        raise lw.shape_error(comp, path, "channels x positions (at least 2 dimensions)", shape)
    return Stateless(_global_mean, "global_avgpool"), (shape[0],)
