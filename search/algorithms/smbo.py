"""Sequential model-based optimisation: a Gaussian process over the decisions and expected improvement.

After `initial` random programs, each proposal scores candidates by expected improvement under a
GP (`search/gp.py`: an exponentiated weighted-Hamming kernel over the active decisions plus an
additive overlap part for main effects, one fitted weight per decision, the budget of partial results as one more input, targets turned into normal
quantiles of their ranks, the noise level fitted from the data). The improvement is over the best
posterior mean among the programs evaluated, not the luckiest raw value, so a noisy result does not
make the search chase a fluke. Candidates are random programs and mutants of the programs with the
best posterior means; the best few are mutated again and re-scored (`refine` rounds), a local search
of the acquisition around the incumbents. Pending proposals are believed at their predicted mean
(kriging believer), so parallel proposals spread out.

With several objectives or constraints (`search/multimodel.py`) there is one GP per objective and
per constraint, and each proposal draws a fresh weight vector (ParEGO): candidates are scored by the
expected improvement of that scalarisation times the probability of feasibility, and the elite
whose mutants are candidates are the best programs under the same weights.

The per-proposal cost is held to a few milliseconds at 1,000 evaluations of a 30-decision space
(`benchmarks/bench_search.py --which overhead`): the GP conditions on at most `max_points`
observations (the best and the most recent), and its hyperparameters are refitted at fixed counts
(every step early, about every tenth observation later). BLAS should run on one thread there: with
OpenBLAS threads contending for a few busy cores these small products get several times slower.
"""

from __future__ import annotations

from typing import List, Optional

import numpy as np

from ..gp import GPSurrogate
from ..models import expected_improvement
from ..multimodel import MultiModel
from ..pareto import random_weights
from ..surrogate import best_unseen, order_by
from ..trial import Status, Trial
from .base import Algorithm, require


