"""One trial: a concrete program -> trained, scored `TrialResult` (or `TrialFailed` / `TrialInvalid`).

`evaluate` is what every executor calls. It resolves the objective, then either calls the user's
Python objective (which replaces training) or loads the data, builds the program with
`hypsearch.build` and trains it with the program's `train(...)` recipe, calling `report` after
each epoch. Failures map onto the trial statuses the journal records:
- `TrialInvalid`: the program cannot be built or its output does not fit the data;
- `TrialFailed`: an exception in the program or objective, a NaN / infinite loss, out of memory;
- `HypError`: a mistake that concerns every trial (unknown metric, missing data file, bad import).
Exceptions raised by `report` or `should_stop` themselves (a scheduler stopping the trial) pass
through unchanged.
"""

from __future__ import annotations

import inspect
import os
import random
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from hypsearch.data import Dataset, load_data
from hypsearch.dsl.errors import HypError, suggest
from hypsearch.dsl.pyref import is_file_ref, load_file, load_module, resolve

from .errors import TrialFailed, TrialInfeasible, TrialInvalid
from ..objective_value import objective_value

Metrics = Dict[str, Any]
OBJECTIVE_KEY = "objective"  # added to every reported dict: the objective's value at that point


@dataclass
class TrialResult:
    """The outcome of a finished (or early-stopped) trial."""

    metrics: Metrics                 # the last epoch's metrics (or the Python objective's)
    history: List[Metrics]           # one dict per epoch (one entry for a Python objective)
    value: float                     # the objective's value, not negated
    mode: str                        # "max" or "min"
    model: Any = None                # the trained nn.Module; None for a Python objective
    objective: str = ""              # the metric name, or the Python reference
    stopped: bool = False            # ended early by `should_stop`
    budget: float = 1.0              # epochs done / epochs asked
    values: Optional[List[float]] = None       # several objectives: the vector (`value` is its first)
    constraints: Optional[List[float]] = None  # each constraint's value (at or below 0: met); None: none


@dataclass(frozen=True)
class Objective:
    """What a trial is scored by: a metric name or a Python function, and the direction."""

    mode: str
    metric: Optional[str] = None
    ref: Optional[str] = None

    @property
    def name(self) -> str:
        return self.metric if self.metric is not None else f"python({self.ref!r})"


def objectives_of(program: Any, classification: bool = True) -> List[Objective]:
    """Every objective of the program, in the order stated (one unless `objective = [...]`)."""
    obj = program.objective
    if isinstance(obj, (list, tuple)):
        if not obj:
            raise HypError("`objective = []` names no objective")
        return [_one_objective(o) for o in obj]
    return [objective_of(program, classification)]


def objective_of(program: Any, classification: bool = True) -> Objective:
    """The program's objective (the first of several); without one, max val_accuracy
    (classification) or min val_loss."""
    obj = program.objective
    if isinstance(obj, (list, tuple)):
        return objectives_of(program, classification)[0]
    if obj is None:
        return Objective("max", "val_accuracy") if classification else Objective("min", "val_loss")
    return _one_objective(obj)


def _one_objective(obj: Any) -> Objective:
    kind = getattr(obj, "__hyp_name__", "")
    if kind not in ("maximize", "minimize"):
        raise HypError(f"objective must be maximize(...) or minimize(...), got `{kind or type(obj).__name__}`")
    mode = "max" if kind == "maximize" else "min"
    metric = obj.metric
    if getattr(metric, "__hyp_name__", None) == "python":
        return Objective(mode, ref=metric.ref)
    if not isinstance(metric, str):
        raise HypError(f"{kind}: metric must be a metric name or python(\"f.py:fn\"), got {metric!r}")
    return Objective(mode, metric=metric)


