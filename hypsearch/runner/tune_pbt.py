"""Per-epoch checkpoints through Ray Tune's checkpoint API, and `--scheduler pbt` (imports Ray).

`EpochCheckpoints` sits between the trainer and `tune.report`: the trainer's state after an
epoch (`train.fit(checkpoint=...)`) goes out with that epoch's report as a Tune `Checkpoint`,
and `restored_state()` reads it back when Tune restarts a trial (paused by a scheduler, or its
worker lost), so training continues from that epoch.

Population-based training refuses custom searchers, so `run_pbt` asks the coordinator for the
whole population up front and hands it to Tune as a grid of configs. The searchable recipe
values (the space's numeric `train.*` decisions: lr, weight decay, label smoothing, ...) travel
beside the program text in `hyp_recipe`; PBT exploits (a trial takes over a better one's
checkpoint and config) and perturbs them between epochs; the trainable applies them to the
program before training. Architecture decisions stay fixed: weights of another shape cannot be
taken over. Each population member is journaled as its own trial, with the program it ended with
(the recipe values of the last exploit / perturbation: the ones that reached the reported value),
so best.hyp, `show` and the journal name that program; its last epoch's metrics keep the history
of the changes under "pbt" (after which epoch, taken over from which trial, the values set).
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any, Dict, List, Optional

from ray.tune import Callback
from ray.tune.schedulers import PopulationBasedTraining

from hypsearch.dsl.errors import HypError
from hypsearch.search.trial import Trial

STATE_FILE = "trainer_state.pt"
FIXED_RECIPE = ("train.epochs", "train.seed")  # changing these between epochs is not a perturbation


class EpochCheckpoints:
    """Stages the trainer's state of the last epoch and sends it with the next `tune.report`."""

    def __init__(self) -> None:
        self.staged: Optional[Dict[str, Any]] = None

    def stage(self, state: Dict[str, Any]) -> None:
        """`train.fit`'s checkpoint callback: keep the state until the epoch is reported."""
        self.staged = state

    def report(self, row: Dict[str, Any]) -> None:
        """`tune.report(row)`, with the staged state as its checkpoint when there is one."""
        import torch
        from ray import tune

        state, self.staged = self.staged, None
        if state is None:
            tune.report(row)
            return
        with tempfile.TemporaryDirectory(prefix="hyp-ckpt-") as folder:
            torch.save(state, os.path.join(folder, STATE_FILE))
            tune.report(row, checkpoint=tune.Checkpoint.from_directory(folder))


def restored_state() -> Optional[Dict[str, Any]]:
    """The trainer state of the checkpoint Tune restarts this trial from, or None."""
    import torch
    from ray import tune

    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as folder:
        path = os.path.join(folder, STATE_FILE)
        if not os.path.exists(path):
            return None
        return torch.load(path, map_location="cpu", weights_only=True)


# ---- population-based training -----------------------------------------------------------------

def mutations(space: Any) -> Dict[str, Any]:
    """Tune search spaces for the space's numeric recipe decisions (decision name -> domain)."""
    from ray import tune

    out: Dict[str, Any] = {}
    for d in getattr(space, "decisions", ()):
        if not d.name.startswith("train.") or d.name in FIXED_RECIPE:
            continue
        kind = getattr(d.kind, "value", d.kind)
        if kind == "float":
            out[d.name] = tune.loguniform(d.low, d.high) if getattr(d, "log", False) else tune.uniform(d.low, d.high)
        elif kind == "int":
            out[d.name] = list(range(int(d.low), int(d.high) + 1))
        elif kind == "choice":
            values = list(d.literals or [])
            if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                out[d.name] = sorted(values)
    return out


def apply_recipe(program_text: str, hyp_file: Optional[str], recipe: Dict[str, Any]) -> str:
    """The program text with its recipe values replaced (decision path -> value)."""
    from hypsearch.dsl.api import dumps

    from .worker import rebuild

    program = rebuild(program_text, hyp_file)
    if not recipe:
        return program_text
    try:
        program = program.rebind({k: v for k, v in recipe.items()}, raise_on_no_change=False)
    except (KeyError, ValueError, TypeError) as e:
        raise HypError(f"--scheduler pbt: cannot set the recipe values {recipe} on the program: {e}") from None
    return dumps(program, path=hyp_file) if hyp_file else dumps(program)