class SMBO(Algorithm):
    """Bayesian optimisation with a categorical-aware GP and expected improvement."""

    name = "smbo"
    OPTIONS = {
        "initial": (8, "random programs evaluated before the surrogate is used"),
        "candidates": (128, "random candidates scored per proposal"),
        "mutants": (128, "mutants of the programs with the best posterior means scored per proposal"),
        "elite": (5, "programs with the best posterior means whose mutants are candidates"),
        "refine": (2, "rounds of mutating the best-scored candidates and re-scoring"),
        "max_points": (128, "observations the GP conditions on at most (the best and the most recent)"),
        "noise_floor": (0.1, "estimated noise share above which the reported best is the best posterior mean"),
        "recommend_among": (3, "best raw results among which the reported best under noise is the best posterior mean"),
    }

    def _validate_options(self) -> None:
        o = self.options
        require(o["initial"] >= 1, "option `initial` of `smbo` must be at least 1")
        for key in ("candidates", "mutants", "refine"):
            require(o[key] >= 0, f"option `{key}` of `smbo` must be at least 0")
        require(o["elite"] >= 1, "option `elite` of `smbo` must be at least 1")
        require(o["max_points"] >= 10, "option `max_points` of `smbo` must be at least 10")
        require(0 <= o["noise_floor"] <= 1, "option `noise_floor` of `smbo` must be between 0 and 1")
        require(o["recommend_among"] >= 1, "option `recommend_among` of `smbo` must be at least 1")

    def _setup(self) -> None:
        self.surrogate = GPSurrogate(self.encoding, self.options["max_points"])
        self._answered = 0
        if self.multi:
            self.model = MultiModel(self.encoding, len(self.directions), self.constraints, self.options["max_points"])

    def _propose(self) -> Optional[np.ndarray]:
        if self.multi:
            return self._propose_multi()
        o = self.options
        model = self.surrogate
        if self._answered < o["initial"] or not model.ready([self.row(t) for t in self._pending.values()]):
            return self.random_unseen()
        best = model.incumbent()
        batches = [self.encoding.sample(o["candidates"], self.rng)]
        elite = elite_rows(self, o["elite"])
        if len(elite) and o["mutants"]:
            parents = elite[self.rng.integers(len(elite), size=o["mutants"])]
            batches.append(self.encoding.mutate(parents, self.rng))
        rows = np.concatenate(batches)
        scores = expected_improvement(*model.predict(rows), best)
        for _ in range(o["refine"]):
            top = rows[order_by(scores)[:8]]
            more = self.encoding.mutate(np.repeat(top, 8, axis=0), self.rng)
            rows = np.concatenate([rows, more])
            scores = np.concatenate([scores, expected_improvement(*model.predict(more), best)])
        return best_unseen(self, rows, scores)

    def _propose_multi(self) -> Optional[np.ndarray]:
        o = self.options
        model = self.model
        if self._answered < o["initial"] or not model.ready([self.row(t) for t in self._pending.values()]):
            return self.random_unseen()
        weights = random_weights(len(self.directions), self.rng)
        batches = [self.encoding.sample(o["candidates"], self.rng)]
        means = model.scalarised_means(weights)
        ranked = sorted(means, key=lambda i: (not model.feasible.get(i, True), -means[i], i))[: o["elite"]]
        if ranked and o["mutants"]:
            elite = np.array([self.row(i) for i in ranked])
            batches.append(self.encoding.mutate(elite[self.rng.integers(len(elite), size=o["mutants"])], self.rng))
        rows = np.concatenate(batches)
        scores = model.acquisition(rows, weights, self.rng)
        for _ in range(o["refine"]):
            more = self.encoding.mutate(np.repeat(rows[order_by(scores)[:8]], 8, axis=0), self.rng)
            rows = np.concatenate([rows, more])
            scores = np.concatenate([scores, model.acquisition(more, weights, self.rng)])
        return best_unseen(self, rows, scores)

    def _estimates(self, finals: List[Trial]) -> Optional[np.ndarray]:
        return posterior_estimates(self, finals, self.options["noise_floor"], self.options["recommend_among"])

    def _on_told(self, trial: Trial) -> None:
        self._answered += 1
        if self.multi:
            self.model.observe(trial.id, self.row(trial), self.objectives(trial), trial.constraints, trial.feasible,
                               trial.budget)
            return
        self.surrogate.observe(trial.id, self.row(trial), self.score(trial), trial.budget)

    def _on_failed(self, trial: Trial) -> None:
        self._answered += 1
        if self.multi:
            self.model.observe(trial.id, self.row(trial), None, None, None, failed=True)
            return
        self.surrogate.observe(trial.id, self.row(trial), -np.inf)

    def _on_infeasible(self, trial: Trial) -> None:
        self._answered += 1
        self.model.observe(trial.id, self.row(trial), None, trial.constraints, False)


def posterior_estimates(algo: Algorithm, finals: List[Trial], noise_floor: float, among: int) -> Optional[np.ndarray]:
    """Posterior means of the `among` best raw finals under `algo.surrogate` when it estimates the
    results to be noisy (a noise share above `noise_floor`), else None (the raw values stand); the
    other finals rank last. Measured on Channel-Bench-Macro (3 recorded runs per network): the best
    posterior mean over every program named worse networks than the raw best (the GP smooths the
    top away), the best posterior mean among the 3 best raw results better ones."""
    model = algo.surrogate
    if model.noise_fraction <= noise_floor or not model.ready():
        return None
    means = model.fitted_means()
    top = {t.id for t in sorted(finals, key=lambda t: (-algo.score(t), t.id))[:among]}
    return np.array([means.get(t.id, -np.inf) if t.id in top else -np.inf for t in finals])


def elite_rows(algo: Algorithm, count: int) -> np.ndarray:
    """Rows of the `count` final trials with the best posterior means (raw scores before a model)."""
    model = algo.surrogate
    means = model.fitted_means() if model.conditioned else {}
    if means:
        ids = sorted(means, key=lambda i: (-means[i], i))[:count]
    else:
        finals = sorted((t for t in algo.trials.values() if t.status is Status.OK), key=lambda t: (-algo.score(t), t.id))
        ids = [t.id for t in finals[:count]]
    return np.array([algo.row(i) for i in ids]) if ids else np.zeros((0, algo.encoding.width))
