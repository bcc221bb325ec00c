"""The training loop of one trial: a model, a `Dataset` and a `train(...)` recipe -> per-epoch metrics.

Deterministic on the CPU for a given `train.seed`: it seeds torch's global generator (dropout,
anything the model samples) and draws the batch order and augmentations from a CPU generator of
its own. Losses are checked once per epoch (no device sync per step); a NaN or infinite loss
raises `TrialFailed`.

Data takes one of two paths (`data_plan`, logged): a set that fits on the trial's device is held
there and batched by index; a larger one streams from host memory through a DataLoader with
workers and pinned memory. On a GPU the recipe's precision runs under autocast (fp16 with a
gradient scaler) and conv nets run channels_last; on a CPU everything is fp32. The loop's whole
state goes to `checkpoint(state)` after each epoch and comes back through `resume`, so a trial
paused by a scheduler continues where it stopped.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import warnings
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from hypsearch.data import Dataset
from hypsearch.dsl.errors import HypError
from hypsearch.dsl.vocabulary.data import DataInfo
from hypsearch.dsl.vocabulary.training import train as TrainRecipe

from .allocator import keep_freed_memory
from .augment import make_augment
from .errors import TrialFailed
from .optimizers import make_optimizer
from .schedules import make_scheduler

Metrics = Dict[str, Any]
EVAL_BATCH = 2048
DEVICE_SHARE = 0.4  # at most this share of the GPU's free memory holds a data set (fractional trials share it)
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
LOSSES = ("auto", "cross_entropy", "mse")
LOADING = ("auto", "device", "stream")
STATE_FORMAT = "hypsearch-fit/1"

log = logging.getLogger("hypsearch.train")


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


@dataclass(frozen=True)
class DataPlan:
    """How a trial's data reaches its device: held there ("device") or streamed ("stream"), and why."""

    mode: str
    reason: str


