"""The inline executor: the same trials as the Ray executor, in this process, one at a time.

For debugging, tiny jobs and machines without Ray. It uses the program object the coordinator
materialized (no reparse) and keeps only the best model's weights.
"""

from __future__ import annotations

import os
from typing import Optional

from .coordinator import Coordinator, run_loop
from .worker import run_trial, save_weights


def run_inline(coord: Coordinator, device: str = "cpu", base_dir: Optional[str] = None, threads: int = 1) -> None:
    """Run trials until the coordinator has none left."""
    def evaluate(trial, program):
        return run_trial(trial, program, device=device, base_dir=base_dir, threads=threads)

    def keep(trial, model):
        if model is not None:
            save_weights(coord.exp.best_pt, model, trial.program, coord.space_file)

    run_loop(coord, evaluate, keep)


def default_device(gpus_per_trial: float) -> str:
    """cuda when a GPU is asked for and present, else cpu."""
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
