"""Lowerings of the parameterized hypercomplex layers `phm_linear` and `phm_conv2d`.

The weight is a sum of n Kronecker products, W = sum_i A_i (x) S_i, with n "rule" matrices A_i
(n x n) and n blocks S_i (out/n x in/n, times the kernel for convolutions), so the layer holds
about 1/n of the parameters of its real counterpart. The factors are the layer's tensors (and what
a hypernetwork generates); W is assembled with one einsum per forward. A_i is drawn with variance
1/n so that W starts at the scale of the real layer's default initialisation.
"""

from __future__ import annotations

import math
from typing import Optional

import torch

from .base import Generated, Layer, conv, default_uniform, linear, uniform_std
from .conv import conv_geometry
from .registry import lowers


class PHM(Layer):
    """Hypercomplex linear (kernel None) or 2-D convolution layer."""

    def __init__(self, cin: int, cout: int, n: int, bias: bool, kernel: Optional[int] = None,
                 stride: int = 1, pads=None) -> None:
        super().__init__()
        self.cin, self.cout, self.n, self.kernel, self.stride = cin, cout, n, kernel, stride
        ksize = () if kernel is None else (kernel, kernel)
        fan_in = cin * (kernel or 1) ** 2
        self.add_tensor("rules", torch.randn(n, n, n) / math.sqrt(n), 1 / math.sqrt(n), role="factor")
        self.add_tensor("blocks", default_uniform((n, cout // n, cin // n) + ksize, fan_in), uniform_std(fan_in),
                        role="factor")
        if bias:
            self.add_tensor("bias", default_uniform((cout,), fan_in), uniform_std(fan_in), role="bias")
        if kernel is not None:
            symmetric = all(a == b for a, b in pads)
            self.padding = tuple(a for a, _ in pads) if symmetric else 0
            self.pre_pad = None if symmetric else tuple(v for a, b in reversed(pads) for v in (a, b))

    def weight(self, gen: Optional[Generated] = None) -> torch.Tensor:
        """The assembled weight sum_i kron(A_i, S_i), per sample when the factors are."""
        a, s = self.tensor("rules", gen), self.tensor("blocks", gen)
        plain_s = 3 if self.kernel is None else 5
        lead = "z" if a.dim() == 4 or s.dim() == plain_s + 1 else ""
        if lead and a.dim() == 3:
            a = a.expand(s.shape[0], *a.shape)
        if lead and s.dim() == plain_s:
            s = s.expand(a.shape[0], *s.shape)
        k = "" if self.kernel is None else "hw"
        w = torch.einsum(f"{lead}iab,{lead}icd{k}->{lead}acbd{k}", a, s)
        shape = (self.cout, self.cin) + (() if self.kernel is None else (self.kernel, self.kernel))
        return w.reshape(*w.shape[:len(lead)], *shape)

    def forward(self, x: torch.Tensor, gen: Optional[Generated] = None) -> torch.Tensor:
        w, b = self.weight(gen), self.tensor("bias", gen)
        if self.kernel is None:
            return linear(x, w, b)
        if self.pre_pad is not None:
            x = torch.nn.functional.pad(x, self.pre_pad)
        return conv(x, w, b, self.stride, self.padding, 1, 2)


def _check_n(lw, comp, path, cin: int, cout: int) -> None:
    n = comp.n
    if cout < 1:
        raise lw.error(comp, path, f"out must be at least 1, got {cout}")
    if n < 1 or cin % n or cout % n:
        raise lw.error(comp, path, f"n = {n} must divide both the input size ({cin}) and out ({cout})")


@lowers("phm_linear")
def lower_phm_linear(lw, comp, shape, path):
    """phm_linear(out, n, bias) over the last dimension."""
    if len(shape) == 0:
        raise lw.shape_error(comp, path, "(..., features)", shape)
    _check_n(lw, comp, path, shape[-1], comp.out)
    return PHM(shape[-1], comp.out, comp.n, comp.bias), shape[:-1] + (comp.out,)


@lowers("phm_conv2d")
def lower_phm_conv2d(lw, comp, shape, path):
    """phm_conv2d(out, kernel, n, stride, padding, bias) over (C, H, W)."""
    if len(shape) != 3:
        raise lw.shape_error(comp, path, "channels x height x width", shape)
    _check_n(lw, comp, path, shape[0], comp.out)
    pads, spatial = conv_geometry(lw, comp, path, shape[1:], comp.kernel, comp.stride, comp.padding)
    module = PHM(shape[0], comp.out, comp.n, comp.bias, comp.kernel, comp.stride, pads)
    return module, (comp.out,) + spatial
