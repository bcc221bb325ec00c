"""The training loop of one trial: a model, a `Dataset` and a `train(...)` recipe -> per-epoch metrics.

Deterministic on the CPU for a given `train.seed`: it seeds torch's global generator (dropout,
anything the model samples) and draws the batch order from a generator of its own. Losses are
checked once per epoch (no device sync per step); a NaN or infinite loss raises `TrialFailed`.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F

from hypsearch.data import Dataset
from hypsearch.dsl.errors import HypError
from hypsearch.dsl.vocabulary.data import DataInfo
from hypsearch.dsl.vocabulary.training import train as TrainRecipe

from .errors import TrialFailed
from .optimizers import make_optimizer

Metrics = Dict[str, Any]
EVAL_BATCH = 2048


def metric_names(info: DataInfo, multitask: bool) -> List[str]:
    """The metrics `fit` reports each epoch for a data set of this shape, in order."""
    names = ["epoch", "train_loss"]
    if info.num_classes is not None:
        names += ["train_accuracy", "val_loss", "val_accuracy"]
        per_task = "val_accuracy"
    else:
        names += ["val_loss", "val_mse", "val_r2"]
        per_task = "val_mse"
    if multitask:
        names += [f"{per_task}_task{t}" for t in range(info.tasks)]
    return names + ["params"]


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and random (initialisation, dropout, anything user code samples)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def fit(model: torch.nn.Module, dataset: Dataset, recipe: Optional[Any] = None, *, device: Any = "cpu",
        task_input: bool = False, report: Optional[Callable[[Metrics], Any]] = None,
        should_stop: Optional[Callable[[], bool]] = None) -> List[Metrics]:
    """Train `model` on `dataset` with a `train(...)` recipe, evaluating on validation data each epoch.

    `task_input`: call `model(x, task=task_ids)` (task-conditioned models) instead of `model(x)`.
    After each epoch `report(metrics)` is called, then `should_stop()`; a true answer ends
    training there (fewer epochs in the history than the recipe asks).
    """
    recipe = recipe if recipe is not None else TrainRecipe()
    if recipe.epochs < 1 or recipe.batch_size < 1:
        raise HypError(f"train: epochs and batch_size must be >= 1, got epochs = {recipe.epochs}, "
                       f"batch_size = {recipe.batch_size}")
    if recipe.clip is not None and not recipe.clip > 0:
        raise HypError(f"train: clip must be > 0 (or none), got {recipe.clip}")
    seed_everything(recipe.seed)
    model.to(device)
    optimizer = make_optimizer(recipe.optimizer, model.parameters(), recipe.weight_decay)
    x, y, task = dataset.tensors("train", device)
    val = dataset.tensors("val", device)
    if task_input and task is None:  # a task-conditioned model on a single-task set: all task 0
        task = torch.zeros(len(x), dtype=torch.int64, device=device)
        val = val[:2] + (torch.zeros(len(val[0]), dtype=torch.int64, device=device),)
    forward = (lambda xb, tb: model(xb, task=tb)) if task_input else (lambda xb, tb: model(xb))
    loss_of = _loss_function(dataset)
    aux_loss = getattr(model, "aux_loss", None)
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    generator = torch.Generator().manual_seed(recipe.seed)
    n, b = len(x), recipe.batch_size
    history: List[Metrics] = []  # one metrics dict per finished epoch (fewer than asked: stopped early)
    checked = False
    for epoch in range(1, recipe.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=generator).to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        seen = 0
        for start in range(0, n, b):
            idx = order[start:start + b]
            if len(idx) < 2 and seen:  # a trailing batch of one breaks batchnorm; drop it
                continue
            xb, yb = x[idx], y[idx]
            out = forward(xb, task[idx] if task is not None else None)
            if not checked:
                _check_output(out, yb, dataset)
                checked = True
            loss = loss_of(out, yb)
            total = loss + aux_loss() if callable(aux_loss) else loss
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            if recipe.clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.clip)
            optimizer.step()
            loss_sum += loss.detach() * len(idx)
            if dataset.classification:
                correct += (out.detach().argmax(dim=1) == yb).sum()
            seen += len(idx)
        metrics: Metrics = {"epoch": epoch, "train_loss": float(loss_sum) / seen}
        if dataset.classification:
            metrics["train_accuracy"] = int(correct) / seen
        metrics.update(_validate(model, forward, val, dataset))
        metrics["params"] = params
        bad = [k for k in ("train_loss", "val_loss") if not np.isfinite(metrics[k])]
        if bad:
            raise TrialFailed(f"{bad[0]} is {metrics[bad[0]]} at epoch {epoch}", history=history)
        history.append(metrics)
        if report is not None:
            report(dict(metrics))
        if should_stop is not None and should_stop():
            break
    return history


def _loss_function(dataset: Dataset) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return F.cross_entropy if dataset.classification else F.mse_loss


def _check_output(out: Any, y: torch.Tensor, dataset: Dataset) -> None:
    """The model's output fits the targets, or a HypError saying how to end the target."""
    if not isinstance(out, torch.Tensor):
        raise HypError(f"the model must return a tensor, got {type(out).__name__}")
    info = dataset.info
    if dataset.classification:
        if out.ndim != 2 or out.shape[0] != len(y) or out.shape[1] < info.num_classes:
            raise HypError(f"the model outputs shape {tuple(out.shape)} for a batch of {len(y)}, but "
                           f"{dataset.name} needs ({len(y)}, {info.num_classes}) class scores: end the "
                           f"target with linear(out = {info.num_classes})")
    elif tuple(out.shape) != tuple(y.shape):
        raise HypError(f"the model outputs shape {tuple(out.shape)} for a batch of {len(y)}, but "
                       f"{dataset.name} has targets of shape {tuple(y.shape)}: end the target with "
                       f"linear(out = {info.outputs})")


@torch.no_grad()
def _validate(model: torch.nn.Module, forward: Callable, val: tuple, dataset: Dataset) -> Metrics:
    """Validation loss and accuracy (or mse and r2), per task and their mean for multi-task sets."""
    model.eval()
    x, y, task = val
    outs = [forward(x[i:i + EVAL_BATCH], None if task is None else task[i:i + EVAL_BATCH])
            for i in range(0, len(x), EVAL_BATCH)]
    out = torch.cat(outs)
    loss = float(_loss_function(dataset)(out, y))
    per_task = dataset.multitask
    if dataset.classification:
        hit = (out.argmax(dim=1) == y).float()
        metrics = {"val_loss": loss, "val_accuracy": float(hit.mean())}
        key, per_sample = "val_accuracy", hit
    else:
        err = ((out - y) ** 2)
        sst = float(((y - y.mean(dim=0)) ** 2).sum())
        metrics = {"val_loss": loss, "val_mse": float(err.mean()),
                   "val_r2": 1.0 - float(err.sum()) / sst if sst > 0 else 0.0}
        key, per_sample = "val_mse", err.mean(dim=1)
    if per_task:
        values = []
        for t in range(dataset.tasks):
            mask = task == t
            v = float(per_sample[mask].mean()) if bool(mask.any()) else float("nan")
            metrics[f"{key}_task{t}"] = v
            values.append(v)
        present = [v for v in values if np.isfinite(v)]
        metrics[key] = float(np.mean(present)) if present else float("nan")  # mean over tasks
    return metrics
