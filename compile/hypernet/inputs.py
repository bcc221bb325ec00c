"""What conditions the generator: task embeddings, sample encodings, per-unit embeddings, coordinates.

The generator runs its body once per *unit* (the whole target, one tensor, one chunk, or one weight
element) and per *condition* (a task or a sample). A conditioner gives the condition vectors
(N x d); unit inputs give the per-unit vectors (U x d'); the body sees their concatenation. Under
MIP learned embeddings are normalised and numeric inputs are encoded on the unit circle.

The four built-in inputs are registered at the end with what each declares (see `registry`).
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import torch
from torch import nn

from hypsearch.dsl.errors import HypError
from hypsearch.dsl.vocabulary import layers as vocab
from hypsearch.dsl.vocabulary import structure

from ..lowering import error
from ..shapes import numel
from .mip import encode_unit_interval, normalise
from .registry import InputContext, InputParts, activation, check_positive, hypernet_input


class TaskConditioner(nn.Module):
    """One learned embedding per task; the task id comes with the forward."""

    def __init__(self, tasks: int, dim: int, mip: bool) -> None:
        super().__init__()
        self.tasks, self.mip = tasks, mip
        self.embedding = nn.Embedding(tasks, dim)
        self.dim = dim

    def forward(self, task, batch: int) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """(condition vectors N x dim, per-sample index into them or None when one task serves all)."""
        table = self.embedding.weight
        if task is None:
            if self.tasks > 1:
                raise HypError(f"this model's hypernetwork is conditioned on the task ({self.tasks} tasks): "
                               "call model(x, task=i)")
            task = 0
        if isinstance(task, torch.Tensor) and task.dim() == 0:
            task = int(task)
        if isinstance(task, int):
            if not 0 <= task < self.tasks:
                raise HypError(f"task {task} is out of range: the program's data has {self.tasks} task(s)")
            z, inverse = table[task:task + 1], None
        else:
            task = task.to(table.device).long().reshape(-1)
            if task.numel() != batch:
                raise HypError(f"task ids: expected one per sample ({batch}), got {task.numel()}")
            if bool((task == task[0]).all()):
                z, inverse = table[task[0]].unsqueeze(0), None
            else:
                ids, inverse = torch.unique(task, return_inverse=True)
                z = table.index_select(0, ids)
        return (normalise(z) if self.mip else z), inverse

    def condition(self, x: Optional[torch.Tensor], task) -> Tuple[torch.Tensor, Optional[torch.Tensor], bool]:
        """(task embeddings, per-sample index or None, per sample: whether the batch mixes tasks)."""
        z, inverse = self(task, 1 if x is None else x.shape[0])
        return z, inverse, inverse is not None

    def calibration(self, x: Optional[torch.Tensor]) -> torch.Tensor:
        """Every task's embedding."""
        z = self.embedding.weight
        return normalise(z) if self.mip else z


class DataConditioner(nn.Module):
    """Encodes each sample (an encoder lowered like a target network, flattened)."""

    def __init__(self, encoder: nn.Module, mip: bool) -> None:
        super().__init__()
        self.encoder, self.mip = encoder, mip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encoder(x).flatten(1)
        return normalise(z) if self.mip else z

    def condition(self, x: Optional[torch.Tensor], task) -> Tuple[torch.Tensor, None, bool]:
        """(one encoding per sample, no index, per sample)."""
        if x is None:
            raise error(None, "hypernet.input", "data_conditioned generation needs the input batch")
        return self(x), None, True

    def calibration(self, x: Optional[torch.Tensor]) -> torch.Tensor:
        """Encodings of a representative batch."""
        return self(x)


class UnitTable(nn.Module):
    """Learned embeddings of the units (layer, chunk or step embeddings); `index` picks rows."""

    def __init__(self, count: int, dim: int, mip: bool) -> None:
        super().__init__()
        self.embedding = nn.Embedding(count, dim)
        self.mip = mip

    def forward(self, index: Optional[torch.Tensor] = None) -> torch.Tensor:
        z = self.embedding.weight if index is None else self.embedding.weight.index_select(0, index)
        return normalise(z) if self.mip else z


