"""Training regimes: how the tasks of a multi-task data set reach the model, and the metrics they score.

`joint()` (the default) is `train.fit` on all tasks at once. `finetune()`, `continual(beta)` and
`ewc(strength)` train task 0, then task 1, ... (task-id order, which the data sets fix and seed),
each task seeing only its own training samples, through `fit` on that task's samples, so the
recipe's optimizer, schedule, precision, augmentation and patience (on the task's val_loss) apply
within each task. They differ only in what protects the earlier tasks:
- `finetune()`: nothing, the forgetting baseline;
- `continual(beta)`: the output regulariser of von Oswald et al. (ICLR 2020). When task i ends, the
  hypernetwork's generated tensors for task i's embedding are snapshotted; while a later task t
  trains, beta / t * sum_i ||h(e_i) - snapshot_i||^2 joins the loss (no old data is replayed). The
  target's ordinary (not generated) parameters are shared by every task, so they are held to their
  value at the end of the previous task by the same beta-weighted squared distance;
- `ewc(strength)`: online elastic weight consolidation (Kirkpatrick et al. 2017; Schwarz et al.
  2018): strength / 2 * sum F (theta - theta*)^2 over every trained parameter, F the running sum of
  each task's diagonal empirical Fisher, theta* the parameters when the previous task ended.

Under `continual` the embeddings of earlier tasks stay fixed, not regularised: their gradient is
masked and their values restored before every training step. A snapshot is the pair
(embedding, generated weights); holding the embedding fixed makes that pair exactly reproducible at
test time, whereas a regularised embedding could only drift away from the point its target was
taken at, and it has no other job once its task is over (this is also hypnettorch's default).

Metrics, after every epoch, on every task's validation samples: `val_accuracy_task{j}`, their mean
`val_accuracy`, `val_loss` over all of them, `task` (the one training), `accuracy_matrix` (row i:
the accuracy on each task after training task i; the row of the task in training is provisional
until its last epoch, so the last epoch holds the full T x T matrix), `cl_accuracy` (the mean
accuracy over the tasks trained so far: after the last task, the final average accuracy) and
`forgetting` (the mean drop from A[j][j] to the present accuracy on task j over earlier tasks j:
after the last task, backward transfer with its sign turned). Under `joint` on a multi-task
classification set the same names come from fit's per-task accuracies: one row, `cl_accuracy` =
`val_accuracy`, `forgetting` 0 (no task is learnt before another), so a search may choose the
regime and still compare trials by `cl_accuracy`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from hypsearch.compile.hypernet.inputs import TaskConditioner
from hypsearch.data import Dataset
from hypsearch.dsl.errors import HypError

from .train import EVAL_BATCH, fit

Metrics = Dict[str, Any]
SEQUENTIAL = ("finetune", "continual", "ewc")
REGIMES = ("joint",) + SEQUENTIAL


def regime_name(recipe: Any) -> str:
    """The recipe's regime: joint, finetune, continual or ewc."""
    regime = getattr(recipe, "regime", None)
    if regime is None:
        return "joint"
    return getattr(regime, "__hyp_name__", "") or "joint"


def regime_metric_names(recipe: Any, dataset: Dataset) -> List[str]:
    """The scalar metrics (objective candidates) the recipe's regime adds to fit's on this data set
    (none on single-task sets); `accuracy_matrix` comes besides them."""
    if not (dataset.multitask and dataset.classification):
        return []
    return (["task"] if regime_name(recipe) in SEQUENTIAL else []) + ["cl_accuracy", "forgetting"]


def planned_epochs(recipe: Any, dataset: Dataset) -> int:
    """Epochs a full run of the recipe reports: train.epochs, or per task times the tasks."""
    regime = getattr(recipe, "regime", None)
    if regime_name(recipe) not in SEQUENTIAL or not dataset.multitask:
        return recipe.epochs
    per_task = regime.epochs_per_task if regime.epochs_per_task is not None else recipe.epochs
    return per_task * dataset.tasks


