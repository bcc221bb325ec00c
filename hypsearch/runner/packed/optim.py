"""Vectorised optimizers over a population's flat (K, P) parameter buffer.

Each member keeps its own hyperparameters as a (K, 1) column: learning rate (times its schedule's
factor at this step), betas or momentum, weight decay, gradient-norm clipping. The updates are
torch's own single-tensor Adam, AdamW and SGD formulas written once for all members, so a member
follows the same trajectory as `fit` with `torch.optim` (to float rounding). Members that are not
`active` (failed, stopped by patience, past their epochs) are left exactly as they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import torch

KINDS = ("adam", "adamw", "sgd")


@dataclass
class MemberHyper:
    """One member's optimizer settings, read from its `train(...)` recipe."""

    kind: str
    lr: float
    weight_decay: float
    clip: Optional[float]
    betas: Sequence[float] = (0.9, 0.999)
    momentum: float = 0.0
    nesterov: bool = False

    @classmethod
    def of(cls, recipe: Any) -> "MemberHyper":
        """The hyperparameters `make_optimizer` would give this recipe's optimizer."""
        comp = recipe.optimizer
        kind = getattr(comp, "__hyp_name__", type(comp).__name__)
        wd = float(recipe.weight_decay)
        clip = None if recipe.clip is None else float(recipe.clip)
        if kind == "adam":
            return cls(kind, float(comp.lr), wd, clip, betas=tuple(float(b) for b in comp.betas))
        if kind == "adamw":  # a nonzero train weight_decay replaces adamw's own (as make_optimizer)
            return cls(kind, float(comp.lr), wd or float(comp.weight_decay), clip)
        if kind == "sgd":
            return cls(kind, float(comp.lr), wd, clip, momentum=float(comp.momentum), nesterov=bool(comp.nesterov))
        raise ValueError(f"no population form of optimizer `{kind}`")


class PopulationOptimizer:
    """One optimizer kind for K members over one flat buffer."""

    def __init__(self, flat: torch.Tensor, hypers: Sequence[MemberHyper]) -> None:
        kinds = {h.kind for h in hypers}
        if len(kinds) != 1:
            raise ValueError(f"a population trains with one optimizer kind, got {sorted(kinds)}")
        self.kind = kinds.pop()
        self.flat = flat
        dev = flat.device

        def col(values):
            return torch.tensor([float(v) for v in values], dtype=torch.float32, device=dev).reshape(-1, 1)

        self.lr = col(h.lr for h in hypers)
        self.wd = col(h.weight_decay for h in hypers)
        self.clip = col(math.inf if h.clip is None else h.clip for h in hypers)
        self.clipping = any(h.clip is not None for h in hypers)
        self.beta1 = col(h.betas[0] for h in hypers)
        self.beta2 = col(h.betas[1] for h in hypers)
        self.momentum = col(h.momentum for h in hypers)
        self.nesterov = col(1.0 if h.nesterov else 0.0 for h in hypers).bool()
        self.has_momentum = any(h.momentum != 0 for h in hypers)
        self.eps = 1e-8
        self.steps = 0
        self.m = torch.zeros_like(flat, requires_grad=False)
        self.v = torch.zeros_like(flat, requires_grad=False) if self.kind != "sgd" else None

    @torch.no_grad()
    def step(self, active: torch.Tensor, factor: Optional[torch.Tensor] = None) -> None:
        """One update of every active member ((K, 1) bool); `factor`: (K, 1) schedule factors."""
        p, g = self.flat, self.flat.grad
        g = torch.where(active, g, 0.0)  # a failed member's NaN gradients stay out of its state
        if self.clipping:  # clip_grad_norm_: scale by max_norm / (norm + 1e-6), never up
            norm = torch.linalg.vector_norm(g, dim=1, keepdim=True)
            g = g * torch.clamp(self.clip / (norm + 1e-6), max=1.0)
        lr = self.lr if factor is None else self.lr * factor
        lr = torch.where(active, lr, 0.0)
        self.steps += 1
        if self.kind == "sgd":
            self._sgd(p, g, lr)
        else:
            self._adam(p, g, lr)
        self.flat.grad = None

    def _adam(self, p: torch.Tensor, g: torch.Tensor, lr: torch.Tensor) -> None:
        if self.kind == "adamw":
            p.mul_(1 - lr * self.wd)
        else:
            g = g + self.wd * p  # L2 penalty (torch.optim.Adam's weight_decay)
        t = self.steps
        self.m.lerp_(g, 1 - self.beta1)
        self.v.mul_(self.beta2).addcmul_(g, g * (1 - self.beta2))
        bc1 = 1 - self.beta1 ** t
        bc2_sqrt = torch.sqrt(1 - self.beta2 ** t)
        denom = (self.v.sqrt() / bc2_sqrt).add_(self.eps)
        p.sub_((lr / bc1) * self.m / denom)

    def _sgd(self, p: torch.Tensor, g: torch.Tensor, lr: torch.Tensor) -> None:
        g = g + self.wd * p
        if self.has_momentum:
            if self.steps == 1:
                self.m.copy_(g)
            else:
                self.m.mul_(self.momentum).add_(g)
            g = torch.where(self.nesterov, g + self.momentum * self.m, self.m)
        p.sub_(lr * g)
