"""Plots of experiments (`hypsearch plot --kind`), drawn with matplotlib's Agg backend from the
journal alone (no program runs): `history` (every trial as a dot and the best so far, against
trial number and wall time), `importance` (which decisions matter: permutation importance of a
random forest fitted to the finished trials' decisions and values), `parallel` (parallel
coordinates: each decision an axis, lines coloured by the value), `front` (several objectives:
the scatter and the Pareto front for two, parallel coordinates of the objectives for more) and
`matrix` (the best trial's accuracy matrix under a training regime over tasks).
"""

from __future__ import annotations

import math
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hypsearch.dsl.errors import HypError
from hypsearch.search.trial import Status, Trial
from .experiment import Experiment

KINDS = ("history", "importance", "parallel", "matrix", "front")
REPEATS = 10  # shuffles per decision in the permutation importance


def objective_name(exp: Experiment) -> Optional[str]:
    """The reported metric the objective is (the one equal to the value of the ok trials), or None
    for a Python objective that reports none."""
    counts: Dict[str, int] = {}
    for t in exp.trials:
        if t.status is Status.OK and t.value is not None and t.metrics:
            for k, v in t.metrics[-1].items():
                if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool) and float(v) == t.value:
                    counts[k] = counts.get(k, 0) + 1
    return max(counts, key=lambda k: (counts[k], k == "objective")) if counts else None


def _value_label(exp: Experiment) -> str:
    name = objective_name(exp) or "objective"
    return f"{name} ({'higher' if exp.mode == 'max' else 'lower'} is better)"


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


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig: Any, out: str) -> str:
    plt = _pyplot()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return os.path.abspath(out)


def plot(dirs: Sequence[str], out: str, kind: str = "history") -> str:
    """Write the `kind` figure of the experiments in `dirs` to `out` (.png, .svg, .pdf); the path."""
    if kind not in KINDS:
        raise HypError(f"--kind takes {', '.join(KINDS)}, got `{kind}`")
    experiments = [Experiment.open(d) for d in dirs]
    if kind == "history":
        return history(experiments, out)
    if len(experiments) != 1:
        raise HypError(f"--kind {kind} plots one experiment; give one DIR (got {len(experiments)})")
    if kind == "matrix":
        return accuracy_matrix(experiments[0], out)
    if kind == "front":
        return front(experiments[0], out)
    return importance(experiments[0], out) if kind == "importance" else parallel(experiments[0], out)


def front(exp: Experiment, out: str) -> str:
    """Two objectives: every feasible trial as a dot, the infeasible as crosses, the Pareto front
    as a staircase of its members. More objectives: parallel coordinates (`objective_lines`)."""
    from .front import experiment_directions, front_of, vector

    directions = experiment_directions(exp)
    if directions is None or len(directions) < 2:
        raise HypError(f"--kind front draws an experiment with several objectives; {exp.dir} has 1 "
                       "(--kind history shows its trials)")
    names = [o.metric or o.name for o in _objectives(exp)]
    if len(directions) > 2:
        return objective_lines(exp, directions, names, out)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    done = [r for r in exp.trials if r.status.has_value and vector(r) is not None and len(vector(r)) == 2]
    ok = [r for r in done if r.feasible is not False]
    bad = [r for r in done if r.feasible is False]
    if ok:
        ax.scatter([vector(r)[0] for r in ok], [vector(r)[1] for r in ok], s=18, color="tab:blue", alpha=0.6,
                   label="trials")
    if bad:
        ax.scatter([vector(r)[0] for r in bad], [vector(r)[1] for r in bad], s=22, marker="x", color="tab:gray",
                   label="infeasible")
    members = sorted(front_of(exp.trials, directions), key=lambda r: vector(r)[0])
    if members:
        ax.step([vector(r)[0] for r in members], [vector(r)[1] for r in members], where="post", color="tab:red")
        ax.scatter([vector(r)[0] for r in members], [vector(r)[1] for r in members], s=36, color="tab:red",
                   label=f"Pareto front ({len(members)})", zorder=3)
    ax.set_xlabel(f"{names[0]} ({directions[0]})")
    ax.set_ylabel(f"{names[1]} ({directions[1]})")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return _save(fig, out)


