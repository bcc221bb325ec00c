"""Train K members of one parameter structure as one population: one forward, one backward, one update.

`train_population(members, dataset, ...)` is `fit` for a whole group: each member has its own
model (built under its own seed: its own initialisation), its own recipe (learning rate, betas or
momentum, weight decay, clipping, label smoothing, schedule, epochs, patience, dropout
probabilities) and its own batch order (a CPU generator seeded with its seed, drawn exactly as
`fit` draws it). A step gathers every member's batch as one (K, B, ...) tensor, runs the layout's
forward, sums the members' losses (each member's parameters see only its own loss) and updates
all members at once. Losses and metrics are checked once per epoch as in `fit`: a member whose
training or validation loss is not finite fails alone (its history so far is kept, its updates
stop) and the others train on; a member past its epochs or its patience stops alone.

For a deterministic program (no dropout) each member's per-epoch metrics are those `fit` reports
for the same program and seed, to float rounding (tests/test_packed.py checks an MLP, a conv net
and a task-conditioned hypernetwork).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from hypsearch.data import Dataset
from hypsearch.dsl.errors import HypError

from ..schedules import schedule_factor
from ..train import EVAL_BATCH, patience_step, validation_metrics
from ..allocator import keep_freed_memory
from .layout import Layout, make_layout, trainable
from .optim import MemberHyper, PopulationOptimizer

Metrics = Dict[str, Any]


@dataclass
class Member:
    """One member of a population: its built model, its `train(...)` recipe and its seed."""

    model: torch.nn.Module
    recipe: Any
    seed: int
    monitor: Tuple[str, str] = ("val_loss", "min")  # what train(patience) watches


@dataclass
class MemberResult:
    """What became of one member: its per-epoch history, and why it failed (None: it did not)."""

    history: List[Metrics] = field(default_factory=list)
    error: Optional[str] = None
    stopped: bool = False  # ended early by the caller's `on_epoch` (a scheduler's rule), not failed


class PopulationTooLarge(Exception):
    """The population ran out of memory: the caller splits it and tries again."""


EpochHook = Callable[[int, Dict[int, Metrics]], Iterable[int]]


def train_population(members: Sequence[Member], dataset: Dataset, *, device: Any = "cpu",
                     task_input: bool = False, layout: str = "auto",
                     on_epoch: Optional[EpochHook] = None) -> Tuple[List[MemberResult], Layout]:
    """Train every member for its recipe's epochs; their results, in order, and the trained layout
    (`layout.member_state(i)` is member i's parameters). `on_epoch(epoch, {i: metrics})` sees each
    epoch's metrics of the members that completed it and names members to stop there (their
    updates are masked from then on, as a failed member's). Raises `PopulationTooLarge` on out of memory."""
    try:
        return _train(members, dataset, torch.device(device), task_input, layout, on_epoch)
    except (RuntimeError, MemoryError) as e:
        if _is_oom(e):
            if torch.device(device).type == "cuda":
                torch.cuda.empty_cache()
            raise PopulationTooLarge(str(e).splitlines()[0]) from None
        raise


def _train(members: Sequence[Member], dataset: Dataset, dev: torch.device, task_input: bool,
           prefer: str, on_epoch: Optional[EpochHook] = None) -> Tuple[List[MemberResult], Layout]:
    k = len(members)
    recipes = [m.recipe for m in members]
    b = int(recipes[0].batch_size)
    if any(int(r.batch_size) != b for r in recipes):
        raise ValueError("population members must share their batch size")
    torch.manual_seed(members[0].seed)  # dropout masks: reproducible for the population
    if dev.type == "cpu":
        keep_freed_memory()
    # The members' own models stay where they were built: only the stacked copy goes to the device.
    pop = make_layout([m.model for m in members], dev, prefer)
    opt = PopulationOptimizer(pop.flat, [MemberHyper.of(r) for r in recipes], pop.blocks, pop.take_grads)
    x, y, task = dataset.tensors("train", dev)
    xv, yv, tv = dataset.tensors("val", dev)
    if task_input and task is None:  # a task-conditioned model on a single-task set: all task 0
        task = torch.zeros(len(x), dtype=torch.int64, device=dev)
        tv = torch.zeros(len(xv), dtype=torch.int64, device=dev)
    n = len(x)
    epochs = [int(r.epochs) for r in recipes]
    steps_per_epoch = math.ceil(n / b)
    factors = _schedule_factors(recipes, steps_per_epoch, epochs, dev)
    smoothing = torch.tensor([float(r.label_smoothing) for r in recipes], device=dev).reshape(k, 1) \
        if any(r.label_smoothing for r in recipes) else None
    kind = loss_kind(recipes[0], dataset)
    params = sum(p.numel() for _, p in trainable(members[0].model))
    gens = [torch.Generator().manual_seed(int(m.seed)) for m in members]
    results = [MemberResult() for _ in members]
    running = [True] * k  # still training (not failed, stopped or finished)
    best: List[Optional[float]] = [None] * k
    stale = [0] * k
    step = 0
    checked = False
    for epoch in range(1, max(epochs) + 1):
        if not any(running):
            break
        active = torch.tensor(running, device=dev).reshape(k, 1)
        order = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(dev)
        loss_sum = torch.zeros(k, device=dev)
        correct = torch.zeros(k, dtype=torch.int64, device=dev)
        seen = 0
        for start in range(0, n, b):
            idx = order[:, start:start + b]
            bl = idx.shape[1]
            if bl < 2 and seen:  # as fit: a trailing batch of one is dropped
                continue
            yb = y[idx]
            out = pop.forward(x[idx], task[idx] if task_input else None, True, False)
            if not checked:
                _check_output(out, yb, dataset)
                checked = True
            loss = member_losses(out, yb, kind, smoothing, dataset)
            loss.sum().backward()
            opt.step(active, None if factors is None else factors[:, min(step, factors.shape[1] - 1)],
                     all_active=all(running))
            step += 1
            loss_sum += loss.detach() * bl
            if dataset.classification:
                correct += (out.detach().argmax(dim=-1) == yb).sum(dim=1)
            seen += bl
        val_out = _validation_outputs(pop, xv, tv if task_input else None)
        train_loss = [v / seen for v in loss_sum.tolist()]  # as fit: float32 sums, then / seen
        train_acc = (correct.double() / seen).tolist() if dataset.classification else None
        reported: Dict[int, Metrics] = {}
        for i, member in enumerate(members):
            if not running[i]:
                continue
            metrics: Metrics = {"epoch": epoch, "train_loss": float(train_loss[i])}
            if train_acc is not None:
                metrics["train_accuracy"] = float(train_acc[i])
            metrics.update(_member_metrics(val_out[i], yv, tv, dataset, recipes[i]))
            metrics["params"] = params
            bad = [key for key in ("train_loss", "val_loss") if not np.isfinite(metrics[key])]
            if bad:
                results[i].error = f"{bad[0]} is {metrics[bad[0]]} at epoch {epoch}"
                running[i] = False
                continue
            results[i].history.append(metrics)
            reported[i] = metrics
            best[i], stale[i] = patience_step(metrics, member.monitor, best[i], stale[i])
            patience = recipes[i].patience
            if epoch >= epochs[i] or (patience is not None and stale[i] >= patience):
                running[i] = False
        if on_epoch is not None and reported:
            for i in on_epoch(epoch, reported):
                if running[i]:  # a member past its epochs or patience finished: not stopped
                    running[i] = False
                    results[i].stopped = True
    return results, pop


def _schedule_factors(recipes: Sequence[Any], steps_per_epoch: int, epochs: Sequence[int],
                      dev: torch.device) -> Optional[torch.Tensor]:
    """(K, steps) lr factors of the members' schedules (what LambdaLR multiplies lr by), or None."""
    if all(r.schedule is None for r in recipes):
        return None
    total = steps_per_epoch * max(epochs)
    rows = []
    for r, e in zip(recipes, epochs):
        factor = schedule_factor(r.schedule, steps_per_epoch, e)
        rows.append([1.0] * total if factor is None else [float(factor(s)) for s in range(total)])
    return torch.tensor(rows, dtype=torch.float32, device=dev).unsqueeze(-1)  # (K, steps, 1)


def loss_kind(recipe: Any, dataset: Dataset) -> str:
    """The recipe's loss as fit resolves it: "cross_entropy" or "mse"."""
    kind = recipe.loss
    if kind == "auto":
        kind = "cross_entropy" if dataset.classification else "mse"
    if kind == "cross_entropy" and not dataset.classification:
        raise HypError(f"train(loss = \"cross_entropy\") needs class labels; {dataset.name} has regression targets")
    return kind


def member_losses(out: torch.Tensor, y: torch.Tensor, kind: str, smoothing: Optional[torch.Tensor],
                  dataset: Dataset) -> torch.Tensor:
    """(K,) mean training loss of each member's batch; `smoothing`: (K, 1) label smoothing or None."""
    out = out.float()
    if kind == "cross_entropy":
        # -log softmax(out)[y] = logsumexp(out) - out[y]: torch's log_softmax over a short last
        # dimension (the classes) is several times slower than logsumexp on a CPU.
        lse = torch.logsumexp(out, dim=-1)
        picked = out.gather(-1, y.unsqueeze(-1)).squeeze(-1)
        if smoothing is None:
            return (lse - picked).mean(dim=1)
        # torch's label smoothing: (1 - e) nll + e mean(-log p), and mean(-log p) = lse - mean(out)
        return (lse - (1 - smoothing) * picked - smoothing * out.mean(dim=-1)).mean(dim=1)
    target = F.one_hot(y, out.shape[-1]).float() if dataset.classification else y
    return ((out - target) ** 2).flatten(1).mean(dim=1)


def _check_output(out: torch.Tensor, y: torch.Tensor, dataset: Dataset) -> None:
    """The members' outputs fit the targets (else the caller trains them alone, where fit says why)."""
    if dataset.classification:
        ok = out.dim() == 3 and out.shape[2] >= dataset.info.num_classes
    else:
        ok = tuple(out.shape[1:]) == tuple(y.shape[1:])
    if not ok:
        raise HypError(f"the members output shape {tuple(out.shape[1:])}, which does not fit {dataset.name}")


@torch.no_grad()
def _validation_outputs(pop: Layout, x: torch.Tensor, task: Optional[torch.Tensor]) -> torch.Tensor:
    """(K, N, ...) outputs of every member on the validation set (shared input)."""
    outs = [pop.forward(x[i:i + EVAL_BATCH], None if task is None else task[i:i + EVAL_BATCH], False, True).float()
            for i in range(0, len(x), EVAL_BATCH)]
    return torch.cat(outs, dim=1)


def _member_metrics(out: torch.Tensor, y: torch.Tensor, task: Optional[torch.Tensor], dataset: Dataset,
                    recipe: Any) -> Metrics:
    """Validation metrics of one member, computed as fit's validation computes them."""
    kind = loss_kind(recipe, dataset)
    if kind == "cross_entropy":
        loss = float(F.cross_entropy(out, y))
    elif dataset.classification:
        loss = float(F.mse_loss(out, F.one_hot(y, out.shape[1]).float()))
    else:
        loss = float(F.mse_loss(out, y))
    return validation_metrics(out, y, task, dataset, loss)


def _is_oom(e: BaseException) -> bool:
    if isinstance(e, MemoryError):
        return True
    text = str(e).lower()
    return "out of memory" in text or "can't allocate memory" in text or type(e).__name__ == "OutOfMemoryError"
