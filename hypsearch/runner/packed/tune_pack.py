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
                 trials: Optional[Dict[str, Any]] = None, threads: int = 1, max_failures: int = 0):
        super().__init__(coord, trials, threads)
        self.max_failures = max_failures  # retries of a member whose process died, run alone
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
                "hyp_early_stop": int(self.early_stop), "hyp_max_failures": int(self.max_failures)}

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
    """A Tune function trainable that trains one pack and reports each member as it finishes.

    The pack trains in this Ray worker's sandbox (`sandbox.py`), so a member that kills the process
    (a segfault, `os._exit`, the OOM killer) takes only the sandbox worker: the pack's unfinished
    members then run one by one, each retried up to `--max-failures` times, and the one that
    crashes fails alone. `timeout` (`--trial-timeout`) bounds the pack."""
    import ray
    from ray import tune

    from ..executor_ray import _SANDBOX, _quiet_sigterm
    from ..sandbox import Sandbox

    _quiet_sigterm()
    device = "cpu"
    if ray.get_gpu_ids():
        import torch
        if torch.cuda.is_available():
            device = "cuda"
    hyp_file = config.get("hyp_file")
    base_dir = os.path.dirname(hyp_file) if hyp_file else None
    trials = [Trial(int(m["id"]), {}, program=m["program"]) for m in config["hyp_pack"]]
    ask = None
    if stopper is not None and config.get("hyp_early_stop"):
        def ask(epoch: int, values: Dict[int, float]) -> Iterable[int]:
            return ray.get(stopper.decide.remote(epoch, values))
    if not _SANDBOX:
        _SANDBOX.append(Sandbox())
    sandbox = _SANDBOX[0]
    sandbox.timeout = float(timeout) if timeout else None
    options = dict(device=device, base_dir=base_dir, threads=int(config.get("hyp_threads", 1)),
                   repeats=int(config.get("hyp_repeats", 1)), weights=config.get("hyp_weights"), stopper=ask)

    def report(outcome: Any) -> None:
        row = {"hyp_finished": json.dumps([[outcome.trial.to_json(), int(outcome.fatal)]])}
        if outcome.trial.value is not None and math.isfinite(outcome.trial.value):
            row[OBJECTIVE_KEY] = outcome.trial.value
        tune.report(row)

    lost = []
    for outcome in sandbox.run_pack(trials, hyp_file, **options):
        if outcome.died:
            lost.append(outcome)
        else:
            report(outcome)
    retries = int(config.get("hyp_max_failures", 0))
    for outcome in lost:  # one by one, so a member that crashes the process fails alone
        member = dataclasses.replace(outcome.trial, status=Status.PENDING, error=None)
        attempts = 1  # its pack's
        while outcome.died and attempts <= retries:
            outcome = list(sandbox.run_pack([member], hyp_file, **options))[0]  # to its end: the pipe stays in step
            attempts += 1
        if outcome.died and attempts > 1:
            outcome.trial = dataclasses.replace(outcome.trial, error=f"{outcome.trial.error} in each of {attempts} "
                                                                     "attempts (its pack's, then alone)")
        report(outcome)
    tune.report({"hyp_done": 1})


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
                                    threads=max(1, int(settings.cpus_per_trial)),
                                    max_failures=int(settings.max_failures))
            fit(tune, trainable, coord=coord, settings=settings, scheduler=None,
                samples=min(math.ceil(remaining / per_pack), CHUNK), searcher=searcher, **fit_args)
            remaining = coord.budget_left()
    finally:
        if stopper is not None:
            ray.kill(stopper)
