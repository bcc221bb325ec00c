"""The inline executor: the same trials as the Ray executor, one at a time, on this machine.

For debugging, tiny jobs and machines without Ray. Each trial runs in a persistent worker process
(`sandbox.py`), so a trial that exits, segfaults, raises `SystemExit` / `KeyboardInterrupt` or
outlives `--trial-timeout` is recorded failed and the run goes on; a trial whose worker died is
retried up to `--max-failures` times. Packs (`--pack`, `--repeats`) train in the same worker, so a
member that crashes the process takes no more than its pack's unfinished members, which then run
again one by one. Only the best model's weights are kept.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional

from .coordinator import Coordinator, run_loop
from .sandbox import Sandbox


def run_inline(coord: Coordinator, device: str = "cpu", base_dir: Optional[str] = None, threads: int = 1,
               trial_timeout: Optional[float] = None, pack: int = 1, repeats: int = 1) -> None:
    """Run trials until the coordinator has none left (`pack` / `repeats` above 1: in packs)."""
    sandbox = Sandbox(timeout=trial_timeout)
    if pack > 1 or repeats > 1:
        try:
            _run_packs(coord, sandbox, device, base_dir, threads, pack, repeats)
        finally:
            sandbox.close()
        return

    def evaluate(trial, program):
        while True:
            epochs = coord.epochs(trial)

            def report(metrics, tid=trial.id):  # the running trial's epochs on the progress line
                if coord.progress is not None and metrics.get("epoch") is not None:
                    coord.progress.epoch(tid, metrics["epoch"], epochs)

            outcome = sandbox.run(trial, trial.program, coord.space_file, device=device, base_dir=base_dir,
                                  threads=threads, report=report)
            if not outcome.died or not coord.retry(trial):
                finished = outcome.trial
                if outcome.died and trial.attempts > 1:
                    finished = dataclasses.replace(finished, error=f"{finished.error} in each of {trial.attempts} attempts")
                return finished, outcome.has_model, outcome.fatal
            trial = coord.next_trial()  # the same trial again, journaled as its next attempt
            if trial is None:
                return outcome.trial, False, False

    def keep(trial, has_model):
        if has_model:
            sandbox.save_model(coord.exp.best_pt, trial.program, coord.space_file)

    try:
        run_loop(coord, evaluate, keep)
    finally:
        sandbox.close()


def _run_packs(coord: Coordinator, sandbox: Sandbox, device: str, base_dir: Optional[str], threads: int,
               pack: int, repeats: int) -> None:
    """Packs of up to pack / repeats trials in the sandbox; each member is completed as it finishes.
    When a pack's worker dies, its unfinished members run again one by one (a pack of one each,
    retried up to --max-failures as a single trial is), so one member that crashes the process
    fails alone and the others are not lost."""
    per_pack = max(1, pack // max(1, repeats))

    weights = coord.exp.weights if coord.exp is not None else None

    def run(trials):
        died = []
        for outcome in sandbox.run_pack(trials, coord.space_file, device=device, base_dir=base_dir,
                                        threads=threads, repeats=repeats, weights=weights):
            if outcome.died:
                died.append(outcome.trial)
                continue
            best = coord.complete(outcome.trial, outcome.fatal)
            if outcome.has_model:  # saved by the worker: kept only for a new best
                path = os.path.join(weights, f"{outcome.trial.id}.pt")
                os.replace(path, coord.exp.best_pt) if best else os.remove(path)
        return died

    while True:
        trials = coord.next_trials(per_pack)
        if not trials:
            return
        for lost in run(trials):
            trial = lost
            while True:
                if not coord.retry(trial):
                    attempts = f" in each of {trial.attempts} attempts" if trial.attempts > 1 else ""
                    coord.complete(dataclasses.replace(lost, error=f"{lost.error}{attempts}"))
                    break
                trial = coord.next_trial()  # the same trial again, journaled as its next attempt
                if trial is None:
                    break
                again = run([trial])
                if not again:
                    break
                lost = again[0]


def default_device(gpus_per_trial: float, device: str = "auto") -> str:
    """`--device`: cpu, cuda (a HypError without one), or auto: cuda when a GPU is asked for and present."""
    if device == "cpu":
        return "cpu"
    if device == "cuda":
        import torch

        from hypsearch.dsl.errors import HypError
        if not torch.cuda.is_available():
            raise HypError("--device cuda: torch sees no CUDA GPU here (use --device cpu or auto)")
        return "cuda"
    if gpus_per_trial > 0:
        import torch
        if torch.cuda.is_available():
            return "cuda"
    return "cpu"


def remove_stale_weights(weights_dir: str) -> None:
    """Drop weights of trials that never became the best (left by a killed run)."""
    if os.path.isdir(weights_dir):
        for name in os.listdir(weights_dir):
            os.remove(os.path.join(weights_dir, name))