def data_plan(dataset: Dataset, device: Any, loading: str = "auto", free: Optional[int] = None) -> DataPlan:
    """Hold the set on the device when it fits (or is asked to), else stream it through a DataLoader.

    `free`: the device's free bytes (default: asked from CUDA; a CPU holds what is in memory)."""
    if loading not in LOADING:
        raise HypError(f"train: loading must be one of {', '.join(LOADING)}, got {loading!r}")
    size = dataset.nbytes
    if loading != "auto":
        return DataPlan(loading, f"train(loading = \"{loading}\")")
    dev = torch.device(device)
    if dev.type != "cuda" and free is None:
        return DataPlan("device", f"{_mb(size)} already in host memory, batched by index on {dev.type}")
    if free is None:
        free, _ = torch.cuda.mem_get_info(dev)
    budget = int(free * DEVICE_SHARE)
    if size <= budget:
        return DataPlan("device", f"{_mb(size)} fits in {DEVICE_SHARE:.0%} of the {_mb(free)} free on {dev}")
    return DataPlan("stream", f"{_mb(size)} does not fit in {DEVICE_SHARE:.0%} of the {_mb(free)} free on {dev}")


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def fit(model: torch.nn.Module, dataset: Dataset, recipe: Optional[Any] = None, *, device: Any = "cpu",
        task_input: bool = False, report: Optional[Callable[[Metrics], Any]] = None,
        should_stop: Optional[Callable[[], bool]] = None, augment: Sequence[Any] = (),
        monitor: Tuple[str, str] = ("val_loss", "min"),
        checkpoint: Optional[Callable[[Dict[str, Any]], Any]] = None,
        resume: Optional[Dict[str, Any]] = None) -> List[Metrics]:
    """Train `model` on `dataset` with a `train(...)` recipe, evaluating on validation data each epoch.

    `task_input`: call `model(x, task=task_ids)` (task-conditioned models) instead of `model(x)`.
    `augment`: augmentation components applied to training batches. `monitor`: the metric and
    direction ("min" | "max") that `train(patience)` watches. After each epoch `checkpoint(state)`
    (when given) gets the loop's state, then `report(metrics)` is called, then `should_stop()`; a
    true answer ends training there (fewer epochs in the history than the recipe asks).
    `resume`: a state from `checkpoint`, to continue from its epoch.
    """
    recipe = _plain(recipe if recipe is not None else TrainRecipe())
    _check_recipe(recipe)
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    precision = _precision(recipe.precision, cuda)
    seed_everything(recipe.seed)
    if dev.type == "cpu":
        keep_freed_memory()  # no page faults per step for the activations (see runner.allocator)
    model.to(dev)
    conv = cuda and any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    if conv:
        model.to(memory_format=torch.channels_last)  # tensor cores read NHWC without transposes
    plan = data_plan(dataset, dev, recipe.loading)
    log.log(logging.WARNING if plan.mode == "stream" and recipe.loading == "auto" else logging.INFO,
            "%s: data %s (%s)", dataset.name, "streamed through a DataLoader with pinned memory"
            if plan.mode == "stream" else "held on the device", plan.reason)
    batches = _DeviceBatches(dataset, dev, task_input) if plan.mode == "device" else \
        _StreamBatches(dataset, dev, task_input, recipe.workers)
    loss_of = _loss_function(dataset, recipe)
    val_loss_of = _loss_function(dataset, recipe, smoothing=False)
    augment_op = make_augment(augment, dataset.info.input_shape)
    aux_loss = getattr(model, "aux_loss", None)
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = make_optimizer(recipe.optimizer, model.parameters(), recipe.weight_decay)
    n, b, k = batches.n, recipe.batch_size, recipe.accumulate
    steps_per_epoch = math.ceil(math.ceil(n / b) / k)
    scheduler = make_scheduler(recipe.schedule, optimizer, steps_per_epoch, recipe.epochs)
    scaler = torch.amp.GradScaler("cuda") if cuda and precision is torch.float16 else None
    runner = _maybe_compile(model, recipe.compile)
    generator = torch.Generator().manual_seed(recipe.seed)
    history: List[Metrics] = []  # one metrics dict per finished epoch (fewer than asked: stopped early)
    best, stale = None, 0
    first = 1
    if resume is not None:
        first, history, best, stale = _restore(resume, model, optimizer, scheduler, scaler, generator)

    mixed = precision is not torch.float32
    # A disabled autocast still costs a cache clear per step (~0.3 ms on a CPU): only enter it to mix.
    autocast = (lambda: torch.autocast(dev.type, dtype=precision)) if mixed else contextlib.nullcontext
    clip = recipe.clip  # symbolic attributes are slow to read: once, not per step

    def forward(xb: torch.Tensor, tb: Optional[torch.Tensor]) -> torch.Tensor:
        nonlocal runner
        if conv and xb.ndim == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with autocast():
            try:
                return runner(xb, task=tb) if task_input else runner(xb)
            except HypError:
                raise
            except Exception as e:
                if runner is model:
                    raise
                warnings.warn(f"train(compile = true): torch.compile failed ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''}); training uncompiled", RuntimeWarning)
                runner = model
                return model(xb, task=tb) if task_input else model(xb)

    checked = bool(history)
    for epoch in range(first, recipe.epochs + 1):
        model.train()
        # An ensemble that trains each member on every sample returns `reps` outputs per sample,
        # member after member: each is scored against the sample's target.
        reps = int(getattr(model, "outputs_per_sample", 1))
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), dtype=torch.int64, device=dev)
        seen = 0
        optimizer.zero_grad(set_to_none=True)
        pending = 0
        for xb, yb, tb in batches.train(b, generator):
            if len(yb) < 2 and seen:  # a trailing batch of one breaks batchnorm; drop it
                continue
            if augment_op is not None:
                xb = augment_op(xb, generator)
            out = forward(xb, tb)
            if reps > 1:
                yb = yb.repeat(reps)
            if not checked:
                _check_output(out, yb, dataset)
                checked = True
                if callable(aux_loss) and not aux_loss().requires_grad:
                    aux_loss = None  # a constant 0 (no mixture-of-experts layer): not worth a call per step
            loss = loss_of(out.float(), yb)
            total = loss + aux_loss() if callable(aux_loss) else loss
            total = total / k if k > 1 else total
            (scaler.scale(total) if scaler is not None else total).backward()
            pending += 1
            if pending == k:
                _step(model, optimizer, scheduler, scaler, clip)
                pending = 0
            loss_sum += loss.detach() * len(yb)
            if dataset.classification:
                correct += (out.detach().argmax(dim=1) == yb).sum()
            seen += len(yb)
        if pending:  # the epoch's last, partial accumulation still counts as a step
            _step(model, optimizer, scheduler, scaler, clip)
        metrics: Metrics = {"epoch": epoch, "train_loss": float(loss_sum) / seen}
        if dataset.classification:
            metrics["train_accuracy"] = int(correct) / seen
        metrics.update(_validate(model, forward, batches, dataset, val_loss_of))
        metrics["params"] = params
        bad = [k2 for k2 in ("train_loss", "val_loss") if not np.isfinite(metrics[k2])]
        if bad:
            raise TrialFailed(f"{bad[0]} is {metrics[bad[0]]} at epoch {epoch}", history=history)
        history.append(metrics)
        best, stale = patience_step(metrics, monitor, best, stale)
        if checkpoint is not None:
            checkpoint(_state(epoch, history, best, stale, model, optimizer, scheduler, scaler, generator))
        if report is not None:
            report(dict(metrics))
        if should_stop is not None and should_stop():
            break
        if recipe.patience is not None and stale >= recipe.patience:
            log.info("%s: stopped at epoch %d: %s did not improve for %d epochs", dataset.name, epoch,
                     monitor[0], recipe.patience)
            break
    return history


