"""The inline executor: the same trials as the Ray executor, one at a time, on this machine.

For debugging, tiny jobs and machines without Ray. Each trial runs in a persistent worker process
(`sandbox.py`), so a trial that exits, segfaults, raises `SystemExit` / `KeyboardInterrupt` or
outlives `--trial-timeout` is recorded failed and the run goes on; a trial whose worker died is
retried up to `--max-failures` times. Only the best model's weights are kept.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional

from .coordinator import Coordinator, run_loop
from .sandbox import Sandbox


def run_inline(coord: Coordinator, device: str = "cpu", base_dir: Optional[str] = None, threads: int = 1,
               trial_timeout: Optional[float] = None) -> None:
    """Run trials until the coordinator has none left."""
    sandbox = Sandbox(timeout=trial_timeout)

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
