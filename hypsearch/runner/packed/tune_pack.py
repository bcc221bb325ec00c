"""Packed trials on Ray: one Ray Tune trial trains one pack, and each member is still a trial of its own.

`PackSearcher` is the Tune searcher of a packed run: each `suggest` takes up to pack / repeats
proposals from the coordinator (each journaled pending as it is proposed) and hands them to one
Tune trial; the trial's resources (`--cpus-per-trial`, `--gpus-per-trial`) are the pack's.
`pack_trainable` runs `evaluate_pack` in the Ray worker and sends each member's finished record in
a report of its own as soon as the member is done, so the driver journals it then: a run killed in
the middle of a pack keeps the members that finished and runs the others again on `--resume`.

Early stopping (`--scheduler asha`) is per member: Tune's ASHA would stop a whole pack, so the
pack trainable asks a `MemberStopper` actor after every epoch instead, which applies ASHA's rule
to each member's objective as if the member were a Tune trial; a member it stops is masked in its
population (its updates end, the others train on) and recorded STOPPED with the budget it used.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from typing import Any, Dict, Iterable, List, Optional

from ray.tune.search import Searcher

from hypsearch.search.trial import Status, Trial

from ..tune_searcher import OBJECTIVE_KEY, HypSearcher, _error_text


class PackSearcher(HypSearcher):
    """A hypsearch algorithm as a Tune searcher whose every Tune trial is a pack of trials."""

    def __init__(self, coord: Any, per_pack: int, repeats: int = 1, early_stop: bool = False,
                 trials: Optional[Dict[str, Any]] = None, threads: int = 1):
        super().__init__(coord, trials, threads)
        self.per_pack = max(1, int(per_pack))
        self.repeats = max(1, int(repeats))
        self.early_stop = early_stop
        self._packs: Dict[str, Dict[int, Trial]] = {}  # Tune trial id -> its members not yet completed

    def __getstate__(self) -> Dict[str, Any]:
        state = super().__getstate__()
        state["_packs"] = {}
        return state

    def suggest(self, trial_id: str) -> Optional[Dict[str, Any]]:
        members = self.coord.next_trials(self.per_pack)
        if not members:
            return Searcher.FINISHED
        self._packs[trial_id] = {t.id: t for t in members}
        return {"hyp_pack": [{"id": t.id, "program": t.program} for t in members], "hyp_file": self.coord.space_file,
                "hyp_weights": self.coord.exp.weights, "hyp_threads": self.threads, "hyp_repeats": self.repeats,
                "hyp_early_stop": int(self.early_stop)}

    def on_trial_result(self, trial_id: str, result: Dict[str, Any]) -> None:
        for record, fatal in finished_members(result):
            self._complete(trial_id, record, fatal)

    def on_trial_complete(self, trial_id: str, result: Optional[Dict[str, Any]] = None, error: bool = False) -> None:
        if result and not error:
            self.on_trial_result(trial_id, result)
        pending = self._packs.pop(trial_id, None)
        tune_trial = self.trials.pop(trial_id, None)
        if not pending:
            return
        failures = tune_trial.run_metadata.num_failures if tune_trial is not None else 0
        reason = (_error_text(tune_trial) or "the pack's worker failed (see Ray's results)") if error \
            else "the pack ended without a result for this trial"
        for spec in pending.values():
            finished = dataclasses.replace(spec, status=Status.FAILED, error=reason, finished=time.time(),
                                           attempts=spec.attempts + failures)
            self.coord.complete(finished, False)

    def _complete(self, trial_id: str, record: Trial, fatal: bool) -> None:
        pending = self._packs.get(trial_id, {})
        spec = pending.pop(record.id, None)
        if spec is None:  # a retried pack reporting a member already journaled
            return
        tune_trial = self.trials.get(trial_id)
        failures = tune_trial.run_metadata.num_failures if tune_trial is not None else 0
        finished = dataclasses.replace(spec, status=record.status, value=record.value, metrics=record.metrics,
                                       error=record.error, started=record.started or spec.started,
                                       finished=record.finished or time.time(), budget=record.budget,
                                       repeats=record.repeats, attempts=spec.attempts + failures)
        best = self.coord.complete(finished, fatal)
        # The worker saved the member's weights before reporting it: keep them only for a new best.
        path = os.path.join(self.coord.exp.weights, f"{record.id}.pt")
        if os.path.exists(path):
            if best:
                os.replace(path, self.coord.exp.best_pt)
            else:
                os.remove(path)


def finished_members(result: Optional[Dict[str, Any]]) -> List["tuple[Trial, bool]"]:
    """The (finished member, fatal) records a pack's report carries."""
    if not result or not result.get("hyp_finished"):
        return []
    return [(Trial.from_json(r), bool(f)) for r, f in json.loads(result["hyp_finished"])]