def evaluate(program: Any, report: Optional[Callable[[Metrics], Any]] = None, device: Any = "cpu",
             base_dir: Optional[str] = None,
             should_stop: Optional[Callable[[], bool]] = None,
             checkpoint: Optional[Callable[[Dict[str, Any]], Any]] = None,
             resume: Optional[Dict[str, Any]] = None) -> TrialResult:
    """Train and score one concrete program (or call its Python objective) and return the result.

    `report(metrics)` is called after every epoch with the epoch's metrics plus `objective` (the
    objective's value); `should_stop()`, called after it, ends training early when true.
    `base_dir` is where relative paths resolve (default: the folder of `program.source`, else the
    working directory). `device` is where the model and data go ("cpu", "cuda", "cuda:1", ...).
    `checkpoint(state)` receives the trainer's state after every epoch (before `report`), and
    `resume`, such a state, continues training from its epoch (see `train.fit`).
    Raises `TrialFailed`, `TrialInvalid` or `HypError` (see the module docstring).
    """
    try:
        return _evaluate(program, report, device, base_dir, should_stop, checkpoint, resume)
    except _Through as through:  # the caller's own callback raised: hand its exception back as is
        raise through.error.with_traceback(through.error.__traceback__) from None


def _evaluate(program: Any, report: Optional[Callable[[Metrics], Any]], device: Any,
              base_dir: Optional[str], should_stop: Optional[Callable[[], bool]],
              checkpoint: Optional[Callable[[Dict[str, Any]], Any]] = None,
              resume: Optional[Dict[str, Any]] = None) -> TrialResult:
    if base_dir is None:
        base_dir = os.path.dirname(os.path.abspath(program.source)) if program.source else os.getcwd()
    _import_user_files(program, base_dir)
    objective = objective_of(program)
    from .objectives import has_python
    if has_python(program):
        return _listed_python_objectives(program, base_dir, device, report, should_stop, checkpoint, resume)
    if objective.ref is not None:
        return _python_objective(program, objective, base_dir, report)
    if program.target is None:
        raise TrialInvalid("the program has no `target` network to train "
                           "(a Python objective, maximize(python(\"f.py:fn\")), can score it instead)")
    if program.data is None:
        raise TrialInvalid("the program has no `data` to train on")
    dataset = load_data(program.data, base_dir)
    if program.objective is None:
        objective = objective_of(program, dataset.classification)
    return _train_and_score(program, dataset, objective, device, report, should_stop, checkpoint, resume)


def _import_user_files(program: Any, base_dir: str) -> None:
    """Run the program's imports (components, objectives) in this process; each file runs once."""
    for imp in program.imports or []:
        if is_file_ref(imp):
            load_file(imp if os.path.isabs(imp) else os.path.join(base_dir, imp))
        else:
            load_module(imp)


def _python_objective(program: Any, objective: Objective, base_dir: str,
                      report: Optional[Callable[[Metrics], Any]]) -> TrialResult:
    fn = resolve(objective.ref, base_dir)
    _seed_loaded_generators(program.train.seed if program.train is not None else 0)
    try:
        out = fn(program)
    except Exception as e:
        raise TrialFailed(f"objective {objective.ref} raised {_describe(e)}",
                          traceback=traceback.format_exc()) from e
    value, metrics = _objective_value(out, objective, fn)
    _call_through(report, {**metrics, OBJECTIVE_KEY: value})
    return TrialResult(metrics, [metrics], value, objective.mode, None, objective.name)


def _listed_python_objectives(program: Any, base_dir: str, device: Any, report: Optional[Callable[[Metrics], Any]],
                              should_stop: Optional[Callable[[], bool]],
                              checkpoint: Optional[Callable[[Dict[str, Any]], Any]],
                              resume: Optional[Dict[str, Any]]) -> TrialResult:
    """An objective list holding Python functions: each is called with the concrete program first
    (the single Python objective's rule); a metric the list or the constraints name that they did
    not return is measured by building the program (params, flops) or by training it."""
    from .measure import STATIC
    from .objectives import bounds_of, call_python_objectives, constraint_values

    _seed_loaded_generators(program.train.seed if program.train is not None else 0)
    objectives, returned = call_python_objectives(program, objectives_of(program), base_dir)
    bounds = bounds_of(program)
    missing = [m for m in dict.fromkeys([o.metric for o in objectives] + [b.metric for b in bounds])
               if m not in returned]
    if not missing:  # the functions said everything: nothing trains, as for a single Python objective
        values = [float(returned[o.metric]) for o in objectives]
        _call_through(report, {**returned, OBJECTIVE_KEY: values[0]})
        return TrialResult(returned, [returned], values[0], objectives[0].mode, None, objectives[0].name,
                           values=values, constraints=constraint_values(bounds, returned))
    if program.target is None or program.data is None:
        raise TrialFailed(f"the metric `{missing[0]}` is not among those the Python objectives returned "
                          f"({', '.join(returned) or 'none'}), and without `target` and `data` nothing else "
                          "measures it")
    dataset = load_data(program.data, base_dir)
    return _train_and_score(program, dataset, objectives[0], device, report, should_stop, checkpoint, resume,
                            objectives=objectives, returned=returned, build_only=set(missing) <= set(STATIC))