def objective_lines(exp: Experiment, directions: Sequence[str], names: Sequence[str], out: str) -> str:
    """Three or more objectives as parallel coordinates: an axis per objective, scaled to the
    trials' range with the better end up (a minimised objective's axis runs downwards, its
    label says so), a grey line per trial (dashed: infeasible) and the Pareto front in colour."""
    import numpy as np

    from .front import front_of, vector

    done = [r for r in exp.trials if r.status.has_value and vector(r) is not None
            and len(vector(r)) == len(directions) and all(math.isfinite(v) for v in vector(r))]
    if not done:
        raise HypError(f"{exp.dir} has no finished trial with all {len(directions)} objectives to plot")
    members = {r.id for r in front_of(exp.trials, directions)}
    V = np.array([vector(r) for r in done], dtype=float)
    lo, hi = V.min(axis=0), V.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    up = np.where(np.array([d == "max" for d in directions]), (V - lo) / span, (hi - V) / span)
    up[:, hi == lo] = 0.5
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.5, 1.6 * len(directions)), 4.6))
    xs = list(range(len(directions)))
    cmap = plt.get_cmap("plasma")
    front_rows = [i for i, r in enumerate(done) if r.id in members]
    for i, r in enumerate(done):
        if r.id in members:
            continue
        ax.plot(xs, up[i], color="0.55", alpha=0.5, linewidth=1.0,
                linestyle="--" if r.feasible is False else "-")
    for k, i in enumerate(front_rows):  # drawn last, on top; a colour each, to follow a member across axes
        ax.plot(xs, up[i], color=cmap(0.85 * k / max(1, len(front_rows) - 1)), linewidth=2.2, marker="o", markersize=4,
                label=f"trial {done[i].id}" if len(front_rows) <= 8 else None)
    for k, d in enumerate(directions):
        ax.axvline(k, color="0.3", linewidth=0.8)
        best, worst = (hi[k], lo[k]) if d == "max" else (lo[k], hi[k])
        ax.text(k + 0.03, 1.0, f"{best:.4g}", fontsize=7, va="bottom")
        ax.text(k + 0.03, 0.0, f"{worst:.4g}", fontsize=7, va="top")
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{n}\n({'max' if d == 'max' else 'min'}: "
                        f"{'higher' if d == 'max' else 'lower'} is up)" for n, d in zip(names, directions)], fontsize=8)
    ax.set_yticks([])
    ax.set_ylim(-0.1, 1.1)
    ax.set_xlim(-0.2, len(directions) - 0.6)
    ax.set_ylabel("better ↑ (each axis scaled to the trials' range)", fontsize=8)
    feasible_note = "; dashed: infeasible" if any(r.feasible is False for r in done) else ""
    ax.set_title(f"{len(done)} trials against {len(directions)} objectives: Pareto front "
                 f"({len(front_rows)}) in colour, the others grey{feasible_note}", fontsize=9)
    if front_rows and len(front_rows) <= 8:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, title="front", title_fontsize=7)
    fig.tight_layout()
    return _save(fig, out)


def _objectives(exp: Experiment) -> list:
    from hypsearch.dsl.api import load

    from .experiment import ExperimentDir
    from .trial import objectives_of
    return objectives_of(load(ExperimentDir(exp.dir).space_file()).sample(seed=0))


def accuracy_matrix(exp: Experiment, out: str) -> str:
    """The best trial's accuracy matrix (a multi-task data set, tasks trained in turn) as a heat map."""
    from .accuracy_matrix import draw, summary

    best = exp.best
    matrix = best.metrics[-1].get("accuracy_matrix") if best is not None and best.metrics else None
    if not matrix:
        raise HypError(f"{exp.dir}: the best trial reports no accuracy matrix (it comes with multi-task "
                       "classification sets, e.g. split_digits under train(regime = continual(...)))")
    acc, forgetting = summary(matrix)
    return draw(matrix, out, title=f"trial {best.id}: average accuracy {acc:.3f}, forgetting {forgetting:.3f}")


