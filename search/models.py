"""Surrogate models: an incremental Bayesian linear regression over program features.

The features are the encoding's (one-hot choices, scaled numbers, 'inactive' flags), optionally
extended with random Fourier features of them, which turn the linear model into an approximate
Gaussian process with an RBF kernel (interactions between decisions). Observations update the
inverse precision matrix by a rank-one (Sherman-Morrison) step, O(d^2), so a tell costs
microseconds and nothing is refit from scratch per step (a 1000x1000 GP Cholesky alone takes 16 ms
on this kind of machine); the matrix is re-inverted every `refresh` updates to stop round-off drift.
Targets are standardised on the fly: only X^T y and X^T 1 are kept, both linear in y.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np


class RandomFeatures:
    """x -> [x, sqrt(2/D) cos(W x / lengthscale + b)]: a linear model on these is an
    approximate GP with a linear + RBF kernel."""

    def __init__(self, n_in: int, n_random: int, lengthscale: float, seed: int):
        rng = np.random.default_rng([seed, 7])
        self.n_random = n_random
        self.w = rng.standard_normal((n_in, n_random)) / max(lengthscale, 1e-6)
        self.b = rng.uniform(0, 2 * math.pi, n_random)
        self.n_out = n_in + n_random

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if not self.n_random:
            return x
        return np.hstack([x, math.sqrt(2.0 / self.n_random) * np.cos(x @ self.w + self.b)])


class BayesLinear:
    """Bayesian linear regression y = x.w + noise with a diagonal Gaussian prior, updated one
    observation at a time; predicts a mean and a standard deviation in the units of y."""

    def __init__(self, prior_var: np.ndarray, noise: float = 0.1, refresh: int = 200):
        d = len(prior_var)
        self.noise = float(noise)
        self.refresh = refresh
        self.prior_precision = self.noise / np.asarray(prior_var, dtype=float)
        self.a = np.diag(self.prior_precision)  # noise * prior precision + X^T X
        self.a_inv = np.diag(1.0 / self.prior_precision)
        self.xty = np.zeros(d)
        self.xt1 = np.zeros(d)
        self.n = 0
        self.sum_y = 0.0
        self.sum_y2 = 0.0
        self._since_refresh = 0
        self._w: Optional[np.ndarray] = None
        self._chol: Optional[np.ndarray] = None  # factor of the weights' covariance, for Thompson draws

    def copy(self) -> "BayesLinear":
        """An independent copy (for temporary 'lies' about pending points)."""
        other = BayesLinear.__new__(BayesLinear)
        other.__dict__.update(self.__dict__)
        for name in ("a", "a_inv", "xty", "xt1"):
            setattr(other, name, getattr(self, name).copy())
        return other

    def add(self, x: np.ndarray, y: float) -> None:
        """Add one observation (x: feature vector, y: raw target)."""
        self.a += np.outer(x, x)
        ax = self.a_inv @ x
        self.a_inv -= np.outer(ax, ax) / (1.0 + x @ ax)
        self.xty += x * y
        self.xt1 += x
        self.n += 1
        self.sum_y += y
        self.sum_y2 += y * y
        self._since_refresh += 1
        if self._since_refresh >= self.refresh:
            self.a_inv = np.linalg.inv(self.a)
            self._since_refresh = 0
        self._w = None
        if self.n < 32 or self.n % 8 == 0:
            self._factor()

    @property
    def scale(self) -> Tuple[float, float]:
        """Mean and standard deviation used to standardise the targets."""
        if self.n == 0:
            return 0.0, 1.0
        mean = self.sum_y / self.n
        var = self.sum_y2 / self.n - mean * mean
        return mean, math.sqrt(var) if var > 1e-18 else 1.0

    def weights(self) -> np.ndarray:
        """Posterior mean of the weights (standardised units)."""
        if self._w is None:
            mean, sd = self.scale
            self._w = self.a_inv @ ((self.xty - mean * self.xt1) / sd)
        return self._w

    def predict(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of f(x) for each row of x (units of y)."""
        mean, sd = self.scale
        mu = x @ self.weights()
        var = np.einsum("ij,ij->i", x @ self.a_inv, x) * self.noise
        return mean + sd * mu, sd * np.sqrt(np.maximum(var, 1e-12))

    def sample_weights(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """`count` draws of the weights from the posterior (standardised units), for Thompson
        sampling. The covariance factor is refreshed on a fixed schedule of observation counts
        (every step early, every 8th later), inside `add`, so replaying the same observations gives
        the same draws."""
        if self._chol is None:
            self._factor()
        return self.weights()[None, :] + rng.standard_normal((count, len(self._chol))) @ self._chol.T

    def _factor(self) -> None:
        cov = self.noise * self.a_inv
        try:
            self._chol = np.linalg.cholesky(cov + 1e-9 * np.eye(len(cov)))
        except np.linalg.LinAlgError:
            self._chol = np.diag(np.sqrt(np.maximum(np.diag(cov), 0.0)))


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF (erf from numpy-only code: Abramowitz-Stegun 7.1.26, error < 2e-7)."""
    x = np.abs(z) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-x * x)
    return 0.5 * (1.0 + np.sign(z) * erf)


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """Expected improvement over `best` for maximisation."""
    std = np.maximum(std, 1e-12)
    z = (mean - best) / std
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return (mean - best) * normal_cdf(z) + std * pdf