def _plain(recipe: Any) -> Any:
    """The recipe's fields as plain attributes, read once: a symbolic attribute read costs about
    10 us, and `fit` makes some thirty (0.3 ms a call, a sixth of a small MLP's train step)."""
    args = getattr(recipe, "sym_init_args", None)
    return SimpleNamespace(**dict(args.sym_items())) if args is not None else recipe


def _check_recipe(recipe: Any) -> None:
    if recipe.epochs < 1 or recipe.batch_size < 1:
        raise HypError(f"train: epochs and batch_size must be >= 1, got epochs = {recipe.epochs}, "
                       f"batch_size = {recipe.batch_size}")
    if recipe.clip is not None and not recipe.clip > 0:
        raise HypError(f"train: clip must be > 0 (or none), got {recipe.clip}")
    if recipe.precision not in PRECISIONS:
        raise HypError(f"train: precision must be one of {', '.join(PRECISIONS)}, got {recipe.precision!r}")
    if recipe.loss not in LOSSES:
        raise HypError(f"train: loss must be one of {', '.join(LOSSES)}, got {recipe.loss!r}")
    if not 0.0 <= recipe.label_smoothing < 1.0:
        raise HypError(f"train: label_smoothing must be in [0, 1), got {recipe.label_smoothing}")
    if recipe.accumulate < 1:
        raise HypError(f"train: accumulate must be >= 1, got {recipe.accumulate}")
    if recipe.patience is not None and recipe.patience < 1:
        raise HypError(f"train: patience must be >= 1 (or none), got {recipe.patience}")
    if recipe.workers < 0:
        raise HypError(f"train: workers must be >= 0, got {recipe.workers}")


def _precision(name: str, cuda: bool) -> torch.dtype:
    if name != "fp32" and not cuda:
        warnings.warn(f"train(precision = \"{name}\") is mixed precision on a GPU; this trial runs on a CPU "
                      "in fp32", RuntimeWarning)
        return torch.float32
    return PRECISIONS[name]


def _maybe_compile(model: torch.nn.Module, wanted: bool) -> Callable[..., Any]:
    """torch.compile(model) when asked; the model itself when compilation is unavailable."""
    if not wanted:
        return model
    try:
        return torch.compile(model)
    except Exception as e:  # no compiler backend in this environment
        warnings.warn(f"train(compile = true): torch.compile is unavailable ({type(e).__name__}: {e}); "
                      "training uncompiled", RuntimeWarning)
        return model