def history(experiments: Sequence[Experiment], out: str) -> str:
    """Every finished trial as a dot (failed ones as crosses on the lower edge) and the best so far,
    against trial number and wall time, one colour per experiment."""
    plt = _pyplot()
    fig, (by_trial, by_time) = plt.subplots(1, 2, figsize=(11, 4.2))
    drawn = 0
    for k, exp in enumerate(experiments):
        color = f"C{k % 10}"
        numbers, times, best = best_so_far(exp)
        if not best:
            continue
        label = f"{os.path.basename(exp.dir.rstrip(os.sep))} ({exp.settings.algo})"
        by_trial.step(numbers, best, where="post", label=f"{label}: best so far", color=color)
        by_time.step(times, best, where="post", color=color)
        trials = sorted(exp.trials, key=lambda r: r.finished)
        t0 = min(r.started for r in trials)
        ok = [(i, r) for i, r in enumerate(trials, 1) if r.status.has_value and r.value is not None]
        bad = [(i, r) for i, r in enumerate(trials, 1) if not (r.status.has_value and r.value is not None)]
        by_trial.scatter([i for i, _ in ok], [r.value for _, r in ok], s=18, color=color, alpha=0.6,
                         label=f"{label}: trials ({len(ok)})")
        by_time.scatter([r.finished - t0 for _, r in ok], [r.value for _, r in ok], s=18, color=color, alpha=0.6)
        if bad:
            low = min(r.value for _, r in ok) if ok else 0.0
            by_trial.scatter([i for i, _ in bad], [low] * len(bad), marker="x", color=color, alpha=0.8,
                             label=f"{label}: failed or invalid ({len(bad)})")
            by_time.scatter([r.finished - t0 for _, r in bad], [low] * len(bad), marker="x", color=color, alpha=0.8)
        drawn += 1
    if not drawn:
        plt.close(fig)
        raise HypError("no experiment has a trial with status ok to plot")
    by_trial.set_xlabel("trial (in finishing order)")
    by_time.set_xlabel("wall time (s)")
    for ax in (by_trial, by_time):
        ax.set_ylabel(_value_label(experiments[0]) if len({objective_name(e) for e in experiments}) == 1
                      else "objective value of each run (" + ", ".join(sorted({objective_name(e) or "objective"
                                                                             for e in experiments})) + ")")
        ax.grid(alpha=0.3)
    by_trial.legend(fontsize=7)
    fig.suptitle("search history: every trial and the best so far", fontsize=10)
    fig.tight_layout()
    return _save(fig, out)


def design_matrix(trials: Sequence[Trial]) -> Tuple[List[str], Any, List[Dict[Any, int]]]:
    """(decision names, a float matrix of the trials' decisions, each column's category codes).

    Numbers stay numbers; anything else (component choices as `.hyp` text, strings, bools, lists)
    is coded by first appearance. An inactive decision is coded one below the column's smallest
    value, which a tree separates from every active value.
    """
    import numpy as np

    names = sorted({k for t in trials for k in t.choices})
    codes: List[Dict[Any, int]] = [{} for _ in names]
    X = np.full((len(trials), len(names)), np.nan)
    for j, name in enumerate(names):
        values = [t.choices.get(name, None) for t in trials]
        present = [v for v, t in zip(values, trials) if name in t.choices]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
        for i, (t, v) in enumerate(zip(trials, values)):
            if name not in t.choices:
                continue
            if numeric:
                X[i, j] = float(v)
            else:
                key = repr(v)
                X[i, j] = codes[j].setdefault(key, len(codes[j]))
        col = X[:, j]
        if np.isnan(col).any():
            low = np.nanmin(col) if (~np.isnan(col)).any() else 0.0
            col[np.isnan(col)] = low - 1.0
    return names, X, codes


def importances(exp: Experiment, seed: int = 0) -> Tuple[List[str], List[float], List[float], int]:
    """(decision names, mean permutation importance, its std, trials used), most important first:
    a random forest is fitted to the ok and stopped trials' decisions -> value, and each decision's
    importance is how much the forest's R^2 drops when that column is shuffled."""
    import numpy as np
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    trials = [t for t in exp.trials if t.status.has_value and t.value is not None and math.isfinite(t.value)]
    if len(trials) < 4:
        raise HypError(f"--kind importance needs at least 4 trials with a value, {exp.dir} has {len(trials)}")
    names, X, _ = design_matrix(trials)
    if not names:
        raise HypError(f"{exp.dir}: its trials have no decisions to rank")
    y = np.array([t.value for t in trials])
    forest = RandomForestRegressor(n_estimators=100, min_samples_leaf=1, random_state=seed).fit(X, y)
    r = permutation_importance(forest, X, y, n_repeats=REPEATS, random_state=seed)
    order = np.argsort(-r.importances_mean)
    return ([names[i] for i in order], [float(r.importances_mean[i]) for i in order],
            [float(r.importances_std[i]) for i in order], len(trials))