def unravel_coordinates(shape: Sequence[int], tensor_pos: float) -> torch.Tensor:
    """(numel x 4) coordinates in [0, 1] of each element: tensor, row, column, rest (kernel)."""
    dims = list(shape) + [1] * max(0, 2 - len(shape))
    rows, cols, rest = dims[0], dims[1], int(math.prod(dims[2:]))
    idx = torch.arange(rows * cols * rest)
    parts = [torch.full_like(idx, 0, dtype=torch.float32) + tensor_pos,
             (idx // (cols * rest)).float() / max(rows - 1, 1),
             ((idx // rest) % cols).float() / max(cols - 1, 1),
             (idx % rest).float() / max(rest - 1, 1)]
    return torch.stack(parts, dim=1)


class CoordinateFeatures(nn.Module):
    """Fourier features of every generated element's coordinates, lifted by a learned layer."""

    def __init__(self, shapes: List[Tuple[int, ...]], hidden: int, frequencies: int, activation, mip: bool) -> None:
        super().__init__()
        self.shapes, self.frequencies, self.mip, self.activation = shapes, frequencies, mip, activation
        n = len(shapes)
        coords = torch.cat([unravel_coordinates(s, i / max(n - 1, 1)) for i, s in enumerate(shapes)])
        # Coordinates are fixed: recomputed from the shapes when the model is rebuilt, not saved.
        self.register_buffer("coords", coords, persistent=False)
        self.lift = nn.Linear(self.features(), hidden)
        self.out_features = hidden

    def features(self) -> int:
        """Width of the encoded coordinates."""
        return 4 * 2 * self.frequencies if self.mip else 4 + 4 * 2 * self.frequencies

    def forward(self) -> torch.Tensor:
        c = self.coords
        scaled = [c * (2.0 ** f) for f in range(self.frequencies)]
        if self.mip:  # unit-circle encodings at doubling frequencies; f = 0 is the MIP encoding
            enc = torch.cat([encode_unit_interval(s) for s in scaled], dim=-1)
        else:
            enc = torch.cat([c] + [torch.cat([torch.sin(math.pi * s), torch.cos(math.pi * s)], -1)
                                   for s in scaled], dim=-1)
        return self.activation(self.lift(enc))


# ---- registered inputs -------------------------------------------------------------------------

@hypernet_input("task_embedding")
def task_embedding(comp, ctx: InputContext) -> InputParts:
    """task_embedding(dim): one learned embedding per task conditions the whole target."""
    check_positive(comp, "hypernet.input", dim=comp.dim)
    return InputParts(conditioner=TaskConditioner(ctx.tasks, comp.dim, ctx.mip), width=comp.dim)


@hypernet_input("layer_embedding", units="tensors")
def layer_embedding(comp, ctx: InputContext) -> InputParts:
    """layer_embedding(dim): one learned embedding per generated tensor, one generator for all."""
    check_positive(comp, "hypernet.input", dim=comp.dim)
    return InputParts(unit_dim=comp.dim)


@hypernet_input("data_conditioned", per_sample=True)
def data_conditioned(comp, ctx: InputContext) -> InputParts:
    """data_conditioned(encoder, dim): each sample's encoding (default: flatten, linear to dim)."""
    if comp.encoder is None:
        check_positive(comp, "hypernet.input", dim=comp.dim)
        enc = structure.sequential(layers=[vocab.flatten(), vocab.linear(out=comp.dim)])
    else:
        enc = comp.encoder
    module, out_shape = ctx.lowerer.lower(enc, ctx.in_shape, "hypernet.input.encoder")
    return InputParts(conditioner=DataConditioner(module, ctx.mip), width=numel(out_shape))


@hypernet_input("coordinates", units="elements", works_with={"head": ("full",), "body": ("mlp",)},
                reason="generates each value from its coordinates")
def coordinates(comp, ctx: InputContext) -> InputParts:
    """coordinates(hidden, frequencies): Fourier features of each value's coordinates, lifted with
    the body's activation."""
    check_positive(comp, "hypernet.input", hidden=comp.hidden, frequencies=comp.frequencies)
    act = activation(ctx.body.activation, "hypernet.body.activation")
    return InputParts(features=CoordinateFeatures(ctx.shapes, comp.hidden, comp.frequencies, act, ctx.mip))
