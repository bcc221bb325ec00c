"""Sequential model-based optimisation: a Bayesian surrogate and expected improvement.

After `initial` random programs, each proposal scores candidates with expected improvement under
the surrogate (`search/surrogate.py`: features of the active decisions, a budget column, optional
random Fourier interactions; mean and uncertainty). Candidates are random programs, mutants of the
best programs so far and Thompson-guided programs; the best few are mutated again and re-scored
(`refine` rounds), a cheap local search on the acquisition. Pending proposals are believed to have
scored the worst value seen (a constant liar), so parallel proposals spread out. All updates are
rank-one and candidate counts are capped, so propose + tell costs about 2 ms at 1,000 evaluations
of a 30-decision space (`benchmarks/bench_search.py --which overhead`, BLAS on one thread: with
OpenBLAS threads contending for a few busy cores these small products get several times slower,
so set OPENBLAS_NUM_THREADS=1 there).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..models import expected_improvement
from ..surrogate import Surrogate, best_unseen, order_by
from ..trial import Status, Trial
from .base import Algorithm, require


class SMBO(Algorithm):
    """Bayesian optimisation with an incremental surrogate and expected improvement."""

    name = "smbo"
    OPTIONS = {
        "initial": (10, "random programs evaluated before the surrogate is used"),
        "candidates": (64, "random candidates scored per proposal"),
        "mutants": (64, "mutants of the best programs scored per proposal"),
        "guided": (16, "Thompson-guided candidates scored per proposal"),
        "elite": (5, "best programs whose mutants are candidates"),
        "refine": (1, "rounds of mutating the best-scored candidates and re-scoring"),
        "interactions": (64, "random Fourier features modelling interactions between decisions (0: additive model)"),
        "noise": (0.1, "observation noise of the surrogate, as a fraction of the values' variance"),
    }

    def _validate_options(self) -> None:
        o = self.options
        require(o["initial"] >= 1, "option `initial` of `smbo` must be at least 1")
        for key in ("candidates", "mutants", "guided", "refine", "interactions"):
            require(o[key] >= 0, f"option `{key}` of `smbo` must be at least 0")
        require(o["elite"] >= 1, "option `elite` of `smbo` must be at least 1")
        require(o["noise"] > 0, "option `noise` of `smbo` must be above 0")

    def _setup(self) -> None:
        o = self.options
        self.surrogate = Surrogate(self.encoding, self.seed, o["interactions"], o["noise"])
        self._answered = 0
        self._top: list = []  # best final trials, best first

    def _propose(self) -> Optional[np.ndarray]:
        o = self.options
        if self._answered < o["initial"] or self.surrogate.count == 0:
            return self.random_unseen()
        model = self.surrogate.with_lies([self.row(t) for t in self._pending.values()])
        best = model.incumbent()
        batches = [self.encoding.sample(o["candidates"], self.rng)]
        elite = self._elite(o["elite"])
        if len(elite) and o["mutants"]:
            parents = elite[self.rng.integers(len(elite), size=o["mutants"])]
            batches.append(self.encoding.mutate(parents, self.rng))
        if o["guided"]:
            batches.append(self.encoding.apply_conditions(model.guided_rows(o["guided"], self.rng)))
        rows = np.concatenate(batches)
        scores = expected_improvement(*model.predict(rows), best)
        for _ in range(o["refine"]):
            top = rows[order_by(scores)[:8]]
            more = self.encoding.mutate(np.repeat(top, 8, axis=0), self.rng)
            rows = np.concatenate([rows, more])
            scores = np.concatenate([scores, expected_improvement(*model.predict(more), best)])
        return best_unseen(self, rows, scores)

    def _elite(self, count: int) -> np.ndarray:
        return np.array([self.row(t) for t in self._top[:count]]) if self._top else np.zeros((0, self.encoding.width))

    def _on_told(self, trial: Trial) -> None:
        self._answered += 1
        if trial.status is Status.OK:
            self._top = sorted(self._top + [trial], key=lambda t: (-self.score(t), t.id))[: self.options["elite"]]
        self.surrogate.observe(self.row(trial), self.score(trial), trial.budget)

    def _on_failed(self, trial: Trial) -> None:
        self._answered += 1
        self.surrogate.observe_failure(self.row(trial))
