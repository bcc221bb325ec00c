"""Vectorised optimizers over a population's flat (K, P) parameter buffer.

Each member keeps its own hyperparameters as a (K, 1) column: learning rate (times its schedule's
factor at this step), betas or momentum, weight decay, gradient-norm clipping. The updates are
torch's own single-tensor Adam, AdamW and SGD formulas written once for all members, so a member
follows the same trajectory as `fit` with `torch.optim` (to float rounding). Members that are not
`active` (failed, stopped, past their epochs or patience) are left exactly as they are: their
learning rate is 0 for the step, weight decay included (before, decay and the L2 term still moved
a member whose training had ended, so its saved weights were not those its metrics came from).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence

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
    """One optimizer kind for K members over one flat buffer, walked parameter block by block."""

    def __init__(self, flat: torch.Tensor, hypers: Sequence[MemberHyper],
                 blocks: Optional[Callable[[torch.Tensor], List[torch.Tensor]]] = None,
                 grads: Optional[Callable[[], List[torch.Tensor]]] = None) -> None:
        kinds = {h.kind for h in hypers}
        if len(kinds) != 1:
            raise ValueError(f"a population trains with one optimizer kind, got {sorted(kinds)}")
        self.kind = kinds.pop()
        self.flat = flat
        self.k = len(hypers)
        # `blocks(t)`: the (K, n) blocks of a tensor laid out like `flat` (default: one (K, P) block).
        self.blocks = blocks if blocks is not None else (lambda t: [t.view(self.k, -1)])
        # `grads()`: the gradient's blocks, taken from where the backward left them (default: flat.grad).
        self.grads = grads if grads is not None else self._flat_grads
        dev = flat.device

        def col(values):
            return torch.tensor([float(v) for v in values], dtype=torch.float32, device=dev).reshape(-1, 1)

        def shared(values):  # one Python float when every member has the same value (cheaper broadcast)
            values = [float(v) for v in values]
            return values[0] if len(set(values)) == 1 else col(values)

        self.lr = col(h.lr for h in hypers)
        self.wd = shared(h.weight_decay for h in hypers)
        self.any_wd = any(h.weight_decay != 0 for h in hypers)
        self.clip = col(math.inf if h.clip is None else h.clip for h in hypers)
        self.clipping = any(h.clip is not None for h in hypers)
        self.beta1 = shared(h.betas[0] for h in hypers)
        self.beta2 = shared(h.betas[1] for h in hypers)
        self.momentum = shared(h.momentum for h in hypers)
        self.nesterov = col(1.0 if h.nesterov else 0.0 for h in hypers).bool()
        self.any_nesterov = any(h.nesterov for h in hypers)
        self.has_momentum = any(h.momentum != 0 for h in hypers)
        self.eps = 1e-8
        self.steps = 0
        self.m = torch.zeros_like(flat, requires_grad=False)
        self.v = torch.zeros_like(flat, requires_grad=False) if self.kind != "sgd" else None
        # Members that share their betas (the usual case: a search of lr, decay, dropout, seed)
        # take torch's fused Adam kernel; a buffer for its direction.
        shared_betas = isinstance(self.beta1, float) and isinstance(self.beta2, float)
        self.fused = torch.zeros_like(flat) if self.kind != "sgd" and shared_betas and hasattr(torch, "_fused_adam_") \
            else None
        self._step_t = torch.zeros((), dtype=torch.float32, device=dev)

    @torch.no_grad()
    def step(self, active: torch.Tensor, factor: Optional[torch.Tensor] = None, all_active: bool = False) -> None:
        """One update of every active member ((K, 1) bool; `all_active`: the caller knows they all
        are); `factor`: (K, 1) schedule factors of the learning rates."""
        gs, ms = self.grads(), self.blocks(self.m)
        lr = self.lr if factor is None else self.lr * factor
        if not all_active:  # a failed or stopped member: zero gradient and momentum, learning rate 0
            lr = lr * active  # (weight decay included: its parameters stay as they were)
            for gr, m in zip(gs, ms):
                gr.masked_fill_(~active, 0.0)
                m.masked_fill_(~active, 0.0)
        if self.clipping:  # clip_grad_norm_ per member: scale by max_norm / (norm + 1e-6), never up
            norm = torch.stack([torch.linalg.vector_norm(gr, dim=1) for gr in gs]).pow(2).sum(0).sqrt().unsqueeze(1)
            coef = torch.clamp(self.clip / (norm + 1e-6), max=1.0)
            for gr in gs:
                gr.mul_(coef)
        self.steps += 1
        ps = self.blocks(self.flat.detach())
        if self.kind == "sgd":
            for p, gr, m in zip(ps, gs, ms):
                self._sgd(p, gr, m, lr)
            return
        if self.kind == "adamw" and self.any_wd:  # decoupled: p *= 1 - lr wd
            decay = 1 - lr * self.wd
            for p in ps:
                p.mul_(decay)
        elif self.any_wd:  # adam's L2 penalty: g += wd p
            for p, gr in zip(ps, gs):
                gr.add_(p * self.wd) if isinstance(self.wd, float) else gr.addcmul_(p, self.wd)
        if self.fused is not None:
            self._fused_adam(ps, gs, ms, lr)
            return
        t = self.steps
        b1, b2 = self.beta1, self.beta2
        bc2_sqrt = (1 - b2 ** t) ** 0.5
        step = lr / (1 - b1 ** t)
        for p, gr, m, v in zip(ps, gs, ms, self.blocks(self.v)):
            m.lerp_(gr, 1 - b1)
            v.lerp_(gr * gr, 1 - b2)
            denom = v.sqrt().div_(bc2_sqrt).add_(self.eps)
            p.addcdiv_(m * step, denom, value=-1.0)

    def _fused_adam(self, ps, gs, ms, lr) -> None:
        """Adam's moments and bias-corrected direction m / (sqrt(v) + eps) in one pass per block
        (torch's fused kernel, lr -1 into a zeroed buffer), then p -= lr u with each member's lr:
        a third of the memory passes of the step written out op by op."""
        u = self.fused
        u.zero_()
        self._step_t.fill_(float(self.steps))
        torch._fused_adam_(self.blocks(u), gs, ms, self.blocks(self.v), [], [self._step_t] * len(gs), lr=-1.0,
                           beta1=self.beta1, beta2=self.beta2, weight_decay=0.0, eps=self.eps, amsgrad=False,
                           maximize=False)
        for p, d in zip(ps, self.blocks(u)):
            p.addcmul_(d, lr, value=-1.0)

    def _flat_grads(self) -> List[torch.Tensor]:
        g = self.flat.grad
        self.flat.grad = None
        return self.blocks(g)

    def _sgd(self, p, g, m, lr) -> None:
        if self.any_wd:
            g.add_(p * self.wd) if isinstance(self.wd, float) else g.addcmul_(p, self.wd)
        if self.has_momentum:
            if self.steps == 1:
                m.copy_(g)
            else:
                m.mul_(self.momentum).add_(g)
            g = torch.where(self.nesterov, g + self.momentum * m, m) if self.any_nesterov else m
        p.addcmul_(g, lr, value=-1.0)
