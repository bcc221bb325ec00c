"""Output heads: from the body's hidden vectors (N x U x H) to one raw tensor per generated tensor.

- `FullHead`: a linear map per generated tensor (one wide linear when the body runs once, one per
  tensor when the units are tensors): a head of width H over P target parameters holds H*P weights.
- `LowRankHead`: per tensor, factors U (rows x r) and V (r x rest) whose product is the weight;
  1-D tensors are emitted directly.
- `ChunkedHead`: one shared linear emits a fixed-size chunk per unit (units indexed by learned chunk
  embeddings); the chunks of a group are concatenated and the last one is cut to the group's size.
  Its per-tensor output scales are buffers, since a shared head has no per-tensor rows to scale.
Each head has `initialise(scales, mean_squares)`, called once at build with the intended initial
std of each tensor and the mean square norm of the body outputs it is generated from.
The built-in heads `full`, `chunked` and `lowrank` are registered at the end (see `registry`).
"""

from __future__ import annotations

import math
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..shapes import Shape
from .registry import HeadContext, check_positive, hypernet_head


def _numel(shape: Shape) -> int:
    return int(math.prod(shape))


class _RowHead(nn.Module):
    """Per-tensor output rows, either in one wide linear (single unit) or one linear per tensor.

    Rows are drawn once, per tensor, at the scale `initialise` asks for (no default init first:
    for a full head the weight matrix is the bulk of the build time).
    """

    def __init__(self, hidden: int, sizes: Sequence[int], per_unit: bool) -> None:
        super().__init__()
        self.sizes, self.per_unit = list(sizes), per_unit
        if per_unit:
            self.weights = nn.ParameterList(nn.Parameter(torch.empty(s, hidden)) for s in sizes)
            self.biases = nn.ParameterList(nn.Parameter(torch.zeros(s)) for s in sizes)
        else:
            self.weight = nn.Parameter(torch.empty(sum(sizes), hidden))
            self.bias = nn.Parameter(torch.zeros(sum(sizes)))
            self.offsets = [0]
            for s in sizes:
                self.offsets.append(self.offsets[-1] + s)

    def outputs(self, h: torch.Tensor) -> List[torch.Tensor]:
        """One (N, size_t) output per tensor."""
        if self.per_unit:
            return [F.linear(h[:, t], w, b) for t, (w, b) in enumerate(zip(self.weights, self.biases))]
        return list(F.linear(h[:, 0], self.weight, self.bias).split(self.sizes, dim=1))

    @torch.no_grad()
    def draw_rows(self, t: int, std: float) -> None:
        """Draw the rows of tensor t's outputs with standard deviation std."""
        w, base = (self.weights[t], 0) if self.per_unit else (self.weight, self.offsets[t])
        # uniform: cheaper to draw than normal for the millions of rows of a wide full head
        bound = std * math.sqrt(3.0)
        w[base:base + self.sizes[t]].uniform_(-bound, bound)


class FullHead(_RowHead):
    """Every element of every generated tensor is an output of a linear map."""

    def __init__(self, hidden: int, shapes: Sequence[Shape], per_unit: bool) -> None:
        super().__init__(hidden, [_numel(s) for s in shapes], per_unit)
        self.shapes = list(shapes)

    def forward(self, h: torch.Tensor) -> List[torch.Tensor]:
        n = h.shape[0]
        return [o.reshape(n, *s) for o, s in zip(self.outputs(h), self.shapes)]

    def initialise(self, scales: Sequence[float], mean_squares: Sequence[float]) -> None:
        """Tensor t starts with std scales[t] given body outputs of mean square norm mean_squares[t]."""
        for t, (scale, ms) in enumerate(zip(scales, mean_squares)):
            self.draw_rows(t, scale / math.sqrt(ms))


def _factor_split(shape: Shape):
    """(rows, rest) of a weight generated as U @ V, or None for a 1-D tensor emitted directly."""
    if len(shape) < 2:
        return None
    return shape[0], _numel(shape[1:])


