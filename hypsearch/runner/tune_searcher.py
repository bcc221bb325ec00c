"""The Ray Tune adapters: the `Searcher` (Tune's suggest / on_trial_complete / save / restore mapped
onto the coordinator, and through it onto the algorithm's propose / tell / fail and JSON state),
a callback that keeps the best trial's weights, and a silent progress reporter.

Thin on purpose: it knows nothing of the algorithm's insides. Each trial's config carries the
concrete program as `.hyp` text so any worker can rebuild it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from typing import Any, Dict, List, Optional

from ray.tune import Callback, ProgressReporter
from ray.tune.search import Searcher

from hypsearch.search.trial import Status, Trial

from .coordinator import Coordinator
from .objectives import stopped_record
from .state import Checkpoint, write_json_atomic

OBJECTIVE_KEY = "objective"  # every report carries the objective under this name (ASHA reads it)


class HypSearcher(Searcher):
    """A hypsearch algorithm as a Tune searcher."""

    def __init__(self, coord: Coordinator, trials: Optional[Dict[str, Any]] = None, threads: int = 1):
        super().__init__(metric=OBJECTIVE_KEY, mode=coord.mode)
        self.coord = coord
        self.threads = threads  # torch CPU threads per trial: its share of the CPUs
        self.trials = trials if trials is not None else {}  # Tune trial id -> Trial (filled by a callback)
        self._specs: Dict[str, Trial] = {}
        self._history: Dict[str, List[Dict[str, Any]]] = {}

    def __getstate__(self) -> Dict[str, Any]:
        # Tune pickles its searcher into tuner.pkl (for Tuner.restore, which hypsearch does not
        # use: `--resume` reads the journal). The live coordinator (open files) stays out of it.
        state = dict(self.__dict__)
        state.update(coord=None, trials={}, _specs={}, _history={})
        return state

    def suggest(self, trial_id: str) -> Optional[Dict[str, Any]]:
        trial = self.coord.next_trial()
        if trial is None:
            return Searcher.FINISHED
        self._specs[trial_id] = trial
        self._history[trial_id] = []
        return {"hyp_id": trial.id, "hyp_program": trial.program, "hyp_file": self.coord.space_file,
                "hyp_epochs": self.coord.epochs(trial), "hyp_weights": self.coord.exp.weights, "hyp_threads": self.threads}

    def on_trial_result(self, trial_id: str, result: Dict[str, Any]) -> None:
        metrics = _epoch_metrics(result)
        self._history.setdefault(trial_id, []).append(metrics)
        spec = self._specs.get(trial_id)
        if spec is not None and self.coord.progress is not None and metrics.get("epoch") is not None:
            self.coord.progress.epoch(spec.id, metrics["epoch"], self.coord.epochs(spec))

    def on_trial_complete(self, trial_id: str, result: Optional[Dict[str, Any]] = None, error: bool = False) -> None:
        spec = self._specs.pop(trial_id, None)
        if spec is None:
            return
        history = self._history.pop(trial_id, [])
        tune_trial = self.trials.pop(trial_id, None)
        epochs = self.coord.epochs(spec)
        finished, fatal = finished_from_result(spec, result, error, history, _error_text(tune_trial), epochs)
        if finished.status is Status.STOPPED and finished.values is None and finished.constraints is None:
            finished = stopped_record(self.coord.program(spec), finished)  # no final report: read its last epoch
        if tune_trial is not None:
            finished.attempts = spec.attempts + tune_trial.run_metadata.num_failures
        self.coord.complete(finished, fatal)

    def save(self, checkpoint_path: str) -> None:
        write_json_atomic(checkpoint_path, self.coord.checkpoint().to_json())

    def restore(self, checkpoint_path: str) -> None:
        # hypsearch resumes from its journal (`--resume`); Tune's own restore is not used, and a
        # checkpoint alone holds no trials, so there is nothing to load here.
        with open(checkpoint_path, "r", encoding="utf-8") as f:
            Checkpoint.from_json(json.load(f))


def finished_from_result(spec: Trial, result: Optional[Dict[str, Any]], error: bool, history: List[Dict[str, Any]],
                         error_text: Optional[str], epochs: Optional[int]) -> "tuple[Trial, bool]":
    """The finished trial from its last Tune result (complete, stopped early, or errored), and
    whether its error concerns every trial."""
    now = time.time()
    result = result or {}
    if error:
        return dataclasses.replace(spec, status=Status.FAILED, metrics=history, finished=now,
                                   error=error_text or "the trial's worker failed (see Ray's results)"), False
    if result.get("hyp_done"):
        ran = Trial.from_json(json.loads(result["hyp_trial"]))
        # Several objectives and constraints: the vector and the constraint values come back too.
        return dataclasses.replace(spec, status=ran.status, value=ran.value, metrics=ran.metrics or history,
                                   error=ran.error, started=ran.started or spec.started, finished=ran.finished or now,
                                   budget=ran.budget, values=ran.values, feasible=ran.feasible,
                                   constraints=ran.constraints), bool(result.get("hyp_fatal"))
    # No final report: a scheduler (ASHA) stopped the trial after some epochs.
    last = _epoch_metrics(result) if result else None
    if last and (not history or history[-1] != last):
        history = history + [last]
    value = result.get(OBJECTIVE_KEY)
    budget = min(len(history) / epochs, 1.0) if epochs else 1.0
    if value is None or not math.isfinite(float(value)):
        return dataclasses.replace(spec, status=Status.FAILED, metrics=history, finished=now, budget=budget,
                                   error="stopped early without an objective value"), False
    return dataclasses.replace(spec, status=Status.STOPPED, value=float(value), metrics=history, finished=now,
                               budget=budget), False


# Keys Tune adds to every result: not the trial's own metrics.
_TUNE_KEYS = {"timestamp", "checkpoint_dir_name", "done", "training_iteration", "trial_id", "date",
              "time_this_iter_s", "time_total_s", "pid", "hostname", "node_ip", "config", "time_since_restore",
              "iterations_since_restore", "experiment_tag", "should_checkpoint"}


def _epoch_metrics(result: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in result.items()
            if k not in _TUNE_KEYS and not k.startswith("config/") and not k.startswith("hyp_") and k != OBJECTIVE_KEY}


def _error_text(trial: Any) -> Optional[str]:
    if trial is None:
        return None
    try:
        path = trial.error_file
        if path:
            with open(path, "r", encoding="utf-8") as f:
                text = f.read().strip()
            return text[-2000:]
    except (OSError, AttributeError):
        pass
    return None


class TrialTracker(Callback):
    """Tells the searcher which Tune trial is which; moves the best trial's weights to best.pt."""

    def __init__(self, coord: Coordinator, trials: Dict[str, Any]):
        self.coord = coord
        self.trials = trials

    def __getstate__(self) -> Dict[str, Any]:
        return {"coord": None, "trials": {}}  # pickled into tuner.pkl only; see HypSearcher

    def on_trial_start(self, iteration, trials, trial, **info):
        self.trials[trial.trial_id] = trial

    def on_trial_complete(self, iteration, trials, trial, **info):
        # Tune calls the searcher first, so this trial is journaled: keep its weights if it is the best.
        hyp_id = trial.config.get("hyp_id")
        path = os.path.join(self.coord.exp.weights, f"{hyp_id}.pt")
        if not os.path.exists(path):
            return
        if self.coord.best is not None and self.coord.best.id == hyp_id:
            os.replace(path, self.coord.exp.best_pt)
        else:
            os.remove(path)


class SilentReporter(ProgressReporter):
    """A Tune progress reporter that prints nothing (hypsearch prints its own progress line)."""

    def should_report(self, trials, done=False):
        return False

    def report(self, trials, done, *sys_info):
        pass