def train_regime(model: nn.Module, dataset: Dataset, recipe: Any, *, device: Any = "cpu",
                 task_input: bool = False, report: Optional[Callable[[Metrics], Any]] = None,
                 should_stop: Optional[Callable[[], bool]] = None, augment: Sequence[Any] = (),
                 monitor: Tuple[str, str] = ("val_loss", "min"),
                 checkpoint: Optional[Callable[[Dict[str, Any]], Any]] = None,
                 resume: Optional[Dict[str, Any]] = None) -> List[Metrics]:
    """Train under `recipe.regime` (see the module docstring); arguments as `train.fit`."""
    name = regime_name(recipe)
    if name not in REGIMES:
        raise HypError(f"train: regime must be one of {', '.join(f'{r}()' for r in REGIMES)}, got {name}()")
    if name == "joint":
        return _joint(model, dataset, recipe, device=device, task_input=task_input, report=report,
                      should_stop=should_stop, augment=augment, monitor=monitor, checkpoint=checkpoint,
                      resume=resume)
    if resume is not None:
        raise HypError(f"a trial under train(regime = {name}(...)) cannot be paused and resumed (a scheduler "
                       "such as pbt or hyperband pausing trials): use fifo or asha")
    return _sequential(model, dataset, recipe, recipe.regime, device=device, task_input=task_input,
                       report=report, should_stop=should_stop, augment=augment)


# ---- joint ---------------------------------------------------------------------------------------

def _joint(model, dataset, recipe, *, report, **kwargs) -> List[Metrics]:
    if not (dataset.multitask and dataset.classification):
        return fit(model, dataset, recipe, report=report, **kwargs)
    tasks = dataset.tasks

    def on_epoch(metrics: Metrics) -> None:
        if report is not None:
            report(_joint_metrics(metrics, tasks))

    history = fit(model, dataset, recipe, report=on_epoch, **kwargs)
    return [_joint_metrics(m, tasks) for m in history]


def _joint_metrics(metrics: Metrics, tasks: int) -> Metrics:
    row = [metrics.get(f"val_accuracy_task{j}", float("nan")) for j in range(tasks)]
    return {**metrics, "cl_accuracy": metrics["val_accuracy"], "forgetting": 0.0, "accuracy_matrix": [row]}


# ---- tasks one after another ---------------------------------------------------------------------

class _OnTask(nn.Module):
    """The model seen by `fit` while one task trains: its task id given, the protection's penalty as
    an auxiliary loss (fit adds `aux_loss()` to every step's loss)."""

    def __init__(self, model: nn.Module, task_input: bool, protection: "_Protection") -> None:
        super().__init__()
        self.model, self.task_input, self.task = model, task_input, 0
        self.protection = protection  # a plain object: nothing of it joins the state dict

    @property
    def outputs_per_sample(self) -> int:
        """The model's own (an ensemble trained member by member returns several per sample)."""
        return int(getattr(self.model, "outputs_per_sample", 1))

    def forward(self, x: torch.Tensor, task: Any = None) -> torch.Tensor:
        if self.training:
            self.protection.prepare()
        return self.model(x, task=self.task) if self.task_input else self.model(x)

    def aux_loss(self) -> torch.Tensor:
        own = getattr(self.model, "aux_loss", None)
        penalty = self.protection.penalty()
        return penalty + own() if callable(own) else penalty


class _Protection:
    """What holds earlier tasks in place: nothing (finetune)."""

    def __init__(self, model: nn.Module) -> None:
        self.model, self.task = model, 0
        self.zero = torch.zeros(())

    def begin(self, task: int) -> None:
        """Task `task` starts training."""
        self.task = task
        p = next(self.model.parameters(), None)
        self.zero = torch.zeros((), device=p.device if p is not None else None)

    def prepare(self) -> None:
        """A training step is about to run its forward."""

    def penalty(self) -> torch.Tensor:
        """The term added to each step's loss (after the step's forward)."""
        return self.zero

    def end(self, task: int, part: Dataset, view: _OnTask) -> None:
        """Task `task` has finished training (`part`: its samples)."""

    def close(self) -> None:
        """Training is over: remove what was attached to the model."""