class LowRankHead(_RowHead):
    """Weights as products of rank-r factors; 1-D tensors directly."""

    def __init__(self, hidden: int, shapes: Sequence[Shape], rank: int, per_unit: bool) -> None:
        self.rank = rank
        splits = [_factor_split(s) for s in shapes]
        sizes = [_numel(s) if sp is None else rank * (sp[0] + sp[1]) for s, sp in zip(shapes, splits)]
        super().__init__(hidden, sizes, per_unit)
        self.shapes, self.splits = list(shapes), splits

    def forward(self, h: torch.Tensor) -> List[torch.Tensor]:
        n, r = h.shape[0], self.rank
        out = []
        for o, s, sp in zip(self.outputs(h), self.shapes, self.splits):
            if sp is None:
                out.append(o.reshape(n, *s))
            else:
                rows, rest = sp
                u, v = o[:, :rows * r].reshape(n, rows, r), o[:, rows * r:].reshape(n, r, rest)
                out.append(torch.bmm(u, v).reshape(n, *s))
        return out

    def initialise(self, scales: Sequence[float], mean_squares: Sequence[float]) -> None:
        """As FullHead; a product of r terms u*v has variance r var(u) var(v), so each factor gets
        std sqrt(scale / sqrt(r))."""
        for t, (scale, ms) in enumerate(zip(scales, mean_squares)):
            if self.splits[t] is None:
                self.draw_rows(t, scale / math.sqrt(ms))
            else:
                self.draw_rows(t, math.sqrt(scale / math.sqrt(self.rank)) / math.sqrt(ms))


class ChunkedHead(nn.Module):
    """A shared linear emitting `size` values per unit; groups of units are cut to their tensors."""

    def __init__(self, hidden: int, size: int, shapes: Sequence[Shape],
                 groups: Sequence[Tuple[int, int, List[int]]]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(size, hidden))
        self.bias = nn.Parameter(torch.zeros(size))
        self.size, self.shapes = size, list(shapes)
        self.groups = [(u0, nu, list(ts)) for u0, nu, ts in groups]
        self.register_buffer("scale", torch.ones(len(shapes)))

    def forward(self, h: torch.Tensor) -> List[torch.Tensor]:
        n = h.shape[0]
        chunks = F.linear(h, self.weight, self.bias)  # (N, U, size)
        out: List[torch.Tensor] = [None] * len(self.shapes)  # type: ignore[list-item]
        for u0, nu, tensors in self.groups:
            sizes = [_numel(self.shapes[t]) for t in tensors]
            flat = chunks[:, u0:u0 + nu].reshape(n, nu * self.size)[:, :sum(sizes)]
            for t, piece in zip(tensors, flat.split(sizes, dim=1)):
                out[t] = piece.reshape(n, *self.shapes[t]) * self.scale[t]
        return out

    @torch.no_grad()
    def initialise(self, scales: Sequence[float], mean_squares: Sequence[float]) -> None:
        """The shared linear starts with unit output std; fixed per-tensor scales do the rest."""
        ms = sum(mean_squares) / max(len(mean_squares), 1)
        self.weight.normal_(0.0, 1.0 / math.sqrt(ms))
        self.scale.copy_(torch.tensor(list(scales), dtype=self.scale.dtype))


# ---- registered heads --------------------------------------------------------------------------

@hypernet_head("full")
def full(comp, ctx: HeadContext) -> nn.Module:
    """full(): a linear map onto every generated value; over per-value units, one output each."""
    if ctx.per_value:
        return ChunkedHead(ctx.hidden, 1, ctx.shapes, ctx.groups or [])
    return FullHead(ctx.hidden, ctx.shapes, per_unit=ctx.per_tensor)


def _chunking(comp) -> Tuple[int, int]:
    check_positive(comp, "hypernet.head", size=comp.size, dim=comp.dim)
    return comp.size, comp.dim


@hypernet_head("chunked", chunks=_chunking)
def chunked(comp, ctx: HeadContext) -> nn.Module:
    """chunked(size, dim): one shared linear emitting `size` values per chunk embedding."""
    return ChunkedHead(ctx.hidden, comp.size, ctx.shapes, ctx.groups or [])


@hypernet_head("lowrank")
def lowrank(comp, ctx: HeadContext) -> nn.Module:
    """lowrank(rank): rank-r factors per weight."""
    check_positive(comp, "hypernet.head", rank=comp.rank)
    return LowRankHead(ctx.hidden, ctx.shapes, comp.rank, per_unit=ctx.per_tensor)