def _step(model, optimizer, scheduler, scaler, clip) -> None:
    if scaler is not None:
        scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if scheduler is not None:
        scheduler.step()


def patience_step(metrics: Metrics, monitor: Tuple[str, str], best: Optional[float], stale: int):
    """(best value so far, epochs since it improved) after an epoch's `metrics` (`patience`)."""
    name, mode = monitor
    value = metrics.get(name)
    if value is None or not np.isfinite(value):
        return best, stale + 1
    better = best is None or (value < best if mode == "min" else value > best)
    return (value, 0) if better else (best, stale + 1)


def _state(epoch, history, best, stale, model, optimizer, scheduler, scaler, generator) -> Dict[str, Any]:
    return {"format": STATE_FORMAT, "epoch": epoch, "history": [dict(h) for h in history], "best": best,
            "stale": stale, "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict() if scheduler else None,
            "scaler": scaler.state_dict() if scaler else None, "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state()}


def _restore(state, model, optimizer, scheduler, scaler, generator):
    """Load a checkpointed state; the recipe's own lr, weight decay, ... win over the saved ones (a
    scheduler such as PBT may have changed them since)."""
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise HypError(f"cannot resume training: not a checkpoint of this trainer (format {STATE_FORMAT})")
    model.load_state_dict(state["model"])
    groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    optimizer.load_state_dict(state["optimizer"])
    for g, h in zip(optimizer.param_groups, groups):
        g.update(h)
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
        scheduler.base_lrs = [g.get("initial_lr", g["lr"]) for g in groups]
        for g, base, fn in zip(optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas):
            g["lr"] = base * fn(scheduler.last_epoch)
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    return int(state["epoch"]) + 1, [dict(h) for h in state["history"]], state["best"], int(state["stale"])


# ---- the two data paths ------------------------------------------------------------------------

class _DeviceBatches:
    """The whole set on the device; a batch is an index into it."""

    def __init__(self, dataset: Dataset, dev: torch.device, task_input: bool) -> None:
        self.x, self.y, self.task = dataset.tensors("train", dev)
        self.val = dataset.tensors("val", dev)
        if task_input and self.task is None:  # a task-conditioned model on a single-task set: all task 0
            self.task = torch.zeros(len(self.x), dtype=torch.int64, device=dev)
            self.val = self.val[:2] + (torch.zeros(len(self.val[0]), dtype=torch.int64, device=dev),)
        self.dev, self.n = dev, len(self.x)

    def train(self, b: int, generator: torch.Generator) -> Iterator[Tuple[torch.Tensor, ...]]:
        order = torch.randperm(self.n, generator=generator).to(self.dev)
        for start in range(0, self.n, b):
            idx = order[start:start + b]
            yield self.x[idx], self.y[idx], None if self.task is None else self.task[idx]

    def validation(self) -> Iterator[Tuple[torch.Tensor, ...]]:
        x, y, t = self.val
        for i in range(0, len(x), EVAL_BATCH):
            yield x[i:i + EVAL_BATCH], y[i:i + EVAL_BATCH], None if t is None else t[i:i + EVAL_BATCH]


class _Gather(torch.utils.data.Dataset):
    """Host arrays indexed a whole batch at a time (one fancy index per batch, not per sample)."""

    def __init__(self, arrays: Sequence[Optional[np.ndarray]], dtypes: Sequence[torch.dtype]) -> None:
        self.arrays, self.dtypes = arrays, dtypes

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, idx: Any) -> Tuple[Optional[torch.Tensor], ...]:
        return tuple(None if a is None else torch.as_tensor(a[idx], dtype=d) for a, d in zip(self.arrays, self.dtypes))


def _collate(batch):
    return batch  # batches come whole from _Gather