def _recipe_values(coord: Any, trial: Trial, names: List[str]) -> Dict[str, Any]:
    program = coord.program(trial)
    values = {}
    for name in names:
        value = program.sym_get(name, default=None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values[name] = value
    return values


def pbt_trainable(config: Dict[str, Any]) -> None:
    """The Tune trainable under PBT: the member's program with its current recipe values, trained
    from the checkpoint PBT hands it (its own, or the one it exploited)."""
    from ray import tune

    from .executor_ray import _trainable

    member = dict(config["hyp"])
    recipe = member.pop("hyp_recipe", {}) or {}
    member["hyp_program"] = apply_recipe(member["hyp_program"], member.get("hyp_file"), recipe)
    if member.get("hyp_weights"):  # one folder per Tune trial: two members may share a donor's id
        member["hyp_weights"] = os.path.join(member["hyp_weights"], "pbt", tune.get_context().get_trial_id())
    _trainable(member)


def run_pbt(tune: Any, coord: Any, settings: Any, resources: Dict[str, float], storage: str,
            experiment_name: str, max_concurrent: int, max_epochs: int) -> None:
    """Train one population of `settings.trials` members (at most the budget left) under PBT."""
    from .tune_searcher import OBJECTIVE_KEY, SilentReporter

    domains = mutations(coord.space)
    if not domains:
        raise HypError("--scheduler pbt perturbs searchable recipe values between epochs, and this space has none: "
                       "make e.g. train(optimizer = adam(lr = floatv(1e-4, 1e-2, log = true))) searchable")
    members: List[Dict[str, Any]] = []
    specs: Dict[int, Trial] = {}
    for _ in range(coord.budget_left()):
        trial = coord.next_trial()
        if trial is None:
            break
        specs[trial.id] = trial
        members.append({"hyp_id": trial.id, "hyp_program": trial.program, "hyp_file": coord.space_file,
                        "hyp_epochs": coord.epochs(trial), "hyp_weights": coord.exp.weights,
                        "hyp_threads": max(1, int(settings.cpus_per_trial)),
                        "hyp_recipe": _recipe_values(coord, trial, list(domains))})
    if not members:
        return
    interval = max(1, max_epochs // 4)  # a few exploit / explore rounds per run
    tracker = PopulationTracker(coord, specs)
    scheduler = RecordingPBT(tracker, time_attr="training_iteration", metric=OBJECTIVE_KEY, mode=coord.mode,
                                        perturbation_interval=interval, hyperparam_mutations={"hyp": {"hyp_recipe": domains}},
                                        quantile_fraction=0.5 if len(members) < 4 else 0.25,
                                        # Synchronous: every member reaches the perturbation epoch before
                                        # any exploits, so short epochs cannot race past it.
                                        synch=True)
    tuner = tune.Tuner(
        tune.with_resources(pbt_trainable, resources),
        param_space={"hyp": tune.grid_search(members)},
        tune_config=tune.TuneConfig(scheduler=scheduler, num_samples=1, max_concurrent_trials=max_concurrent,
                                    reuse_actors=True, trial_name_creator=_trial_name,
                                    trial_dirname_creator=_trial_name),
        run_config=tune.RunConfig(
            name=experiment_name, storage_path=storage if "://" in storage else os.path.abspath(storage),
            verbose=0, progress_reporter=SilentReporter(), log_to_file=False,
            failure_config=tune.FailureConfig(max_failures=settings.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=4),  # PBT exploits older ones too
            callbacks=[tracker],
        ),
    )
    tuner.fit()
    for spec in list(tracker.unfinished()):  # never reported (the run was cut short): failed
        tracker.finish(spec, None, True, None, "the population-based run ended before this member finished")


class RecordingPBT(PopulationBasedTraining):
    """Ray Tune's PBT, telling the tracker of each exploit: which trial took over which one's
    checkpoint, after which epoch, and the recipe values it continues with."""

    def __init__(self, tracker: "PopulationTracker", **options: Any) -> None:
        super().__init__(**options)
        self._tracker = tracker

    def on_trial_result(self, tune_controller: Any, trial: Any, result: Dict[str, Any]) -> str:
        # No exploit after a member's last epoch: no epoch would train with the values it sets,
        # and the member would report the donor's result as its own.
        epochs = trial.config["hyp"].get("hyp_epochs")
        if result.get("hyp_done") or (epochs and (result.get("epoch") or 0) >= epochs):
            return PopulationBasedTraining.CONTINUE
        return super().on_trial_result(tune_controller, trial, result)

    def _exploit(self, tune_controller: Any, trial: Any, trial_to_clone: Any) -> None:
        # The one place PBT changes a trial's config (Ray has no public hook for it); the
        # trainable applies the new config when the trial resumes from the donor's checkpoint.
        before = dict(trial.config["hyp"].get("hyp_recipe") or {})
        donor_result = self._trial_state[trial_to_clone].last_result or {}
        super()._exploit(tune_controller, trial, trial_to_clone)
        epoch = donor_result.get("epoch", donor_result.get("training_iteration"))
        self._tracker.exploited(trial.trial_id, trial_to_clone.trial_id, epoch, before,
                                dict(trial.config["hyp"].get("hyp_recipe") or {}))


def _trial_name(trial: Any) -> str:
    return f"pbt_{trial.config['hyp']['hyp_id']}_{trial.trial_id}"  # not the config: it holds the program


class PopulationTracker(Callback):
    """Journals each population member when its Tune trial ends, and keeps the best weights."""

    def __init__(self, coord: Any, specs: Dict[int, Trial]) -> None:
        self.coord = coord
        self.specs = dict(specs)
        self.owner: Dict[str, int] = {}  # Tune trial id -> the member it started as
        self.history: Dict[str, List[Dict[str, Any]]] = {}
        self.changes: Dict[str, List[Dict[str, Any]]] = {}  # Tune trial id -> its exploits, in order

    def __getstate__(self) -> Dict[str, Any]:
        return {"coord": None, "specs": {}, "owner": {}, "history": {}, "changes": {}}  # pickled into tuner.pkl only

    def exploited(self, trial_id: str, donor_id: str, epoch: Any, before: Dict[str, Any],
                  after: Dict[str, Any]) -> None:
        """PBT made the Tune trial `trial_id` continue from `donor_id`'s checkpoint of `epoch`."""
        change: Dict[str, Any] = {"after_epoch": int(epoch) if isinstance(epoch, (int, float)) else None,
                                  "from": self.owner.get(donor_id), "recipe": dict(after)}
        moved = {k: v for k, v in after.items() if before.get(k) != v}
        change["changed"] = {k: [before.get(k), v] for k, v in moved.items()}
        self.changes.setdefault(trial_id, []).append(change)

    def on_trial_start(self, iteration, trials, trial, **info):
        self.owner.setdefault(trial.trial_id, int(trial.config["hyp"]["hyp_id"]))

    def on_trial_result(self, iteration, trials, trial, result, **info):
        from .tune_searcher import _epoch_metrics
        if not result.get("hyp_done"):
            self.history.setdefault(trial.trial_id, []).append(_epoch_metrics(result))

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._done(trial, error=False)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._done(trial, error=True)

    def _done(self, trial: Any, error: bool) -> None:
        member = self.owner.get(trial.trial_id)
        spec = self.specs.get(member) if member is not None else None
        if spec is None:
            return
        config = trial.config["hyp"]
        final_program = apply_recipe(config["hyp_program"], config.get("hyp_file"), config.get("hyp_recipe") or {})
        folder = os.path.join(self.coord.exp.weights, "pbt", trial.trial_id)
        self.finish(spec, trial.last_result, error, self.history.pop(trial.trial_id, []), None,
                    program=final_program, weights=folder, changes=self.changes.pop(trial.trial_id, []))

    def unfinished(self) -> List[Trial]:
        return list(self.specs.values())

    def finish(self, spec: Trial, result: Optional[Dict[str, Any]], error: bool,
               history: Optional[List[Dict[str, Any]]], error_text: Optional[str], program: Optional[str] = None,
               weights: Optional[str] = None, changes: Optional[List[Dict[str, Any]]] = None) -> None:
        """Journal a member: its last result, the program it ended with, its exploits."""
        import shutil

        from .tune_searcher import finished_from_result

        self.specs.pop(spec.id, None)
        finished, fatal = finished_from_result(spec, result, error, history or [], error_text,
                                               self.coord.epochs(spec))
        if program is not None and program != spec.program:
            finished = self._ended_with(finished, program)
        if changes:
            finished = _with_changes(finished, changes)
        finished.finished = finished.finished or time.time()
        self.coord.complete(finished, fatal)
        if weights and os.path.isdir(weights):
            files = [f for f in os.listdir(weights) if f.endswith(".pt")]
            if files and self.coord.best is not None and self.coord.best.id == spec.id:
                os.replace(os.path.join(weights, files[0]), self.coord.exp.best_pt)
            shutil.rmtree(weights, ignore_errors=True)

    def _ended_with(self, finished: Trial, text: str) -> Trial:
        """The record of the program the member trained in the end: its text, choices and encoding."""
        import dataclasses
        import json

        from .worker import rebuild

        final = rebuild(text, self.coord.space_file)
        try:
            assignment = self.coord.space.assignment_of(final)
            choices = json.loads(json.dumps(self.coord.space.decode(assignment), default=str))  # as journaled
            assignment = json.loads(json.dumps(assignment, default=str))
        except HypError:  # a perturbed value left its floatv range: the program, not a point of the space
            assignment = dict(finished.assignment)
            choices = {**finished.choices, **{k: final.sym_get(k) for k in finished.choices
                                              if k.startswith("train.") and final.sym_get(k, default=None) is not None}}
        # best.hyp and front/ are printed from the coordinator's program object of the trial:
        # it becomes the final program (every top-level field, so a taken-over architecture too).
        self.coord.program(finished).rebind({k: v for k, v in final.sym_init_args.items()},
                                            raise_on_no_change=False, skip_notification=True)
        return dataclasses.replace(finished, program=text, assignment=assignment, choices=choices)


def _with_changes(finished: Trial, changes: List[Dict[str, Any]]) -> Trial:
    """The record with PBT's exploits kept in its last epoch's metrics, under "pbt"."""
    import dataclasses

    metrics = [dict(m) for m in finished.metrics] or [{}]
    metrics[-1]["pbt"] = [dict(c) for c in changes]
    return dataclasses.replace(finished, metrics=metrics)
