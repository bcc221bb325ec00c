"""The hypernetwork: generates the selected target tensors for one forward.

Lowering a `hypernet(...)` component takes the selected tensors over from the target layers (their
ordinary parameters disappear; under MIP their initial values become theta0) and assembles the
generator from its parts, one registered input, body and head (see `registry`): a conditioner
(task or sample), unit inputs, a body and a head. The body runs once per condition and per unit;
the units (the mode) follow from what the chosen parts declare:
- `single`: the whole target at once (no part declares units: task or data input, mlp body, full
  or lowrank head),
- `tensors`: one unit per generated tensor (an input or a body with units "tensors": layer
  embeddings, or an rnn body stepping over tensors),
- `chunks`: fixed-size chunks of all generated values (a head that declares chunks),
- `tensor_chunks`: chunks of each tensor, indexed by layer and chunk embeddings (an input with
  units "tensors" and a chunked head: one generator shared across the tensors),
- `coords`: every generated element (an input with units "elements": coordinates).
`forward(x, task)` returns a `Generated` mapping tensor keys to tensors, per sample when the
conditions differ across the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from hypsearch.dsl.vocabulary import hypernet as hyper_vocab

from ..layers.base import Generated, TensorSpec
from ..lowering import Lowerer, Node, component_name, error
from ..shapes import Shape, numel
from .inputs import UnitTable
from .mip import initial_scale
from .registry import (BodyPart, HeadContext, HeadPart, InputContext, InputPart, InputParts, check_compatible,
                       part_of)
from .select import select

STEP_DIM = 8  # size of the learned step embeddings an rnn body gets when the input has none


@dataclass
class Target:
    """One generated tensor: its key in `Generated.params`, its layer's spec, its node."""

    key: str
    spec: TensorSpec
    node: Node


class Units(nn.Module):
    """The per-unit inputs: concatenated learned tables (rows picked by index buffers) or features."""

    def __init__(self, parts: Sequence[Tuple[nn.Module, Optional[torch.Tensor]]]) -> None:
        super().__init__()
        self.parts = nn.ModuleList(p for p, _ in parts)
        for i, (_, index) in enumerate(parts):
            self.register_buffer(f"index{i}", index, persistent=False)

    def forward(self) -> torch.Tensor:
        outs = [part(getattr(self, f"index{i}")) if isinstance(part, UnitTable) else part()
                for i, part in enumerate(self.parts)]
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)


class Hypernet(nn.Module):
    """Conditioner + units + body + head; generates the selected target tensors."""

    def __init__(self, targets: List[Target], conditioner: Optional[nn.Module], units: Optional[Units],
                 body: nn.Module, head: nn.Module, mip: bool, mode: str, base: List[nn.Parameter]) -> None:
        super().__init__()
        self.targets, self.mip, self.mode = targets, mip, mode
        self.keys = [t.key for t in targets]
        self.means = [t.spec.mean for t in targets]
        self.conditioner, self.units, self.body, self.head = conditioner, units, body, head
        # theta0 under MIP: the taken parameters themselves, so initialised as the target's own init.
        self.base = nn.ParameterList(base) if mip else None

    def _condition(self, x: Optional[torch.Tensor], task) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor], bool]:
        if self.conditioner is None:
            return None, None, False
        return self.conditioner.condition(x, task)

    def _body_input(self, z: Optional[torch.Tensor]) -> torch.Tensor:
        u = self.units() if self.units is not None else None
        if z is None:
            return u.unsqueeze(0)
        if u is None:
            return z.unsqueeze(1)
        n, count = z.shape[0], u.shape[0]
        return torch.cat([z.unsqueeze(1).expand(n, count, z.shape[1]),
                          u.unsqueeze(0).expand(n, count, u.shape[1])], dim=-1)

    def _raw(self, z: Optional[torch.Tensor]) -> List[torch.Tensor]:
        return self.head(self.body(self._body_input(z)))

    def deltas(self, x: Optional[torch.Tensor] = None, task=None) -> Dict[str, torch.Tensor]:
        """The head's outputs before theta0 (or the mean) is added: delta under MIP. Leading dim N."""
        z, _, _ = self._condition(x, task)
        return dict(zip(self.keys, self._raw(z)))

    def generate(self, z: Optional[torch.Tensor]) -> Dict[str, torch.Tensor]:
        """The generated tensors (theta0 or the mean added) for the conditions z, leading dim N: one
        batched call for N conditions (an ensemble's members, earlier tasks' embeddings)."""
        params: Dict[str, torch.Tensor] = {}
        for i, (key, raw) in enumerate(zip(self.keys, self._raw(z))):
            if self.mip:
                params[key] = raw + self.base[i]
            else:
                params[key] = raw + self.means[i] if self.means[i] else raw
        return params

    def forward(self, x: Optional[torch.Tensor] = None, task=None) -> Generated:
        z, inverse, batched = self._condition(x, task)
        params: Dict[str, torch.Tensor] = {}
        for key, t in self.generate(z).items():
            if inverse is not None:
                t = t.index_select(0, inverse)
            elif not batched:
                t = t[0]
            params[key] = t
        return Generated(params, batched)

    @torch.no_grad()
    def calibrate(self, z: Optional[torch.Tensor]) -> None:
        """Initialise the head so that each tensor's raw output starts at its intended scale, from
        the body's outputs on representative conditions (one cheap body pass, no head pass)."""
        h = self.body(self._body_input(z))
        per_unit = h.pow(2).sum(-1).mean(0).clamp_min(1e-12)  # mean square norm per unit
        if self.mode == "tensors":
            mean_squares = [float(v) for v in per_unit]
        else:
            mean_squares = [float(per_unit.mean())] * len(self.targets)
        scales = [initial_scale(t.spec.std, self.mip) for t in self.targets]
        self.head.initialise(scales, mean_squares)

    def generated_count(self) -> int:
        """Number of target parameter values this hypernetwork generates."""
        return sum(numel(t.spec.shape) for t in self.targets)


