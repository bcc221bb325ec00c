"""The population form of a built model: K members' parameters in one flat buffer, one forward for all.

Every member is a `Model` built from its own program under its own seed (so its initialisation is
the one `fit` would start from); their trainable parameters are copied into one tensor `flat`
(K x P values, each parameter's K copies side by side), and each parameter's (K, ...) block of it
is a leaf of its own (sharing the storage), so the backward leaves each gradient where it was
computed and the optimizer updates every member in place with a few tensor ops per parameter.
Dropout masks come from 16-bit uniforms, four per 64-bit random draw. Two layouts run the forward:

- `ChainLayout`, for a plain target that is a chain of linear layers, elementwise activations,
  dropout and flatten (an MLP): batched matmuls (`torch.baddbmm`) over the stacked weights, held
  as (K, in, out). On the 2-core CPU (benchmarks/bench_packed.py, a quiet machine) it gave 6.0x
  the unpacked step throughput at K = 32 with one thread, where vmap gave 3.5x and a naive
  stack_module_state + vmap with torch's Adam 2.3x, and 9.7x with torch's default two threads
  (vmap 5.7x, naive 3.2x); at K = 128 5.3x and 9.1x. The step's batched matmuls alone run at
  9.3x (one thread, K = 128): the rest of the step (dropout bits, activations, Adam) is what
  keeps one thread from 8x, not the layout's matmuls.
- `VmapLayout`, for everything else it can run (conv nets, hypernetworks, attention):
  `torch.func.vmap(functional_call)` of one template copy of the model over the stacked
  parameters and buffers, with `randomness="different"` so dropout masks are independent.

In both, dropout reads each member's own probability. A task-conditioned hypernetwork picks its
task embeddings by value (one row per distinct task in the batch), which `vmap` cannot trace; its
template generates for every task and selects per sample instead, the same values. Layers whose
state changes in the forward (batch norm running statistics) and mixtures of experts have no
population form: `unpackable_reason` says so and such programs train alone.
"""

from __future__ import annotations

import abc
import copy
import math
import types
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from hypsearch.compile.hypernet.feature_subsets import FeatureSubsets
from hypsearch.compile.hypernet.inputs import TaskConditioner
from hypsearch.compile.hypernet.mip import normalise
from hypsearch.compile.layers.base import Stateless
from hypsearch.compile.layers.basic import BatchNorm, Dropout, Linear
from hypsearch.compile.layers.moe import MixtureOfExperts
from hypsearch.compile.layers.structure import Sequential

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.InstanceNorm1d, nn.InstanceNorm2d, BatchNorm)
# Stateless labels that act elementwise (so on a (K, B, F) tensor as on (B, F)).
_ELEMENTWISE = {"relu", "gelu", "silu", "tanh", "sigmoid", "identity", "leaky_relu"}
PAD_TO = 16  # ChainLayout: the width a narrower last linear layer is stored at (on a CPU)


def unpackable_reason(model: nn.Module) -> Optional[str]:
    """Why this built model cannot train as a population member, or None when it can."""
    for name, module in model.named_modules():
        if isinstance(module, _NORMS):
            return f"{name or 'the model'} keeps batch-norm running statistics (trained alone)"
        if isinstance(module, MixtureOfExperts):
            return f"{name} is a mixture of experts with a load-balancing loss (trained alone)"
        if isinstance(module, FeatureSubsets) and module.training_mode == "members":
            return f"{name} trains every ensemble member on every sample (training = \"members\"; trained alone)"
    if not any(p.requires_grad for p in model.parameters()):
        return "the model has no trainable parameters"
    return None


def trainable(model: nn.Module) -> List[Tuple[str, nn.Parameter]]:
    """The parameters an optimizer over `model.parameters()` trains, in their order."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def dropout_ps(model: nn.Module) -> List[float]:
    """The model's dropout probabilities, in module order."""
    return [float(m.p) for m in model.modules() if isinstance(m, (Dropout, nn.Dropout))]


