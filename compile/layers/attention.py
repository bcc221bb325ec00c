"""Lowering of `attention`: a pre-norm multi-head self-attention block with a residual connection.

Input and output are (tokens, width). When `dim` differs from the input width a linear projection
maps the tokens to `dim` first. Every tensor (projection, norm, qkv, output) can be generated; the
attention itself is `F.scaled_dot_product_attention`.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .base import Generated, Layer, affine, default_uniform, is_batched, linear, uniform_std
from .registry import lowers


class Attention(Layer):
    """x + out(attend(qkv(layernorm(x)))) over a sequence of tokens."""

    def __init__(self, d_in: int, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.dim, self.heads, self.dropout, self.project = dim, heads, dropout, d_in != dim
        if self.project:
            self._linear("proj", dim, d_in)
        self.add_tensor("norm_weight", torch.ones(dim), 0.1, mean=1.0, role="scale")
        self.add_tensor("norm_bias", torch.zeros(dim), 0.1, role="shift")
        self._linear("qkv", 3 * dim, dim)
        self._linear("out", dim, dim)

    def _linear(self, name: str, out: int, fan_in: int) -> None:
        std = uniform_std(fan_in)
        self.add_tensor(f"{name}_weight", default_uniform((out, fan_in), fan_in), std)
        self.add_tensor(f"{name}_bias", default_uniform((out,), fan_in), std, role="bias")

    def forward(self, x: torch.Tensor, gen: Optional[Generated] = None) -> torch.Tensor:
        t = lambda name: self.tensor(name, gen)  # noqa: E731
        if self.project:
            x = linear(x, t("proj_weight"), t("proj_bias"))
        w, b = t("norm_weight"), t("norm_bias")
        if is_batched(w, 1) or is_batched(b, 1):
            h = affine(F.layer_norm(x, (self.dim,)), w, b, 2)
        else:
            h = F.layer_norm(x, (self.dim,), w, b)
        n, tokens, _ = h.shape
        qkv = linear(h, t("qkv_weight"), t("qkv_bias")).reshape(n, tokens, 3, self.heads, self.dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        a = a.transpose(1, 2).reshape(n, tokens, self.dim)
        return x + linear(a, t("out_weight"), t("out_bias"))


@lowers("attention")
def lower_attention(lw, comp, shape, path):
    """attention(heads, dim, dropout) over (tokens, width) -> (tokens, dim)."""
    if len(shape) != 2:
        raise lw.shape_error(comp, path, "tokens x width (a sequence)", shape)
    dim = shape[1] if comp.dim is None else comp.dim
    if dim < 1:
        raise lw.error(comp, path, f"dim must be at least 1, got {dim}")
    if comp.heads < 1 or dim % comp.heads:
        raise lw.error(comp, path, f"heads = {comp.heads} must divide the width {dim}")
    if not 0.0 <= comp.dropout < 1.0:
        raise lw.error(comp, path, f"dropout must be in [0, 1), got {comp.dropout}")
    return Attention(shape[1], dim, comp.heads, float(comp.dropout)), (shape[0], dim)
