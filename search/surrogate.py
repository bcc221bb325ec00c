"""A surrogate of the objective over programs, shared by SMBO and MCTS's guided roll-outs.

It feeds encoding features (plus a budget column, so a result at budget 0.5 is modelled as such and
predictions are made at the full budget) to an incremental Bayesian linear model, optionally with
random Fourier features for interactions. Failed trials are learned as the worst value seen so far
(deferred until a first value arrives). `guided_rows` draws programs by Thompson sampling of the
additive part: each draw takes, per categorical decision, the best choice under one posterior
sample of the weights, which is what steers a roll-out towards good regions.
"""

from __future__ import annotations

import math
from typing import List, Optional, Tuple

import numpy as np

from .models import BayesLinear, RandomFeatures
from hypsearch.decisions.rows import CHOICE, SUBSET, RowEncoding


class Surrogate:
    """Mean and uncertainty of the objective of programs (rows of a `RowEncoding`)."""

    def __init__(self, encoding: RowEncoding, seed: int, interactions: int = 0, noise: float = 0.1,
                 lengthscale: float = 0.0):
        self.encoding = encoding
        n_in = encoding.n_features + 1  # + budget column
        n_active = max(1.0, float(len(encoding.decisions)))
        self.features = RandomFeatures(n_in, interactions, lengthscale or math.sqrt(n_active), seed)
        self.model = BayesLinear(np.ones(self.features.n_out), noise)
        self.best_final = -math.inf
        self.best_any = -math.inf
        self.worst = math.inf
        self._deferred: List[np.ndarray] = []

    def featurize(self, rows: np.ndarray, budget: float = 1.0) -> np.ndarray:
        """Model inputs of rows evaluated at `budget` (predictions use budget 1)."""
        x = self.encoding.features(rows)
        return self.features(np.hstack([x, np.full((len(rows), 1), 1.0 - min(budget, 1.0))]))

    @property
    def count(self) -> int:
        """Number of observations (values and failures) learned."""
        return self.model.n

    def observe(self, row: np.ndarray, value: float, budget: float = 1.0) -> None:
        """Learn a value (budget < 1: a partial result)."""
        self.model.add(self.featurize(row[None, :], budget)[0], value)
        self.worst = min(self.worst, value)
        self.best_any = max(self.best_any, value)
        if budget >= 1.0:
            self.best_final = max(self.best_final, value)
        for failed in self._deferred:
            self.model.add(self.featurize(failed[None, :])[0], self.worst)
        self._deferred = []

    def observe_failure(self, row: np.ndarray) -> None:
        """Learn a failure as the worst value seen (or once a first value arrives)."""
        if self.model.n == 0 or not math.isfinite(self.worst):
            self._deferred.append(row)
        else:
            self.model.add(self.featurize(row[None, :])[0], self.worst)

    def incumbent(self) -> float:
        """The best value to improve on: the best final one, else the best partial one."""
        return self.best_final if math.isfinite(self.best_final) else self.best_any

    def predict(self, rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the value of each row at the full budget."""
        return self.model.predict(self.featurize(rows))

    def with_lies(self, rows: List[np.ndarray]) -> "Surrogate":
        """A copy that believes each row scored the worst value seen (constant liar for pending trials)."""
        other = Surrogate.__new__(Surrogate)
        other.__dict__.update(self.__dict__)
        other.model = self.model.copy()
        if rows and math.isfinite(self.worst):
            x = self.featurize(np.array(rows))
            for xi in x:
                other.model.add(xi, self.worst)
        return other

    def guided_rows(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """`count` raw rows (conditions not applied): categorical and subset decisions set to the best
        choices under Thompson samples of the weights; numbers drawn at random."""
        rows = self.encoding.sample_raw(count, rng)
        n_lin = self.encoding.n_features
        w = self.model.sample_weights(count, rng)[:, :n_lin]
        sp = self.encoding
        for i in range(len(sp.decisions)):
            kind = sp.kind[i]
            if kind not in (CHOICE, SUBSET):
                continue
            cols = np.flatnonzero(sp.feature_decision[:n_lin] == i)
            if kind == SUBSET:
                cols = cols[: int(sp.n_values[i])]
            block = w[:, cols]
            if kind == CHOICE:
                rows[:, sp.slots[i].start] = block.argmax(axis=1)
            elif sp.decisions[i].distinct:
                k = sp.slots[i].stop - sp.slots[i].start
                top = np.argsort(-block, axis=1)[:, :k].astype(float)
                rows[:, sp.slots[i]] = np.sort(top, axis=1) if sp.decisions[i].sorted else top
        return rows


def order_by(scores: np.ndarray) -> np.ndarray:
    """Indices from the highest score down (stable)."""
    return np.argsort(-scores, kind="stable")


def best_unseen(algo, rows: np.ndarray, scores: np.ndarray) -> Optional[np.ndarray]:
    """The highest-scoring row of `rows` that `algo` has not proposed."""
    return algo.first_unseen(rows, order_by(scores))