class Layout(abc.ABC):
    """K members as one flat tensor with named (K, *shape) leaf views, and one forward for all."""

    kind = ""

    def __init__(self, models: Sequence[nn.Module], device: torch.device, transposed: Sequence[str] = (),
                 padded: Optional[Dict[str, Tuple[int, ...]]] = None) -> None:
        first = trainable(models[0])
        self.names = [n for n, _ in first]
        # `transposed`: 2-D weights stored as (in, out), so that the weight's gradient (h^T @ grad)
        # lands in its block contiguous, without a copy.
        self.transposed = set(transposed)
        # Each member's own shape of every parameter (as stored, i.e. after transposition); `padded`
        # stores some larger, the extra entries zero (see ChainLayout).
        self.own_shapes = [tuple(p.shape[::-1]) if n in self.transposed else tuple(p.shape) for n, p in first]
        padded = padded or {}
        self.shapes = [tuple(padded.get(n, s)) for n, s in zip(self.names, self.own_shapes)]
        self.sizes = [int(math.prod(shape)) for shape in self.shapes]
        self.k = len(models)
        self.device = device
        # Parameter-major: parameter j of every member is one contiguous (K, n_j) block, so the
        # batched matmuls read stacked weights without copies; the optimizer walks the blocks.
        blocks = []
        for j, name in enumerate(self.names):
            rows = []
            for m in models:
                params = dict(trainable(m))
                value = params.get(name)
                if value is not None and name in self.transposed:
                    value = value.t()
                if value is None or tuple(value.shape) != self.own_shapes[j] or len(params) != len(self.names):
                    raise ValueError("population members must have the same parameters (names and shapes)")
                value = value.detach().float()
                if self.shapes[j] != self.own_shapes[j]:
                    value = _padded(value, self.shapes[j])
                rows.append(value.reshape(-1))
            blocks.append(torch.stack(rows).reshape(-1))
        self.flat = torch.cat(blocks).to(device)
        # Each parameter's block as a leaf of its own that shares the flat storage: the backward
        # leaves each gradient where it was computed (a leaf view of one flat leaf would cost a
        # concatenation of all gradients per step: 11% of a K = 128 step), and the optimizer's
        # in-place updates of `flat` are the leaves' values.
        self.leaves = [v.detach().requires_grad_(True) for v in self._views(self.flat)]
        # (K, n_dropout) per-member probabilities, in module order.
        ps = [dropout_ps(m) for m in models]
        self.drop_p = torch.tensor(ps, dtype=torch.float32, device=device).reshape(self.k, -1)

    def blocks(self, flat: torch.Tensor) -> List[torch.Tensor]:
        """The (K, n_j) block of each parameter in a tensor laid out like `flat`."""
        return [t.view(self.k, n) for t, n in zip(torch.split(flat, [self.k * n for n in self.sizes]), self.sizes)]

    def _views(self, flat: torch.Tensor) -> List[torch.Tensor]:
        parts = torch.split(flat, [self.k * n for n in self.sizes])
        return [t.view(self.k, *s) for t, s in zip(parts, self.shapes)]

    def views(self, flat: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """name -> (K, *shape) view of `flat` (default: the trained leaves)."""
        return dict(zip(self.names, self.leaves if flat is None else self._views(flat)))

    def take_grads(self) -> List[torch.Tensor]:
        """The (K, n_j) gradient block of each parameter from the last backward (zeros for one
        that got none), cleared from the leaves."""
        out = []
        for leaf, n in zip(self.leaves, self.sizes):
            g = leaf.grad
            leaf.grad = None
            out.append(torch.zeros(self.k, n, device=self.device) if g is None else g.reshape(self.k, n))
        return out

    @abc.abstractmethod
    def forward(self, x: torch.Tensor, task: Optional[torch.Tensor], training: bool, shared: bool) -> torch.Tensor:
        """(K, B, ...) outputs. x: (K, B, ...) per-member batches, or with `shared` one (B, ...)
        batch for all members (validation); `task`: the task ids shaped like x's batch."""

    def member_state(self, i: int) -> Dict[str, torch.Tensor]:
        """Member i's trained parameters by name (to load into its own model)."""
        out = {}
        for (n, v), own in zip(self.views(self.flat).items(), self.own_shapes):
            v = v[i][tuple(slice(0, d) for d in own)]
            out[n] = (v.t() if n in self.transposed else v).detach().clone()
        return out


def _padded(value: torch.Tensor, shape: Tuple[int, ...]) -> torch.Tensor:
    """`value` in the leading corner of a zero tensor of `shape`."""
    out = torch.zeros(shape, dtype=value.dtype)
    out[tuple(slice(0, d) for d in value.shape)] = value
    return out


class ChainLayout(Layout):
    """An MLP-like chain as batched matmuls over stacked weights."""

    kind = "chain"

    def __init__(self, models: Sequence[nn.Module], device: torch.device) -> None:
        layers = list(models[0].target.layers)
        linears = [i for i, layer in enumerate(layers) if isinstance(layer, Linear)]
        weights = [f"target.layers.{i}.weight" for i in linears]
        # The last linear layer's outputs (the classes, say) padded to 16 on a CPU when fewer: MKL's
        # batched matmuls with a narrow output are slow there (K = 128, batch 64, 64 -> 10: 2.1 ms
        # forward and backward, 1.3 ms as 64 -> 16 then sliced; a sixth of the step's matmul time).
        # The extra columns have zero weights and bias and, sliced off, zero gradients: they stay
        # zero under every optimizer here (an L2 or decoupled decay of 0 is 0) and change nothing.
        padded: Dict[str, Tuple[int, ...]] = {}
        self.out_features: Optional[int] = None  # the true width to slice the outputs to, when padded
        if linears and torch.device(device).type == "cpu":
            last = layers[linears[-1]]
            after = [layer for layer in layers[linears[-1] + 1:] if isinstance(layer, Stateless)]
            if last.out_features < PAD_TO and not any(layer.label == "flatten" for layer in after):
                self.out_features = last.out_features
                prefix = f"target.layers.{linears[-1]}."
                padded[prefix + "weight"] = (last.in_features, PAD_TO)
                if last.has_bias:
                    padded[prefix + "bias"] = (PAD_TO,)
        super().__init__(models, device, transposed=weights, padded=padded)
        self.steps: List[Tuple[str, object]] = []
        d = 0
        for i, layer in enumerate(layers):
            prefix = f"target.layers.{i}."
            if isinstance(layer, Linear):
                self.steps.append(("linear", (prefix + "weight", prefix + "bias" if layer.has_bias else None)))
            elif isinstance(layer, Dropout):
                self.steps.append(("dropout", d))
                d += 1
            elif layer.label == "flatten":
                self.steps.append(("flatten", None))
            elif layer.label == "relu":
                self.steps.append(("relu", None))
            else:
                self.steps.append(("fn", layer.fn))
        # relu then dropout is dropout then relu (the mask's scale is >= 0): so ordered, both run in
        # place on the linear layer's output, which its backward does not keep (one activation
        # buffer instead of three, still in cache).
        for j in range(len(self.steps) - 1):
            if self.steps[j][0] == "relu" and self.steps[j + 1][0] == "dropout":
                self.steps[j], self.steps[j + 1] = self.steps[j + 1], self.steps[j]
        self.masks = [_mask_thresholds(self.drop_p[:, j]) for j in range(d)]

    @staticmethod
    def fits(model: nn.Module) -> bool:
        """Whether the model is a plain chain this layout runs."""
        target = getattr(model, "target", None)
        if getattr(model, "hypernet", None) is not None or not isinstance(target, Sequential):
            return False
        for layer in target.layers:
            if isinstance(layer, Linear):
                if layer.keys:
                    return False
            elif isinstance(layer, Stateless):
                if layer.label not in _ELEMENTWISE and layer.label != "flatten":
                    return False
            elif not isinstance(layer, Dropout):
                return False
        return True

    def forward(self, x: torch.Tensor, task: Optional[torch.Tensor], training: bool, shared: bool) -> torch.Tensor:
        p = self.views()
        h = x
        mine = False  # h is an intermediate that no backward keeps: free to change in place
        for kind, arg in self.steps:
            if kind == "linear":
                w = p[arg[0]]
                b = p[arg[1]] if arg[1] is not None else None
                if shared:  # the same input for every member: one broadcast matmul, no copies
                    h = torch.matmul(h, w)
                    h = h + b.unsqueeze(1) if b is not None else h
                    shared = False
                elif b is not None:  # w: (K, in, out)
                    h = torch.baddbmm(b.unsqueeze(1), h, w)
                else:
                    h = torch.bmm(h, w)
                mine = True
            elif kind == "flatten":
                h = h.flatten(1 if shared else 2)
            elif kind == "dropout":
                if training:
                    if shared:
                        h, shared = h.expand(self.k, *h.shape), False
                    shape = (self.k,) + (1,) * (h.dim() - 1)
                    threshold, scale = self.masks[arg]
                    mask = _mask(h, threshold.view(shape), scale.view(shape))
                    h, mine = (h.mul_(mask), True) if mine else (h * mask, True)  # its backward keeps the mask
            elif kind == "relu":
                h, mine = (torch.relu_(h) if mine else torch.relu(h)), False  # its backward keeps its output
            else:
                h, mine = arg(h), False
        if self.out_features is not None:
            h = h[..., :self.out_features]
        return h.expand(self.k, *h.shape) if shared else h


def _mask_thresholds(p: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(K,) int16 thresholds and keep scales of dropout probabilities p (K,): a 16-bit uniform r
    keeps when r >= threshold, i.e.
    with probability 1 - round(65536 p) / 65536 (p to within 2^-17), and the scale is 1 / that
    probability exactly, so a kept unit's expectation is unbiased; p = 0 keeps every unit (x 1)."""
    dropped = torch.round(p.double() * 65536).clamp(0, 65536)
    keep = 1.0 - dropped / 65536
    scale = torch.where(keep > 0, 1.0 / keep.clamp(min=1e-12), 0.0).float()
    threshold = (dropped - 32768).clamp(max=32767).to(torch.int16)  # p = 1: only r = 32767 would keep, x 0
    return threshold, scale


def _mask(h: torch.Tensor, threshold: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Dropout's scaled keep mask for h: four 16-bit uniforms from each 64-bit random draw (a
    third of the cost of torch.rand's float per unit, which was a third of a K = 128 forward)."""
    n = h.numel()
    bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=h.device).random_(-2**63, None)
    r = bits.view(torch.int16)[:n].view(h.shape)
    # The comparison written straight into a float tensor: a bool result and its conversion
    # took 4x as long (bool -> float takes a slow path), and bool x float products 20x.
    return torch.ge(r, threshold, out=torch.empty_like(h)).mul_(scale)


class _MemberDropout(nn.Module):
    """Dropout whose probability is a (stacked) buffer, so each member has its own."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.register_buffer("p", torch.tensor(float(p)))

    def forward(self, x: torch.Tensor, gen=None) -> torch.Tensor:
        if not self.training:
            return x
        # Out of place: vmap has no batching rule for the in-place comparison.
        return x * ((torch.rand_like(x) >= self.p).to(x.dtype) * (1.0 / (1.0 - self.p)))


def _all_tasks_condition(self, x, task):
    """TaskConditioner.condition without value-dependent branches: every task's embedding, and
    each sample's task as the index into them (what the mixed-batch path computes)."""
    table = self.embedding.weight
    z = normalise(table) if self.mip else table
    if task is None:
        task = torch.zeros(1 if x is None else x.shape[0], dtype=torch.int64, device=table.device)
    return z, task.long().reshape(-1), True


class VmapLayout(Layout):
    """vmap(functional_call) of one template model over the stacked parameters and buffers."""

    kind = "vmap"

    def __init__(self, models: Sequence[nn.Module], device: torch.device) -> None:
        super().__init__(models, device)
        template = copy.deepcopy(models[0]).to(device)
        for name, module in list(template.named_modules()):
            if isinstance(module, (Dropout, nn.Dropout)):
                parent, _, leaf = name.rpartition(".")
                setattr(template.get_submodule(parent) if parent else template, leaf, _MemberDropout(module.p))
            elif isinstance(module, TaskConditioner):
                module.condition = types.MethodType(_all_tasks_condition, module)
        self.template = template
        # Buffers (index tables, head scales, dropout p) stacked per member.
        drops = {n for n, m in template.named_modules() if isinstance(m, _MemberDropout)}
        stacks: Dict[str, List[torch.Tensor]] = {}
        for n, _ in template.named_buffers():
            owner, _, leaf = n.rpartition(".")
            for m in models:
                value = torch.tensor(float(m.get_submodule(owner).p)) if owner in drops and leaf == "p" \
                    else m.get_buffer(n).detach()
                stacks.setdefault(n, []).append(value)
        self.buffers = {n: torch.stack(v).to(device) for n, v in stacks.items()}
        frozen = [(n, p) for n, p in template.named_parameters() if not p.requires_grad]
        self.frozen = {n: torch.stack([dict(m.named_parameters())[n].detach() for m in models]).to(device)
                       for n, _ in frozen}
        self._calls: Dict[Tuple[bool, bool], object] = {}

    def _call(self, shared: bool, with_task: bool):
        key = (shared, with_task)
        if key not in self._calls:
            from torch.func import functional_call, vmap

            def one(params, buffers, x, task):
                state = {**params, **buffers}
                if with_task:
                    return functional_call(self.template, state, (x,), {"task": task})
                return functional_call(self.template, state, (x,))

            dims = (0, 0, None if shared else 0, None if (shared or not with_task) else 0)
            self._calls[key] = vmap(one, in_dims=dims, randomness="different")
        return self._calls[key]

    def forward(self, x: torch.Tensor, task: Optional[torch.Tensor], training: bool, shared: bool) -> torch.Tensor:
        self.template.train(training)
        params = {**self.views(), **self.frozen}
        return self._call(shared, task is not None)(params, self.buffers, x, task)


def make_layout(models: Sequence[nn.Module], device: torch.device, prefer: str = "auto") -> Layout:
    """The fastest layout that runs these members: chain for MLP-like targets, else vmap."""
    if prefer not in ("auto", "chain", "vmap"):
        raise ValueError(f"layout must be auto, chain or vmap, got {prefer!r}")
    if prefer != "vmap" and ChainLayout.fits(models[0]):
        return ChainLayout(models, device)
    if prefer == "chain":
        raise ValueError("the chain layout runs only plain MLP-like targets")
    return VmapLayout(models, device)