class _OutputRegulariser(_Protection):
    """von Oswald et al.: generated tensors for earlier task embeddings held to their snapshots."""

    def __init__(self, model: nn.Module, beta: float) -> None:
        super().__init__(model)
        hyper = getattr(model, "hypernet", None)
        if hyper is None or not isinstance(hyper.conditioner, TaskConditioner):
            raise HypError("train(regime = continual(...)) regularises a task-conditioned hypernetwork's outputs: "
                           "the program needs hypernet = hypernet(input = task_embedding(...)); for a network "
                           "without one, use ewc(...) or finetune()")
        if not beta >= 0 or not math.isfinite(beta):
            raise HypError(f"continual: beta must be a finite number >= 0, got {beta}")
        self.hyper, self.beta = hyper, float(beta)
        self.table = hyper.conditioner.embedding.weight
        self.rows: Optional[torch.Tensor] = None  # embeddings of the finished tasks, fixed
        self.targets: Dict[str, torch.Tensor] = {}  # key -> (tasks finished, *shape) snapshots
        self.ordinary = [p for p in model.target.parameters() if p.requires_grad]
        self.anchors: List[torch.Tensor] = []
        self.hook = self.table.register_hook(self._mask)

    def _mask(self, grad: torch.Tensor) -> torch.Tensor:
        if self.task == 0:
            return grad
        grad = grad.clone()
        grad[:self.task] = 0  # earlier embeddings are fixed: no gradient reaches them
        return grad

    @torch.no_grad()
    def _restore_rows(self) -> None:
        if self.rows is not None:
            self.table[:len(self.rows)].copy_(self.rows)  # undo weight decay or momentum drift

    def prepare(self) -> None:
        self._restore_rows()  # before the forward: autograd forbids changing the table after it

    def _generated(self, first: int, stop: int) -> Dict[str, torch.Tensor]:
        """The generated tensors for tasks first..stop-1, leading dim one per task, in one batched call."""
        return self.hyper.generate(self.hyper.conditioner.calibration(None)[first:stop])

    def penalty(self) -> torch.Tensor:
        if self.task == 0 or self.beta == 0.0:
            return self.zero
        gen = self._generated(0, self.task)
        drift = sum(((gen[k] - t) ** 2).sum() for k, t in self.targets.items()) / self.task
        if self.ordinary:
            drift = drift + sum(((p - a) ** 2).sum() for p, a in zip(self.ordinary, self.anchors))
        return self.beta * drift

    @torch.no_grad()
    def end(self, task: int, part: Dataset, view: _OnTask) -> None:
        self._restore_rows()
        self.rows = self.table[:task + 1].detach().clone()
        mode = self.model.training
        self.model.eval()
        for k, v in self._generated(task, task + 1).items():
            snap = v.detach()
            self.targets[k] = snap if k not in self.targets else torch.cat([self.targets[k], snap])
        self.anchors = [p.detach().clone() for p in self.ordinary]
        self.model.train(mode)

    def close(self) -> None:
        self._restore_rows()
        self.hook.remove()


class _EWC(_Protection):
    """Online EWC: a running sum of diagonal empirical Fishers, anchored at the last task's end."""

    def __init__(self, model: nn.Module, strength: float, samples: int) -> None:
        super().__init__(model)
        if not strength >= 0 or not math.isfinite(strength):
            raise HypError(f"ewc: strength must be a finite number >= 0, got {strength}")
        if not isinstance(samples, int) or samples < 1:
            raise HypError(f"ewc: samples must be a positive integer, got {samples!r}")
        self.strength, self.samples = float(strength), samples
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.fisher: Optional[List[torch.Tensor]] = None
        self.anchors: List[torch.Tensor] = []

    def penalty(self) -> torch.Tensor:
        if self.fisher is None or self.strength == 0.0:
            return self.zero
        return 0.5 * self.strength * sum((f * (p - a) ** 2).sum()
                                         for f, p, a in zip(self.fisher, self.params, self.anchors))

    def end(self, task: int, part: Dataset, view: _OnTask) -> None:
        dev = self.params[0].device
        x, y, _ = part.tensors("train", dev)
        pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(task))[:self.samples].to(dev)
        fisher = [torch.zeros_like(p) for p in self.params]
        mode = view.training
        view.eval()  # no dropout noise in the estimate
        for i in pick:
            loss = F.cross_entropy(view(x[i:i + 1]), y[i:i + 1])
            grads = torch.autograd.grad(loss, self.params, allow_unused=True)
            for f, g in zip(fisher, grads):
                if g is not None:
                    f.add_(g.detach() ** 2)
        view.train(mode)
        fisher = [f / len(pick) for f in fisher]
        self.fisher = fisher if self.fisher is None else [a + b for a, b in zip(self.fisher, fisher)]
        self.anchors = [p.detach().clone() for p in self.params]


def _protection(regime: Any, model: nn.Module) -> _Protection:
    name = regime.__hyp_name__
    if name == "continual":
        return _OutputRegulariser(model, regime.beta)
    if name == "ewc":
        return _EWC(model, regime.strength, regime.samples)
    return _Protection(model)