def importance(exp: Experiment, out: str) -> str:
    """A horizontal bar per decision: its permutation importance, with the method in the title."""
    plt = _pyplot()
    names, means, stds, n = importances(exp)
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.35 * len(names)))
    ys = list(range(len(names)))[::-1]
    ax.barh(ys, means, xerr=stds, color="C0", alpha=0.8, ecolor="0.4", capsize=2)
    ax.set_yticks(ys)
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlabel(f"drop in R² of the fitted model when the decision is shuffled ({objective_name(exp) or 'objective'})")
    ax.set_title(f"decision importance: permutation importance of a random forest\nfitted to {n} trials' "
                 f"decisions -> value (mean ± std of {REPEATS} shuffles)", fontsize=9)
    ax.axvline(0, color="0.5", linewidth=0.8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, out)


def _looks_log(values: Any) -> bool:
    """Whether values spread like a log-scale decision's: over a decade or more, with their median
    nearer the middle of the range on a log axis than on a linear one (the journal keeps values,
    not domains, so the scale is read from the values)."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    if v.size < 3 or v.min() <= 0 or v.max() / v.min() < 10:
        return False
    lo, hi, med = v.min(), v.max(), float(np.median(v))
    linear = abs((med - lo) / (hi - lo) - 0.5)
    log = abs((np.log(med) - np.log(lo)) / (np.log(hi) - np.log(lo)) - 0.5)
    return bool(log < linear)


def parallel(exp: Experiment, out: str) -> str:
    """Parallel coordinates: one axis per decision (scaled to [0, 1]; categories in order of
    appearance, inactive below 0) and the value last, each trial a line coloured by its value."""
    import numpy as np

    plt = _pyplot()
    trials = [t for t in exp.trials if t.status.has_value and t.value is not None and math.isfinite(t.value)]
    if not trials:
        raise HypError(f"{exp.dir} has no trial with a value to plot")
    names, X, codes = design_matrix(trials)
    y = np.array([t.value for t in trials])
    cols = [X[:, j] for j in range(len(names))] + [y]
    labels = names + [_value_label(exp)]
    scaled = []
    logs = [k < len(names) and not codes[k] and _looks_log(c[[names[k] in t.choices for t in trials]])
            for k, c in enumerate(cols)]
    for c, log in zip(cols, logs):
        c = np.log10(c) if log else c
        lo, hi = float(np.min(c)), float(np.max(c))
        scaled.append((c - lo) / (hi - lo) if hi > lo else np.full_like(c, 0.5))
    M = np.stack(scaled, axis=1)
    fig, ax = plt.subplots(figsize=(max(7, 1.3 * len(labels)), 4.8))
    cmap = plt.get_cmap("viridis" if exp.mode == "max" else "viridis_r")  # yellow is always better
    order = np.argsort(y if exp.mode == "max" else -y)  # the best drawn last, on top
    vmin, vmax = float(y.min()), float(y.max())
    for i in order:
        frac = (y[i] - vmin) / (vmax - vmin) if vmax > vmin else 1.0
        ax.plot(range(len(labels)), M[i], color=cmap(frac), alpha=0.7, linewidth=1.2)
    for k, c in enumerate(cols):
        ax.axvline(k, color="0.3", linewidth=0.8)
        inactive = np.array([names[k] not in t.choices for t in trials]) if k < len(names) else np.zeros(len(c), bool)
        if inactive.any():
            ax.text(k + 0.03, float(M[inactive, k][0]), "inactive", fontsize=6, va="center", style="italic")
        if k < len(names) and codes[k]:
            for text, code in codes[k].items():
                rows = np.flatnonzero(X[:, k] == code)
                ax.text(k + 0.03, float(M[rows[0], k]), text.strip("'")[:18], fontsize=6, va="center")
        else:
            active = np.flatnonzero(~inactive)
            for i in (active[np.argmin(c[active])], active[np.argmax(c[active])]):
                ax.text(k + 0.03, float(M[i, k]), f"{c[i]:.3g}", fontsize=6, va="center")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels([f"{l} (log)" if log else l for l, log in zip(labels, logs)], rotation=25, ha="right", fontsize=7)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(labels) - 0.5)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(vmin, vmax))
    fig.colorbar(sm, ax=ax, label=objective_name(exp) or "objective", pad=0.01)
    ax.set_title(f"decisions against value: {len(trials)} trials (each line a trial; inactive decisions at the bottom)",
                 fontsize=9)
    fig.tight_layout()
    return _save(fig, out)