class _StreamBatches:
    """Batches gathered from host memory by DataLoader workers, pinned, and copied asynchronously."""

    def __init__(self, dataset: Dataset, dev: torch.device, task_input: bool, workers: int) -> None:
        self.dataset, self.dev, self.workers = dataset, dev, workers
        self.task_input = task_input
        self.n = len(dataset.x_train)
        self.ydtype = torch.int64 if dataset.classification else torch.float32

    def _loader(self, split: str, sampler: Any) -> torch.utils.data.DataLoader:
        x, y, t = self.dataset.arrays(split)
        if t is None and self.task_input:
            t = np.zeros(len(x), dtype=np.int64)
        gather = _Gather((x, y, t), (torch.float32, self.ydtype, torch.int64))
        return torch.utils.data.DataLoader(gather, sampler=sampler, batch_size=None, collate_fn=_collate,
                                           num_workers=self.workers, pin_memory=self.dev.type == "cuda",
                                           persistent_workers=False)

    def _moved(self, loader) -> Iterator[Tuple[torch.Tensor, ...]]:
        for batch in loader:
            yield tuple(None if t is None else t.to(self.dev, non_blocking=True) for t in batch)

    def train(self, b: int, generator: torch.Generator) -> Iterator[Tuple[torch.Tensor, ...]]:
        order = torch.randperm(self.n, generator=generator).numpy()
        sampler = [np.sort(order[s:s + b]) for s in range(0, self.n, b)]  # sorted: sequential reads
        return self._moved(self._loader("train", sampler))

    def validation(self) -> Iterator[Tuple[torch.Tensor, ...]]:
        n = len(self.dataset.x_val)
        return self._moved(self._loader("val", [slice(i, i + EVAL_BATCH) for i in range(0, n, EVAL_BATCH)]))


def _loss_function(dataset: Dataset, recipe: Any, smoothing: bool = True
                   ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The recipe's loss: "auto" is cross-entropy for classes and MSE for regression targets;
    label smoothing only in training (`smoothing`), so val_loss stays comparable across recipes."""
    kind = recipe.loss
    if kind == "auto":
        kind = "cross_entropy" if dataset.classification else "mse"
    if kind == "cross_entropy":
        if not dataset.classification:
            raise HypError(f"train(loss = \"cross_entropy\") needs class labels; {dataset.name} has regression "
                           "targets (use loss = \"mse\" or \"auto\")")
        eps = float(recipe.label_smoothing) if smoothing else 0.0
        return lambda out, y: F.cross_entropy(out, y, label_smoothing=eps)
    if dataset.classification:  # mse on class scores: against one-hot targets
        classes = dataset.info.num_classes
        return lambda out, y: F.mse_loss(out, F.one_hot(y, out.shape[1] if out.ndim == 2 else classes).float())
    return F.mse_loss


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
def _validate(model: torch.nn.Module, forward: Callable, batches: Any, dataset: Dataset,
              loss_of: Callable) -> Metrics:
    """Validation loss and accuracy (or mse and r2), per task and their mean for multi-task sets."""
    model.eval()
    outs, ys, ts = [], [], []
    for xb, yb, tb in batches.validation():
        outs.append(forward(xb, tb).float())
        ys.append(yb)
        ts.append(tb)
    if len(outs) == 1:  # the usual case (up to EVAL_BATCH samples): no copy
        out, y, task = outs[0], ys[0], ts[0]
    else:
        out, y = torch.cat(outs), torch.cat(ys)
        task = None if ts[0] is None else torch.cat(ts)
    return validation_metrics(out, y, task, dataset, float(loss_of(out, y)))


def validation_metrics(out: torch.Tensor, y: torch.Tensor, task: Optional[torch.Tensor], dataset: Dataset,
                       loss: float) -> Metrics:
    """Validation metrics of outputs `out` for targets `y`: loss and accuracy (or mse and r2), per
    task and their mean for multi-task sets (shared by `fit` and packed populations)."""
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
    if dataset.multitask:
        values = []
        for t in range(dataset.tasks):
            mask = task == t
            v = float(per_sample[mask].mean()) if bool(mask.any()) else float("nan")
            metrics[f"{key}_task{t}"] = v
            values.append(v)
        present = [v for v in values if np.isfinite(v)]
        metrics[key] = float(np.mean(present)) if present else float("nan")  # mean over tasks
    return metrics
