"""Best-so-far curves of experiments (`hypsearch plot`), drawn with matplotlib's Agg backend."""

from __future__ import annotations

import os
from typing import List, Optional, Sequence, Tuple

from hypsearch.dsl.errors import HypError
from .experiment import Experiment


def best_so_far(exp: Experiment) -> Tuple[List[int], List[float], List[float]]:
    """Trial numbers (1-based, in finishing order), seconds since the first start, best value."""
    trials = sorted(exp.trials, key=lambda r: r.finished)
    if not trials:
        return [], [], []
    t0 = min(r.started for r in trials)
    numbers, times, best = [], [], []
    current: Optional[float] = None
    for i, r in enumerate(trials, 1):
        if r.status == "ok" and r.value is not None:
            if current is None or (r.value > current if exp.mode == "max" else r.value < current):
                current = r.value
        if current is not None:
            numbers.append(i)
            times.append(r.finished - t0)
            best.append(current)
    return numbers, times, best


def plot(dirs: Sequence[str], out: str) -> str:
    """Write the best-so-far figure (vs trial number and vs wall time) to `out`; the path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    experiments = [Experiment.open(d) for d in dirs]
    fig, (by_trial, by_time) = plt.subplots(1, 2, figsize=(11, 4))
    drawn = 0
    for exp in experiments:
        numbers, times, best = best_so_far(exp)
        if not best:
            continue
        label = f"{os.path.basename(exp.dir.rstrip(os.sep))} ({exp.settings.algo})"
        by_trial.step(numbers, best, where="post", label=label)
        by_time.step(times, best, where="post", label=label)
        drawn += 1
    if not drawn:
        plt.close(fig)
        raise HypError("no experiment has a trial with status ok to plot")
    ylabel = "best value so far (" + ("higher" if experiments[0].mode == "max" else "lower") + " is better)"
    by_trial.set_xlabel("trial")
    by_time.set_xlabel("wall time (s)")
    for ax in (by_trial, by_time):
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    by_trial.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return os.path.abspath(out)