# ---- lowering of the hypernet component --------------------------------------------------------

def _kind(comp) -> str:
    return component_name(comp) if comp is not None else ""


def _mode(inp: InputPart, body: BodyPart, head: HeadPart) -> str:
    """The units the body runs over, from what the chosen parts declare (see the module docstring)."""
    if inp.units == "elements":
        return "coords"
    if head.chunks is not None:
        return "tensor_chunks" if inp.units == "tensors" else "chunks"
    if "tensors" in (inp.units, body.units):
        return "tensors"
    return "single"


def _units(mode: str, inp: InputPart, given: InputParts, head: HeadPart, head_comp, targets: List[Target],
           mip: bool):
    """(Units module or None, unit width, chunk groups for the head)."""
    n = len(targets)
    sizes = [numel(t.spec.shape) for t in targets]
    if mode == "single":
        return None, 0, None
    if mode == "tensors":
        dim = given.unit_dim if inp.units == "tensors" else STEP_DIM
        return Units([(UnitTable(n, dim, mip), torch.arange(n))]), dim, None
    if mode == "coords":
        features = given.features
        return Units([(features, None)]), features.out_features, [(0, sum(sizes), list(range(n)))]
    size, chunk_dim = head.chunks(head_comp)
    if mode == "chunks":
        count = -(-sum(sizes) // size)
        return (Units([(UnitTable(count, chunk_dim, mip), torch.arange(count))]), chunk_dim,
                [(0, count, list(range(n)))])
    # tensor_chunks: chunk k of tensor t is generated from [layer embedding t, chunk embedding k].
    per_tensor = [-(-s // size) for s in sizes]
    t_index = torch.cat([torch.full((k,), t, dtype=torch.long) for t, k in enumerate(per_tensor)])
    k_index = torch.cat([torch.arange(k) for k in per_tensor])
    starts = [0]
    for k in per_tensor:
        starts.append(starts[-1] + k)
    units = Units([(UnitTable(n, given.unit_dim, mip), t_index), (UnitTable(max(per_tensor), chunk_dim, mip), k_index)])
    return units, given.unit_dim + chunk_dim, [(starts[t], per_tensor[t], [t]) for t in range(n)]


def build_hypernet(comp, nodes: Sequence[Node], in_shape: Shape, tasks: int,
                   calibration_input: Optional[torch.Tensor]) -> Tuple[Hypernet, Lowerer]:
    """Lower a `hypernet(...)` component against the lowered target (whose tensors it takes over)."""
    if _kind(comp) != "hypernet":
        raise error(comp, "hypernet", f"hypernet must be hypernet(...), got {_kind(comp)}()")
    body_comp = comp.body if comp.body is not None else hyper_vocab.mlp()
    head_comp = comp.head if comp.head is not None else hyper_vocab.full()
    inp, head, body = part_of("input", comp.input), part_of("head", head_comp), part_of("body", body_comp)
    check_compatible({"input": (inp, comp.input), "head": (head, head_comp), "body": (body, body_comp)})
    mip = bool(comp.mip)
    mode = _mode(inp, body, head)

    picked = select(nodes, comp.generate, comp)
    if inp.per_sample:
        user = [n.path for n, _ in picked if type(n.component).__hyp_lowering__ is not None]
        if user:
            raise error(comp, "hypernet.generate", f"{inp.name} weights are per sample, which user "
                        f"components cannot take; leave {user[0]} out of generate")
    base, targets = [], []
    for node, name in picked:
        key = f"{node.path}.{name}"
        base.append(node.module.take(name, key))
        targets.append(Target(key, node.module.specs[name], node))

    lowerer = Lowerer()
    shapes = [t.spec.shape for t in targets]
    given = inp.build(comp.input, InputContext(comp, body_comp, tasks, mip, tuple(in_shape), shapes, lowerer))
    units, d_unit, groups = _units(mode, inp, given, head, head_comp, targets, mip)
    body_module = body.build(body_comp, given.width + d_unit)
    head_module = head.build(head_comp, HeadContext(body_module.out_features, shapes, mode, groups))
    net = Hypernet(targets, given.conditioner, units, body_module, head_module, mip, mode, base)
    net.calibrate(_calibration_condition(net, calibration_input))
    return net, lowerer


@torch.no_grad()
def _calibration_condition(net: Hypernet, x: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """Conditions representative of training at init: every task, or encodings of a sample batch."""
    return net.conditioner.calibration(x) if net.conditioner is not None else None