@torch.no_grad()
def _score(model: nn.Module, vals: Sequence[Tuple[torch.Tensor, torch.Tensor]], task_input: bool
           ) -> Tuple[List[float], float]:
    """(accuracy on each task's validation samples, loss over all of them)."""
    mode = model.training
    model.eval()
    accs, loss_sum, count = [], 0.0, 0
    for j, (x, y) in enumerate(vals):
        outs = [(model(x[i:i + EVAL_BATCH], task=j) if task_input else model(x[i:i + EVAL_BATCH])).float()
                for i in range(0, len(x), EVAL_BATCH)]
        out = torch.cat(outs)
        accs.append(float((out.argmax(dim=1) == y).float().mean()))
        loss_sum += float(F.cross_entropy(out, y, reduction="sum"))
        count += len(y)
    model.train(mode)
    return accs, loss_sum / max(count, 1)


def cl_summary(rows: Sequence[Sequence[float]], accs: Sequence[float], task: int) -> Tuple[float, float]:
    """(cl_accuracy, forgetting) while task `task` trains with present accuracies `accs`, given the
    accuracy-matrix rows of the finished tasks."""
    cl = sum(accs[:task + 1]) / (task + 1)
    drops = [rows[j][j] - accs[j] for j in range(task)]
    return cl, (sum(drops) / len(drops) if drops else 0.0)


def _sequential(model: nn.Module, dataset: Dataset, recipe: Any, regime: Any, *, device: Any, task_input: bool,
                report: Optional[Callable[[Metrics], Any]], should_stop: Optional[Callable[[], bool]],
                augment: Sequence[Any]) -> List[Metrics]:
    name = regime.__hyp_name__
    if not dataset.multitask:
        raise HypError(f"train(regime = {name}(...)) trains the tasks of a multi-task data set one after "
                       f"another; {dataset.name} has a single task (split_digits or permuted_digits have several)")
    if not dataset.classification:
        raise HypError(f"train(regime = {name}(...)) scores tasks by accuracy; {dataset.name} has regression targets")
    epochs = regime.epochs_per_task if regime.epochs_per_task is not None else recipe.epochs
    if not isinstance(epochs, int) or epochs < 1:
        raise HypError(f"{name}: epochs_per_task must be a positive integer (or none), got {epochs!r}")
    tasks = dataset.tasks
    dev = torch.device(device)
    model.to(dev)
    parts = [dataset.for_task(j) for j in range(tasks)]
    vals = [p.tensors("val", dev)[:2] for p in parts]
    protection = _protection(regime, model)
    view = _OnTask(model, task_input, protection)
    rows: List[List[float]] = []
    history: List[Metrics] = []
    carried: Dict[str, Any] = {}
    halted = False

    def keep(state: Dict[str, Any]) -> None:
        carried["state"] = state

    def stop() -> bool:
        nonlocal halted
        halted = bool(should_stop()) if should_stop is not None else False
        return halted

    try:
        for t in range(tasks):
            view.task = t
            protection.begin(t)
            accs: List[float] = []

            def on_epoch(m: Metrics, t: int = t) -> None:
                nonlocal accs
                accs, loss = _score(model, vals, task_input)
                cl, forgetting = cl_summary(rows, accs, t)
                out: Metrics = {"epoch": len(history) + 1, "task": t, "train_loss": m["train_loss"],
                                "train_accuracy": m["train_accuracy"], "val_loss": loss,
                                "val_accuracy": sum(accs) / len(accs)}
                out.update({f"val_accuracy_task{j}": a for j, a in enumerate(accs)})
                out.update({"cl_accuracy": cl, "forgetting": forgetting,
                            "accuracy_matrix": [list(r) for r in rows] + [list(accs)], "params": m["params"]})
                history.append(out)
                if report is not None:
                    report(dict(out))

            resume = None
            if not regime.fresh_optimizer and "state" in carried:
                resume = dict(carried["state"], epoch=0, history=[], best=None, stale=0, scheduler=None,
                              model={k: v.detach().cpu() for k, v in view.state_dict().items()})
            fit(view, parts[t], recipe.clone(override={"epochs": epochs, "seed": recipe.seed + t}), device=dev,
                task_input=False, report=on_epoch, should_stop=stop if should_stop is not None else None,
                augment=augment, monitor=("val_loss", "min"),
                checkpoint=None if regime.fresh_optimizer else keep, resume=resume)
            rows.append(list(accs))
            if halted:
                break
            protection.end(t, parts[t], view)
    finally:
        protection.close()
    return history