def pack_trainable(config: Dict[str, Any], stopper: Any = None, timeout: Optional[float] = None) -> None:
    """A Tune function trainable that trains one pack and reports each member as it finishes
    (`timeout`: in a sandbox worker killed when the pack runs longer)."""
    import ray
    from ray import tune

    from ..executor_ray import _quiet_sigterm
    from ..worker import rebuild, save_weights
    from .loop import evaluate_pack

    _quiet_sigterm()
    device = "cpu"
    if ray.get_gpu_ids():
        import torch
        if torch.cuda.is_available():
            device = "cuda"
    hyp_file = config.get("hyp_file")
    base_dir = os.path.dirname(hyp_file) if hyp_file else None
    threads = int(config.get("hyp_threads", 1))
    if device == "cpu":
        import torch
        torch.set_num_threads(max(1, threads))
    trials: List[Trial] = []
    programs: List[Any] = []
    for member in config["hyp_pack"]:
        carrier = Trial(int(member["id"]), {}, program=member["program"])
        started = time.time()
        try:
            program = rebuild(member["program"], hyp_file)
        except Exception as e:  # a program text that does not parse back: invalid, not retried
            bad = dataclasses.replace(carrier, status=Status.INVALID, error=f"{type(e).__name__}: {e}",
                                      started=started, finished=time.time())
            tune.report({"hyp_finished": json.dumps([[bad.to_json(), 0]])})
            continue
        trials.append(carrier)
        programs.append(program)
    ask = None
    if stopper is not None and config.get("hyp_early_stop"):
        def ask(epoch: int, values: Dict[int, float]) -> Iterable[int]:
            return ray.get(stopper.decide.remote(epoch, values))
    weights = config.get("hyp_weights")
    if timeout:
        _in_sandbox(trials, config, device, base_dir, threads, float(timeout))
        tune.report({"hyp_done": 1})
        return
    for finished, model, fatal in evaluate_pack(trials, programs, repeats=int(config.get("hyp_repeats", 1)),
                                                device=device, base_dir=base_dir, threads=threads, stopper=ask):
        if finished.status.has_value and model is not None and weights:
            os.makedirs(weights, exist_ok=True)
            save_weights(os.path.join(weights, f"{finished.id}.pt"), model, finished.program, hyp_file)
        row = {"hyp_finished": json.dumps([[finished.to_json(), int(fatal)]])}
        if finished.value is not None and math.isfinite(finished.value):
            row[OBJECTIVE_KEY] = finished.value
        tune.report(row)
    tune.report({"hyp_done": 1})


