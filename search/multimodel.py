"""The models of a search with several objectives or constraints: one GP per objective and one
per constraint (`search/gp.py`), and the acquisition the multi-objective algorithms share.

The acquisition is ParEGO's idea carried over to independent models: a weight vector (drawn fresh
for each proposal by the caller) turns the objectives into one augmented Chebyshev scalarisation;
its expected improvement over the best scalarised posterior mean of the feasible programs is
estimated from joint samples of the objectives' posteriors, and multiplied by the probability that
every constraint holds. The GPs work in copula units (normal quantiles of ranks), a monotone
transform of each objective, so dominance is unchanged and the objectives come out on one scale.
A constraint's threshold (its value 0) sits, in those units, between the observed programs that
meet it and those that do not.

`hv_acquisition` is the other acquisition, for one or two objectives: the expected hypervolume
improvement over the feasible front of posterior means (estimated from the same joint samples,
each draw's improvement exact), times the same probability of feasibility. It needs no weights,
and it ranks a batch of candidates by how much each would widen the front; evolution and mcts
rank their offspring and roll-outs by it (on Channel-Bench-Macro it beat a scalarisation per
proposal by 0.03-0.045 of hypervolume share at 50 evaluations).
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import numpy as np

from hypsearch.decisions import RowEncoding

from .gp import GPSurrogate
from .pareto import chebyshev, front_mask, hypervolume_improvement


def _norm_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)(np.asarray(x, dtype=float) / math.sqrt(2.0)))


class MultiModel:
    """GPs over the objectives (scores: higher is better) and the constraint margins."""

    def __init__(self, encoding: RowEncoding, objectives: int, constraints: int, max_points: int = 128):
        self.encoding = encoding
        self.objectives = [GPSurrogate(encoding, max_points) for _ in range(objectives)]
        self.constraint_models = [GPSurrogate(encoding, max_points) for _ in range(constraints)]
        self.feasible: Dict[int, bool] = {}

    def observe(self, trial_id: int, row: np.ndarray, scores: Optional[np.ndarray],
                constraints: Optional[Sequence[float]], feasible: Optional[bool], budget: float = 1.0,
                failed: bool = False) -> None:
        """Learn a result: objective scores (None: not trained), constraint values, feasibility;
        `failed` for a trial that raised (the worst value of every objective)."""
        if failed:
            for m in self.objectives:
                m.observe(trial_id, row, -np.inf)
        elif scores is not None:
            for m, s in zip(self.objectives, scores):
                m.observe(trial_id, row, float(s), budget)
        if constraints is not None:
            for m, c in zip(self.constraint_models, constraints):
                m.observe(trial_id, row, -float(c))  # the margin: higher is more feasible
        if feasible is not None and not failed:
            self.feasible[trial_id] = bool(feasible)

    def ready(self, pending: Optional[List[np.ndarray]] = None) -> bool:
        """Condition every GP (pending rows believed at their means); False before each objective
        has something to learn from."""
        if not all(m.ready(pending) for m in self.objectives):
            return False
        for m in self.constraint_models:
            m.ready(pending)
        return True

    def scalarised_means(self, weights: np.ndarray) -> Dict[int, float]:
        """Trial id -> scalarised posterior mean of the final results every objective GP knows."""
        means = [m.fitted_means() for m in self.objectives]
        ids = sorted(set.intersection(*(set(d) for d in means))) if means else []
        if not ids:
            return {}
        points = np.array([[d[i] for d in means] for i in ids])
        low, high = self._box(points)
        values = chebyshev(points, weights, low, high)
        return dict(zip(ids, values.tolist()))

    def acquisition(self, rows: np.ndarray, weights: np.ndarray, rng: np.random.Generator,
                    samples: int = 32) -> np.ndarray:
        """Expected improvement of the scalarisation under `weights` times the probability of
        feasibility, for each row (call ready() first)."""
        preds = [m.predict(rows) for m in self.objectives]
        mean = np.stack([p[0] for p in preds], axis=1)
        std = np.stack([np.maximum(p[1], 1e-9) for p in preds], axis=1)
        known = self.scalarised_means(weights)
        means = [m.fitted_means() for m in self.objectives]
        ids = sorted(set.intersection(*(set(d) for d in means)))
        points = np.array([[d[i] for d in means] for i in ids]) if ids else mean
        low, high = self._box(points)
        feasible = [known[i] for i in ids if self.feasible.get(i, True)]
        draws = mean[None] + std[None] * rng.standard_normal((samples,) + mean.shape)
        scal = chebyshev(draws, weights, low, high)
        if feasible:
            ei = np.maximum(scal - max(feasible), 0.0).mean(axis=0)
        else:  # nothing feasible yet: feasibility alone decides, the scalarisation breaks ties
            ei = np.zeros(len(rows))
        # A tiny share of the mean scalarisation orders candidates where no improvement is expected.
        score = ei + 1e-6 * (1.0 + np.tanh(chebyshev(mean, weights, low, high)))
        return score * self.feasibility(rows)

    def hv_acquisition(self, rows: np.ndarray, weights: np.ndarray, rng: np.random.Generator,
                       samples: int = 32) -> np.ndarray:
        """Expected hypervolume improvement over the feasible programs' posterior means times the
        probability of feasibility, for each row (one or two objectives; with more, the
        scalarisation under `weights` of `acquisition`). Call ready() first."""
        if len(self.objectives) > 2:
            return self.acquisition(rows, weights, rng, samples)
        preds = [m.predict(rows) for m in self.objectives]
        mean = np.stack([p[0] for p in preds], axis=1)
        std = np.stack([np.maximum(p[1], 1e-9) for p in preds], axis=1)
        means = [m.fitted_means() for m in self.objectives]
        ids = sorted(set.intersection(*(set(d) for d in means)))
        points = np.array([[d[i] for d in means] for i in ids]) if ids else np.zeros((0, len(means)))
        front = np.array([p for i, p in zip(ids, points) if self.feasible.get(i, True)]).reshape(-1, len(means))
        if not len(front):  # nothing feasible yet: feasibility alone decides, the means break ties
            return (1e-6 * (1.0 + np.tanh(mean.mean(axis=1)))) * self.feasibility(rows)
        # The reference sits a tenth of the known range (at least 0.1: copula units put every
        # objective on one scale) below the worst known value, so the front's ends still count.
        low, high = points.min(axis=0), points.max(axis=0)
        reference = low - 0.1 * np.maximum(high - low, 1.0)
        front = front[front_mask(front)]
        draws = mean[None] + std[None] * rng.standard_normal((samples,) + mean.shape)
        ehvi = hypervolume_improvement(draws, front, reference).mean(axis=0)
        # Where no improvement is expected, the candidate closest to the front comes first.
        gap = np.max(front[None, :, :] - mean[:, None, :], axis=2).min(axis=1)
        score = ehvi + 1e-9 * (1.0 - np.tanh(np.maximum(gap, 0.0)))
        return score * self.feasibility(rows)

    def feasibility(self, rows: np.ndarray) -> np.ndarray:
        """The probability that every constraint holds at each row (1 without constraint data)."""
        p = np.ones(len(rows))
        for m in self.constraint_models:
            if not m.conditioned:
                continue
            margins = np.array(m.values)
            if not np.isfinite(margins).any():
                continue
            _, y, idx = m._data()
            taken = margins[idx]
            ok, bad = y[taken >= 0], y[taken < 0]
            if not len(bad):
                continue  # every observed program meets it: no boundary to learn yet
            threshold = (float(bad.max()) + float(ok.min())) / 2 if len(ok) else float(bad.max()) + 0.5
            mean, std = m.predict(rows)
            p *= _norm_cdf((mean - threshold) / np.maximum(std, 1e-9))
        return p

    @staticmethod
    def _box(points: np.ndarray):
        return points.min(axis=0), points.max(axis=0)
