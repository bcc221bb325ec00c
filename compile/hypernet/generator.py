"""The hypernetwork: generates the selected target tensors for one forward.

Lowering a `hypernet(...)` component takes the selected tensors over from the target layers (their
ordinary parameters disappear; under MIP their initial values become theta0) and assembles the
generator from its parts: a conditioner (task or sample), unit inputs, a body and a head. The body
runs once per condition and per unit, where the units are
- `single`: the whole target at once (task or data input with an mlp body and a full or lowrank head),
- `tensors`: one unit per generated tensor (layer embeddings, or an rnn body stepping over tensors),
- `chunks`: fixed-size chunks of all generated values (chunked head),
- `tensor_chunks`: chunks of each tensor, indexed by layer and chunk embeddings (layer_embedding
  with a chunked head: one generator shared across the tensors),
- `coords`: every generated element, from the Fourier features of its coordinates.
`forward(x, task)` returns a `Generated` mapping tensor keys to tensors, per sample when the
conditions differ across the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from ...dsl.vocabulary import hypernet as hyper_vocab
from ...dsl.vocabulary import layers as vocab
from ...dsl.vocabulary import structure
from ..layers.base import Generated, TensorSpec
from ..layers.basic import activation_fn
from ..lowering import Lowerer, Node, component_name, error
from ..shapes import Shape, numel
from .bodies import MLPBody, RNNBody
from .heads import ChunkedHead, FullHead, LowRankHead
from .inputs import CoordinateFeatures, DataConditioner, TaskConditioner, UnitTable
from .mip import initial_scale, normalise
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
        if isinstance(self.conditioner, TaskConditioner):
            z, inverse = self.conditioner(task, 1 if x is None else x.shape[0])
            return z, inverse, inverse is not None
        if isinstance(self.conditioner, DataConditioner):
            if x is None:
                raise error(None, "hypernet.input", "data_conditioned generation needs the input batch")
            return self.conditioner(x), None, True
        return None, None, False

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

    def forward(self, x: Optional[torch.Tensor] = None, task=None) -> Generated:
        z, inverse, batched = self._condition(x, task)
        raws = self._raw(z)
        params: Dict[str, torch.Tensor] = {}
        for i, (key, raw) in enumerate(zip(self.keys, raws)):
            if self.mip:
                t = raw + self.base[i]
            else:
                t = raw + self.means[i] if self.means[i] else raw
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


def _check_positive(comp, path: str, **values) -> None:
    for name, v in values.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise error(comp, path, f"{name} must be a positive integer, got {v!r}")


def _mode(comp, input_kind: str, body_kind: str, head_kind: str) -> str:
    if input_kind == "coordinates":
        if head_kind != "full":
            raise error(comp.head, "hypernet.head", "a coordinates input generates each value from its "
                        f"coordinates, so the head must be full(), got {head_kind}()")
        if body_kind != "mlp":
            raise error(comp.body, "hypernet.body", f"a coordinates input needs an mlp body, got {body_kind}()")
        return "coords"
    if head_kind == "chunked":
        return "tensor_chunks" if input_kind == "layer_embedding" else "chunks"
    if input_kind == "layer_embedding" or body_kind == "rnn":
        return "tensors"
    return "single"


def _activation(comp, path: str):
    fn = activation_fn(comp)
    if fn is None:
        raise error(comp, path, "activation must be one of relu(), gelu(), silu(), tanh(), sigmoid(), "
                    f"leaky_relu(), identity(); got {_kind(comp)}()")
    return fn


def _conditioner(comp, kind: str, mip: bool, tasks: int, in_shape: Shape, lowerer: Lowerer):
    """(conditioner module or None, condition width)."""
    if kind == "task_embedding":
        _check_positive(comp, "hypernet.input", dim=comp.dim)
        return TaskConditioner(tasks, comp.dim, mip), comp.dim
    if kind == "data_conditioned":
        if comp.encoder is None:
            _check_positive(comp, "hypernet.input", dim=comp.dim)
            enc = structure.sequential(layers=[vocab.flatten(), vocab.linear(out=comp.dim)])
        else:
            enc = comp.encoder
        module, out_shape = lowerer.lower(enc, in_shape, "hypernet.input.encoder")
        return DataConditioner(module, mip), numel(out_shape)
    return None, 0


def _units(comp, mode: str, targets: List[Target], mip: bool):
    """(Units module or None, unit width, chunk groups for a chunked head)."""
    inp, head = comp.input, comp.head
    n = len(targets)
    sizes = [numel(t.spec.shape) for t in targets]
    if mode == "single":
        return None, 0, None
    if mode == "tensors":
        dim = inp.dim if _kind(inp) == "layer_embedding" else STEP_DIM
        _check_positive(inp, "hypernet.input", dim=dim)
        return Units([(UnitTable(n, dim, mip), torch.arange(n))]), dim, None
    if mode == "coords":
        _check_positive(inp, "hypernet.input", hidden=inp.hidden, frequencies=inp.frequencies)
        act = _activation(comp.body.activation, "hypernet.body.activation") if comp.body is not None else torch.relu
        feats = CoordinateFeatures([t.spec.shape for t in targets], inp.hidden, inp.frequencies, act, mip)
        return Units([(feats, None)]), inp.hidden, [(0, sum(sizes), list(range(n)))]
    _check_positive(head, "hypernet.head", size=head.size, dim=head.dim)
    if mode == "chunks":
        count = -(-sum(sizes) // head.size)
        return (Units([(UnitTable(count, head.dim, mip), torch.arange(count))]), head.dim,
                [(0, count, list(range(n)))])
    # tensor_chunks: chunk k of tensor t is generated from [layer embedding t, chunk embedding k].
    _check_positive(inp, "hypernet.input", dim=inp.dim)
    per_tensor = [-(-s // head.size) for s in sizes]
    t_index = torch.cat([torch.full((k,), t, dtype=torch.long) for t, k in enumerate(per_tensor)])
    k_index = torch.cat([torch.arange(k) for k in per_tensor])
    starts = [0]
    for k in per_tensor:
        starts.append(starts[-1] + k)
    units = Units([(UnitTable(n, inp.dim, mip), t_index), (UnitTable(max(per_tensor), head.dim, mip), k_index)])
    return units, inp.dim + head.dim, [(starts[t], per_tensor[t], [t]) for t in range(n)]


def _body(comp, d_in: int):
    if comp is None:
        comp = hyper_vocab.mlp()
    kind = _kind(comp)
    if kind == "mlp":
        hidden = list(comp.hidden)
        for h in hidden:
            _check_positive(comp, "hypernet.body", hidden=h)
        return MLPBody(d_in, hidden, _activation(comp.activation, "hypernet.body.activation"))
    if kind == "rnn":
        _check_positive(comp, "hypernet.body", hidden=comp.hidden)
        return RNNBody(d_in, comp.hidden)
    raise error(comp, "hypernet.body", f"body must be mlp(...) or rnn(...), got {kind}()")


def build_hypernet(comp, nodes: Sequence[Node], in_shape: Shape, tasks: int,
                   calibration_input: Optional[torch.Tensor]) -> Tuple[Hypernet, Lowerer]:
    """Lower a `hypernet(...)` component against the lowered target (whose tensors it takes over)."""
    if _kind(comp) != "hypernet":
        raise error(comp, "hypernet", f"hypernet must be hypernet(...), got {_kind(comp)}()")
    input_kind = _kind(comp.input)
    if getattr(type(comp.input), "__hyp_kind__", "") != "hypernet_input":
        raise error(comp.input, "hypernet.input", "input must be task_embedding(), layer_embedding(), "
                    f"data_conditioned() or coordinates(), got {input_kind}()")
    head_kind = _kind(comp.head) if comp.head is not None else "full"
    if head_kind not in ("full", "chunked", "lowrank"):
        raise error(comp.head, "hypernet.head", f"head must be full(), chunked(...) or lowrank(...), got {head_kind}()")
    body_kind = _kind(comp.body) if comp.body is not None else "mlp"
    mip = bool(comp.mip)
    mode = _mode(comp, input_kind, body_kind, head_kind)

    picked = select(nodes, comp.generate, comp)
    if input_kind == "data_conditioned":
        user = [n.path for n, _ in picked if type(n.component).__hyp_lowering__ is not None]
        if user:
            raise error(comp, "hypernet.generate", f"data_conditioned weights are per sample, which user "
                        f"components cannot take; leave {user[0]} out of generate")
    base, targets = [], []
    for node, name in picked:
        key = f"{node.path}.{name}"
        base.append(node.module.take(name, key))
        targets.append(Target(key, node.module.specs[name], node))

    lowerer = Lowerer()
    conditioner, d_cond = _conditioner(comp.input, input_kind, mip, tasks, in_shape, lowerer)
    units, d_unit, groups = _units(comp, mode, targets, mip)
    body = _body(comp.body, d_cond + d_unit)
    hidden = body.out_features
    shapes = [t.spec.shape for t in targets]
    if mode == "coords":
        head = ChunkedHead(hidden, 1, shapes, groups)
    elif head_kind == "chunked":
        head = ChunkedHead(hidden, comp.head.size, shapes, groups)
    elif head_kind == "lowrank":
        _check_positive(comp.head, "hypernet.head", rank=comp.head.rank)
        head = LowRankHead(hidden, shapes, comp.head.rank, per_unit=mode == "tensors")
    else:
        head = FullHead(hidden, shapes, per_unit=mode == "tensors")
    net = Hypernet(targets, conditioner, units, body, head, mip, mode, base)
    net.calibrate(_calibration_condition(net, calibration_input))
    return net, lowerer


@torch.no_grad()
def _calibration_condition(net: Hypernet, x: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """Conditions representative of training at init: every task, or encodings of a sample batch."""
    c = net.conditioner
    if isinstance(c, TaskConditioner):
        z = c.embedding.weight
        return normalise(z) if c.mip else z
    if isinstance(c, DataConditioner):
        return c(x)
    return None