def _in_sandbox(trials: List[Trial], config: Dict[str, Any], device: str, base_dir: Optional[str], threads: int,
                timeout: float) -> None:
    """The pack in this Ray worker's sandbox (`--trial-timeout`: the pack's limit); each member
    reported as it finishes. A dead sandbox worker fails the Tune trial, which Tune retries."""
    from ray import tune

    from ..executor_ray import _SANDBOX

    if not _SANDBOX:
        from ..sandbox import Sandbox
        _SANDBOX.append(Sandbox())
    sandbox = _SANDBOX[0]
    sandbox.timeout = timeout
    for outcome in sandbox.run_pack(trials, config.get("hyp_file"), device=device, base_dir=base_dir,
                                    threads=threads, repeats=int(config.get("hyp_repeats", 1)),
                                    weights=config.get("hyp_weights")):
        if outcome.died:  # as if this Ray worker had died
            raise RuntimeError(outcome.trial.error)
        row = {"hyp_finished": json.dumps([[outcome.trial.to_json(), int(outcome.fatal)]])}
        tune.report(row)


class MemberStopper:
    """ASHA's stopping rule for pack members (a Ray actor; one per run, shared by every pack).

    The rule and settings of the Tune `ASHAScheduler` the unpacked executor uses (grace period 1,
    reduction factor 2, max_t the space's most epochs): rungs at epochs 1, 2, 4, ... below max_t; a
    member reaching a rung continues when its objective is in the top half of all values recorded
    at that rung, else it stops. Tune judges each trial against those recorded before it arrived;
    the members of a pack reach a rung together, so they are recorded first and judged together
    (judged one by one, in whatever order, the first would always continue and the rest be judged
    against it alone).
    """

    def __init__(self, mode: str, max_t: int, grace: int = 1, rf: float = 2.0) -> None:
        self.sign = 1.0 if mode == "max" else -1.0
        self.max_t = max(1, int(max_t))
        self.rf = rf
        count = int(math.log(self.max_t / grace) / math.log(rf) + 1)
        self.rungs: Dict[int, Dict[int, float]] = {int(grace * rf ** k): {} for k in range(count)}

    def decide(self, epoch: int, values: Dict[int, float]) -> List[int]:
        """The members (trial ids) stopped after this epoch, given their objective values."""
        import numpy as np

        if epoch >= self.max_t:
            return []  # they finish anyway
        arrived: Dict[int, List[int]] = {}
        for tid, value in values.items():
            rung = max((m for m in self.rungs if m <= epoch and tid not in self.rungs[m]), default=None)
            if rung is not None and math.isfinite(value):
                self.rungs[rung][tid] = self.sign * float(value)
                arrived.setdefault(rung, []).append(tid)
        stop = []
        for rung, members in arrived.items():
            cutoff = np.nanpercentile(list(self.rungs[rung].values()), (1 - 1 / self.rf) * 100)
            stop.extend(tid for tid in members if self.rungs[rung][tid] < cutoff)
        return stop


def run_packs(tune: Any, coord: Any, settings: Any, fit: Any, fit_args: Dict[str, Any]) -> None:
    """The Ray executor's loop for `--pack` / `--repeats`: Tune fits whose trials are packs."""
    import ray

    from ..executor_ray import CHUNK

    per_pack = max(1, int(settings.pack) // max(1, int(settings.repeats)))
    stopper = None
    if settings.scheduler == "asha":
        from ..executor_ray import coord_max_epochs
        stopper = ray.remote(num_cpus=0)(MemberStopper).remote(coord.mode, max(coord_max_epochs(coord), 1))
    trainable = tune.with_parameters(pack_trainable, stopper=stopper, timeout=settings.trial_timeout)
    try:
        remaining = coord.budget_left()
        while remaining > 0 and coord.fatal is None and not coord.exhausted:
            searcher = PackSearcher(coord, per_pack, settings.repeats, early_stop=stopper is not None,
                                    threads=max(1, int(settings.cpus_per_trial)))
            fit(tune, trainable, coord=coord, settings=settings, scheduler=None,
                samples=min(math.ceil(remaining / per_pack), CHUNK), searcher=searcher, **fit_args)
            remaining = coord.budget_left()
    finally:
        if stopper is not None:
            ray.kill(stopper)