def _seed_loaded_generators(seed: int) -> None:
    """Seed random, numpy and (only if already imported: plain HPO never needs it) torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def _objective_value(out: Any, objective: Objective, fn: Any) -> Tuple[float, Metrics]:
    """The number a Python objective returned (see `hypsearch.objective_value`)."""
    try:
        return objective_value(out, fn)
    except ValueError as e:
        raise TrialFailed(f"objective {objective.ref} {e}") from None


def _train_and_score(program: Any, dataset: Dataset, objective: Objective, device: Any,
                     report: Optional[Callable[[Metrics], Any]],
                     should_stop: Optional[Callable[[], bool]],
                     checkpoint: Optional[Callable[[Dict[str, Any]], Any]] = None,
                     resume: Optional[Dict[str, Any]] = None, objectives: Optional[List[Objective]] = None,
                     returned: Optional[Metrics] = None, build_only: bool = False) -> TrialResult:
    """Build, train and score; `objectives` / `returned`: a list whose Python objectives have been
    called already (their values in `returned`), `build_only`: what they left is known once built."""
    from hypsearch.dsl.vocabulary.training import train as TrainRecipe

    from .augment import augment_of
    from .regimes import planned_epochs, regime_metric_names, train_regime
    from .train import metric_names, seed_everything

    from .measure import BUILTIN, device_refuses, latency_metrics, start_peak_memory, static_metrics
    from .objectives import bounds_of, constraint_values

    recipe = program.train if program.train is not None else TrainRecipe()
    reported = metric_names(dataset.info, dataset.multitask) + regime_metric_names(recipe, dataset) + list(BUILTIN)
    if objectives is None:
        objectives = objectives_of(program, dataset.classification) if isinstance(program.objective, (list, tuple)) \
            else [objective]
    returned = dict(returned or {})
    bounds = bounds_of(program)
    for what, metric in [("objective's", o.metric) for o in objectives] + [("constraint's", b.metric) for b in bounds]:
        if metric in returned:
            continue
        if device_refuses(metric, device):
            raise HypError(f"the {what} metric `{metric}` is reported on CUDA devices only; this trial runs "
                           f"on {device} (see hypsearch/runner/measure.py)")
        if metric not in reported:
            shown = [m for m in dict.fromkeys(reported) if m not in ("epoch",)]
            also = f"; the Python objectives returned: {', '.join(returned)}" if returned else ""
            raise HypError(f"the {what} metric `{metric}` is not reported by training on "
                           f"{dataset.name}; reported metrics: {', '.join(shown)}{also}"
                           f"{suggest(metric, shown + list(returned))}")
    # Patience and the best epoch follow the first objective training moves (not a Python value).
    watch = next((o for o in objectives if o.metric not in returned), objective)
    builtin: Metrics = {}
    seen: List[Metrics] = []

    def on_epoch(metrics: Metrics) -> None:
        seen.append(metrics)
        metrics.update(builtin)  # the built-in metrics ride along on every epoch's dict
        metrics.update(returned)  # and the listed Python objectives' values
        _call_through(report, {**metrics, OBJECTIVE_KEY: metrics[objective.metric]})

    halted = {"by_caller": False}

    def stop() -> bool:
        halted["by_caller"] = bool(_call_through(should_stop))
        return halted["by_caller"]

    # Failures are raised after the except blocks so that neither the exception chain nor the
    # traceback keeps the model, its activations and gradients alive (GPU memory of the next trial).
    model: Any = None
    failure: Optional[Exception] = None
    try:
        seed_everything(recipe.seed)  # initialisation is part of what the seed fixes
        model = _build_model(program, dataset.info.input_shape, dataset.tasks)
        # An eval-mode forward on zeros: it draws no random numbers, so training is unchanged.
        task_input = (dataset.multitask or _task_conditioned(program)) and _accepts_task(model)
        builtin.update(static_metrics(model, dataset.info.input_shape, task_input=task_input))
        early = [b for b in bounds if b.static]
        violated = [b for b in early if (b.value(builtin) or 0.0) > 0]
        if violated:
            values = constraint_values(bounds, builtin)
            failure = TrialInfeasible(", ".join(f"{b.metric} {builtin.get(b.metric):g} is not "
                                                f"{'at most' if b.kind == 'at_most' else 'at least'} {b.bound:g}"
                                                for b in violated), values, builtin)
            raise _Infeasible()
        if build_only:
            raise _Built()
        start_peak_memory(device)
        history = train_regime(model, dataset, recipe, device=device, task_input=task_input,
                               report=on_epoch, should_stop=stop if should_stop is not None else None,
                               augment=augment_of(program), monitor=(watch.metric, watch.mode),
                               checkpoint=checkpoint, resume=resume)
        # Saved with the weights, so that a loaded model takes raw inputs (see runner.export).
        model.input_normalization = dataset.normalization
    except _Through:
        raise
    except _Infeasible:
        pass
    except _Built:
        history = [{**builtin, **returned}]
    except HypError as e:  # from the compiler, or a model whose output does not fit the data
        failure = TrialInvalid(str(e))
    except TrialFailed as e:
        failure = TrialFailed(e.reason, history=e.history, traceback=e.traceback)
    except Exception as e:  # the program broke while building or training
        reason = ("out of memory: " if _is_oom(e) else "") + _describe(e)
        failure = TrialFailed(reason, history=seen, traceback=traceback.format_exc())
    if failure is not None:
        model = None
        _release_memory(device)
        raise failure
    final = history[-1]
    if build_only:  # scored without training: no weights worth keeping
        model = None
    else:  # every trained trial: a few warm passes (about a millisecond a quickstart trial, see measure)
        final.update(latency_metrics(model, dataset.info.input_shape, recipe.batch_size, device,
                                     task_input=task_input))
    final.update(builtin)
    final.update(returned)
    multi = len(objectives) > 1 or bool(bounds)
    planned = planned_epochs(recipe, dataset)
    return TrialResult(final, history, float(final[objective.metric]), objective.mode, model,
                       objective.name, stopped=halted["by_caller"] and len(history) < planned,
                       # Stopping early on its own (train(patience)) finishes the recipe: a full budget.
                       budget=len(history) / planned if halted["by_caller"] else 1.0,
                       values=[float(final[o.metric]) for o in objectives] if multi else None,
                       constraints=constraint_values(bounds, final))


def _build_model(program: Any, input_shape: Tuple[int, ...], tasks: int) -> Any:
    """The program's torch model (the compiler's `hypsearch.build`), sized by the loaded data."""
    from hypsearch.compile import build

    return build(program, input_shape=tuple(input_shape), tasks=max(1, int(tasks or 1)))


def _task_conditioned(program: Any) -> bool:
    hyper = program.hypernet
    return hyper is not None and getattr(hyper.input, "__hyp_name__", "") == "task_embedding"


def _accepts_task(model: Any) -> bool:
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False
    return "task" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


class _Infeasible(Exception):
    """Ends the build step early for a program that violates a constraint decided before training."""


class _Built(Exception):
    """Ends the build step for a program scored without training (its static metrics suffice)."""


class _Through(Exception):
    """Carries an exception raised by the caller's own callback past the failure mapping."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


def _call_through(callback: Optional[Callable[..., Any]], *args: Any) -> Any:
    if callback is None:
        return None
    try:
        return callback(*args)
    except BaseException as e:
        raise _Through(e) from None


def _release_memory(device: Any) -> None:
    """Return a failed trial's cached GPU memory so the next trial on the same GPU starts clean."""
    if str(device).startswith("cuda"):
        import gc

        import torch

        gc.collect()
        torch.cuda.empty_cache()


def _is_oom(e: BaseException) -> bool:
    if isinstance(e, MemoryError):
        return True
    text = str(e).lower()
    return "out of memory" in text or "can't allocate memory" in text or type(e).__name__ == "OutOfMemoryError"


def _describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"
