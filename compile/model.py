"""`Model`: the built program as one `nn.Module` (target network plus optional hypernetwork).

`forward(x, task=None)` generates the selected target tensors (when there is a hypernetwork) and
runs the target with them. `param_counts` gives the sizes as numbers and `summary()` as a table,
one row per component, with the hypernetwork's head set against the target it generates and a
warning when the hypernetwork is far larger than its target.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
from torch import nn

from .hypernet.generator import Hypernet
from .layers.moe import MixtureOfExperts
from .lowering import Node
from .shapes import Shape, fmt

# The hypernetwork is reported as "far larger" than the target beyond this factor.
LARGE_HYPERNET_FACTOR = 10


def _count(module: Optional[nn.Module]) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def _own_counts(node: Node) -> tuple:
    """(ordinary, generated) parameter values a component holds itself (not its children)."""
    module = node.module
    specs = getattr(module, "specs", {})
    keys = getattr(module, "keys", {})
    generated = sum(int(torch.Size(specs[n].shape).numel()) for n in keys)
    ordinary = sum(int(torch.Size(s.shape).numel()) for n, s in specs.items() if n not in keys)
    return ordinary, generated


class Model(nn.Module):
    """A built program: `target` network and `hypernet` (None for a plain network).

    `param_counts`: target (ordinary + generated values), target_ordinary, target_generated,
    hypernet (all its parameters), hypernet_head, hypernet_base (theta0 under MIP) and trainable
    (what an optimizer over `model.parameters()` trains).
    """

    def __init__(self, target: nn.Module, hypernet: Optional[Hypernet], nodes: Sequence[Node],
                 hyper_nodes: Sequence[Node], input_shape: Shape, output_shape: Shape, tasks: int) -> None:
        super().__init__()
        self.target = target
        self.hypernet = hypernet
        self.input_shape, self.output_shape, self.tasks = tuple(input_shape), tuple(output_shape), tasks
        self._nodes: List[Node] = list(nodes)
        self._hyper_nodes: List[Node] = list(hyper_nodes)
        self._moe: List[MixtureOfExperts] = [m for m in target.modules() if isinstance(m, MixtureOfExperts)]
        self.param_counts: Dict[str, int] = self._param_counts()

    def forward(self, x: torch.Tensor, task=None) -> torch.Tensor:
        """Outputs for the batch x; `task` is an int or a LongTensor (B,) for task-conditioned models."""
        if self.hypernet is None:
            return self.target(x)
        run = getattr(self.hypernet.conditioner, "run_target", None)
        if run is not None:  # an input that applies its members to the batch itself (an ensemble)
            return run(self.target, self.hypernet, x)
        return self.target(x, self.hypernet(x, task))

    @property
    def outputs_per_sample(self) -> int:
        """Outputs a forward in training mode returns per sample: 1, or k for an ensemble that trains
        its k members on every sample (k blocks of the batch's outputs, member after member)."""
        return int(getattr(self.hypernet.conditioner, "outputs_per_sample", 1)) if self.hypernet is not None else 1

    def aux_loss(self) -> torch.Tensor:
        """The load-balancing losses of the mixture-of-experts layers in the latest forward (0 if none)."""
        losses = [m.aux for m in self._moe if m.aux is not None]
        if not losses:
            p = next(self.parameters(), None)
            return torch.zeros((), device=p.device if p is not None else None)
        return torch.stack(losses).sum()

    def _param_counts(self) -> Dict[str, int]:
        ordinary = _count(self.target)
        h = self.hypernet
        generated = h.generated_count() if h is not None else 0
        return {
            "target": ordinary + generated,
            "target_ordinary": ordinary,
            "target_generated": generated,
            "hypernet": _count(h),
            "hypernet_head": _count(h.head) if h is not None else 0,
            "hypernet_base": _count(h.base) if h is not None and h.base is not None else 0,
            "trainable": sum(p.numel() for p in self.parameters() if p.requires_grad),
        }

    def warnings(self) -> List[str]:
        """Size warnings about this model (a hypernetwork far larger than its target)."""
        c = self.param_counts
        if self.hypernet is not None and c["hypernet"] > LARGE_HYPERNET_FACTOR * max(c["target"], 1):
            return [f"the hypernetwork has {c['hypernet']:,} parameters, {c['hypernet'] / max(c['target'], 1):.0f}x "
                    f"the {c['target']:,} of the target it generates"]
        return []

    def summary(self) -> str:
        """A table of every component: output shape, ordinary and generated parameters; then totals."""
        rows = [("component", "kind", "output", "params", "generated")]
        for node in self._nodes:
            ordinary, generated = _own_counts(node)
            rows.append(("  " * node.depth + node.path, node.kind, fmt(node.out_shape),
                         f"{ordinary:,}", f"{generated:,}" if generated else "-"))
        lines = _table(rows)
        c = self.param_counts
        lines.append("")
        lines.append(f"input {fmt(self.input_shape)} -> output {fmt(self.output_shape)}")
        lines.append(f"target: {c['target']:,} parameters ({c['target_ordinary']:,} ordinary, "
                     f"{c['target_generated']:,} generated)")
        if self.hypernet is not None:
            lines.extend(self._hypernet_lines())
        lines.append(f"trainable parameters: {c['trainable']:,}")
        lines.extend(f"warning: {w}" for w in self.warnings())
        return "\n".join(lines)

    def _hypernet_lines(self) -> List[str]:
        h, c = self.hypernet, self.param_counts
        parts = [("hypernet.input", h.conditioner), ("hypernet.units", h.units), ("hypernet.body", h.body),
                 ("hypernet.head", h.head), ("hypernet.base (theta0)", h.base)]
        rows = [("hypernetwork", "part", "params")]
        for name, module in parts:
            if module is not None:
                rows.append(("  " + name, type(module).__name__, f"{_count(module):,}"))
            if name == "hypernet.input":  # the encoder of a data-conditioned input, layer by layer
                for node in self._hyper_nodes:
                    rows.append(("    " + "  " * node.depth + node.path, node.kind, f"{sum(_own_counts(node)):,}"))
        lines = [""] + _table(rows)
        hidden = getattr(h.body, "out_features", 0)
        lines.append(f"hypernetwork: {c['hypernet']:,} parameters, mode {h.mode}, mip {'on' if h.mip else 'off'}, "
                     f"generates {len(h.targets)} tensors ({c['target_generated']:,} values)")
        lines.append(f"head: {type(h.head).__name__} of width {hidden} over {c['target_generated']:,} generated values "
                     f"holds {c['hypernet_head']:,} parameters "
                     f"({c['hypernet_head'] / max(c['target'], 1):.2f}x the target's {c['target']:,})")
        return lines


def _table(rows: Sequence[Sequence[str]]) -> List[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for j, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [r[1].ljust(widths[1])] + [v.rjust(w) for v, w in zip(r[2:], widths[2:])]
        out.append("  ".join(cells).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return out
