"""A Gaussian-process surrogate on the row encoding, with its noise level estimated from the data.

The kernel is an exponentiated weighted Hamming distance over the active decisions (as HEBO's and
CoCaBO's overlap kernels, and BOSS's transformed overlap): k(x, x') = s^2 exp(-sum_d w_d dist_d),
where dist_d is 1 for two different values of a choice (an inactive decision being a value of its
own), the share of a subset's members that differ, and the squared distance of numbers scaled to
[0, 1] (log where asked). Each decision's columns are scaled by sqrt(w_d), so the kernel is an RBF
on those columns and a whole kernel matrix is one matrix product. An additive part is added to
this product kernel: beta * sum_d w_d [x_d = x'_d] over the choices, subsets and inactive flags,
which is, up to a constant, the sum of per-decision overlap kernels, and costs one more product of
the same columns. It carries main effects ("this operation is good on this edge") to programs far
from every observation, where the product kernel falls to the prior: measured on NAS-Bench-201
(40 seeds), the product kernel alone correlated 0.1-0.3 with the true values where smbo stayed in
a second basin, and the search found the optimum within 100 evaluations in 37 seeds against 35.
Numbers stay out of it (their dot products would be a linear trend). The weights w_d (one per
decision: which decisions matter), beta, the signal variance and the noise variance are fitted by
maximising the marginal likelihood with log-normal priors (Adam on the log parameters, analytic
gradients), on a fixed schedule of observation counts and warm-started from the previous fit, so
replaying the same observations gives the same model (exact resumption). The noise variance is
the model's estimate of how noisy the results are.

Targets are the mean of two monotone transforms of the values, the Gaussian copula (normal
quantiles of their ranks) and a robust standardisation with a logarithmic lower tail (`warp`):
outliers such as architectures that do not train do not flatten the differences near the top,
the scale of the objective does not matter, and, unlike ranks alone, tiny differences inside a
cluster of near-equal results are not blown up into large ones (ranks alone kept smbo circling a
corner of a 4-d bowl; the warp alone found NAS-Bench-201's optimum in fewer seeds). Beyond `max_points` observations the model conditions on the best half
and the most recent half of them (a local model around where the search is), which keeps a
proposal at 1,000 evaluations to a few milliseconds.
"""

from __future__ import annotations

import math
from typing import List, Optional, Tuple

import numpy as np

from hypsearch.decisions import RowEncoding
from hypsearch.decisions.rows import CHOICE, SUBSET

_HALF = math.sqrt(0.5)
# Prior centre of the additive part's weight against the product kernel's (fitted from there).
# Measured on NAS-Bench-201 (40 seeds, 100 evaluations): 0.15 and 3 found the optimum in fewer
# seeds than 0.8 and 1.5.
BETA_CENTRE = 1.5


class KernelInputs:
    """Rows (and budgets) -> columns whose squared distances, weighted per decision, are the
    kernel's distances; `group[c]` is the decision of column c (the last group is the budget)."""

    def __init__(self, encoding: RowEncoding):
        self.encoding = sp = encoding
        self._cat = []  # (first slot, width in slots, first column, values, inactive column or -1, column value)
        self._num = []  # (slot, column, inactive column or -1)
        groups: List[int] = []
        col = 0
        for i in range(len(sp.decisions)):
            s = sp.slots[i]
            cond = bool(sp.conditional[i])
            if sp.kind[i] in (CHOICE, SUBSET):
                n = int(sp.n_values[i])
                width = s.stop - s.start
                value = _HALF if sp.kind[i] == CHOICE else math.sqrt(0.5 / width)
                self._cat.append((s.start, width, col, n, col + n if cond else -1, value))
                used = n + (1 if cond else 0)
            else:
                self._num.append((s.start, col, col + 1 if cond else -1))
                used = 2 if cond else 1
            groups.extend([i] * used)
            col += used
        groups.append(len(sp.decisions))  # the budget column
        # Single-slot choices are filled in one step (a proposal featurises hundreds of rows).
        single = [c for c in self._cat if c[1] == 1]
        self._cat = [c for c in self._cat if c[1] != 1]
        self._one_slots = np.array([c[0] for c in single], dtype=int)
        self._one_cols = np.array([c[2] for c in single], dtype=int)
        self._one_inactive = np.array([c[4] for c in single], dtype=int)
        self.group = np.array(groups, dtype=int)
        self.n_groups = len(sp.decisions) + 1
        self.width = col + 1
        # The additive part's columns: every column but numbers' values, whose dot products would
        # be a linear trend (measured: no better on Channel-Bench-Macro's widths, worse there with
        # the trend than without).
        numeric = np.zeros(self.width, dtype=bool)
        numeric[[n[1] for n in self._num]] = True
        self.linear = np.flatnonzero(~numeric)
        self._num_slots = np.array([n[0] for n in self._num], dtype=int)
        self._num_cols = np.array([n[1] for n in self._num], dtype=int)
        self._num_ind = np.array([j for j, n in enumerate(self._num) if n[2] >= 0], dtype=int)
        self._num_inactive = np.array([n[2] for n in self._num if n[2] >= 0], dtype=int)

    def prior_weights(self) -> np.ndarray:
        """Prior centres of the per-decision weights: two random programs differing in every
        decision correlate at about exp(-2). A float's (or a wide integer's) squared distance
        between random values averages 1/6 against about 1 for a choice, so its weight is six
        times larger: a lengthscale of about a third of the range, as long ones extrapolate trends
        into the corners (measured: smbo stuck at the corners of a 4-d bowl). Integers of at most
        16 values keep the choices' weight: on Channel-Bench-Macro's widths 1-4 the longer scale
        named better networks."""
        sp = self.encoding
        active = max(int((~sp.conditional).sum()), 1)
        numeric = np.array([sp.kind[i] not in (CHOICE, SUBSET) and not 0 < sp.n_values[i] <= 16
                            for i in range(len(sp.decisions))] + [False])
        return np.where(numeric, 12.0, 2.0) / active

    def __call__(self, rows: np.ndarray, budgets: Optional[np.ndarray] = None) -> np.ndarray:
        count = len(rows)
        z = np.zeros((count, self.width))
        r = np.arange(count)
        if len(self._one_slots):
            v = rows[:, self._one_slots]
            on = ~np.isnan(v)
            rr = np.broadcast_to(r[:, None], v.shape)
            z[rr[on], (self._one_cols[None, :] + np.where(on, v, 0).astype(int))[on]] = _HALF
            off = ~on & (self._one_inactive >= 0)[None, :]
            z[rr[off], np.broadcast_to(self._one_inactive, v.shape)[off]] = _HALF
        for start, width, col, n, inactive, value in self._cat:
            v = rows[:, start:start + width]
            on = ~np.isnan(v[:, 0])
            if width == 1:
                z[r[on], col + v[on, 0].astype(int)] = value
            else:
                for j in range(width):
                    np.add.at(z, (r[on], col + v[on, j].astype(int)), value)
            if inactive >= 0:
                z[~on, inactive] = _HALF
        if len(self._num):
            u = self.encoding.to_unit(rows, self._num_slots)
            on = ~np.isnan(u)
            z[:, self._num_cols] = np.where(on, u, 0.0)
            if len(self._num_ind):
                z[:, self._num_inactive] = ~on[:, self._num_ind]
        if budgets is not None:
            z[:, -1] = 1.0 - np.minimum(budgets, 1.0)
        return z


def norm_ppf(p: np.ndarray) -> np.ndarray:
    """Standard normal quantiles (Acklam's rational approximation, relative error < 1.2e-9)."""
    a = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
         -3.066479806614716e+01, 2.506628277459239e+00)
    b = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
         -1.328068155288572e+01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
         4.374664141464968e+00, 2.938163982698783e+00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00)
    p = np.asarray(p, dtype=float)
    out = np.empty_like(p)
    low, high = p < 0.02425, p > 1 - 0.02425
    mid = ~(low | high)
    q = p[mid] - 0.5
    r = q * q
    out[mid] = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    for mask, sign in ((low, 1.0), (high, -1.0)):
        q = np.sqrt(-2 * np.log(p[mask] if sign > 0 else 1 - p[mask]))
        out[mask] = sign * (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    return out


def warp(values: np.ndarray) -> np.ndarray:
    """Targets for the GP: values standardised by their median and spread, with the tail below two
    spreads compressed logarithmically (programs that do not train must not flatten the
    differences near the top), then scaled to mean 0 and variance 1. Monotone, so the best stays the best."""
    centre = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - centre)))
    if not spread > 1e-12:
        spread = float(values.std()) or 1.0
    z = (values - centre) / spread
    low = z < -2.0
    z[low] = -2.0 - np.log1p(-2.0 - z[low])
    sd = z.std()
    return (z - z.mean()) / (sd if sd > 1e-12 else 1.0)


def copula(values: np.ndarray) -> np.ndarray:
    """Normal quantiles of the values' ranks (ties share their mean rank; -inf ranks lowest)."""
    n = len(values)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n, dtype=float)
    # Ties: every member of a run of equal values gets the run's mean rank.
    _, start, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranks[order] = np.repeat(start + (counts - 1) / 2.0, counts)
    return norm_ppf((ranks + 0.5) / n)


class GP:
    """Exact GP regression with the weighted-Hamming kernel; hyperparameters by MAP-II."""

    def __init__(self, group: np.ndarray, w_centre: np.ndarray, linear: Optional[np.ndarray] = None):
        self.group = group
        self.linear = np.arange(len(group)) if linear is None else linear
        self.n_groups = len(w_centre)
        self.w_centre = np.log(w_centre)
        self.log_w = self.w_centre.copy()
        self.log_sf2 = 0.0
        self.log_sn2 = math.log(0.1)
        self.log_beta = math.log(BETA_CENTRE) if len(self.linear) else -math.inf
        self.fitted = False
        self.z: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self._numeric = np.setdiff1d(np.arange(len(group)), self.linear)

    # -- hyperparameters ------------------------------------------------------------------

    def fit(self, z: np.ndarray, y: np.ndarray, iterations: int) -> None:
        """MAP-II hyperparameters on (z, y): `iterations` Adam steps from the current ones."""
        n = len(y)
        groups = self.n_groups
        add = math.isfinite(self.log_beta)
        in_linear = np.zeros(len(self.group), dtype=bool)
        in_linear[self.linear] = True
        # Distances and dot products on the upper triangle only (the matrices are symmetric):
        # half the work of the weighted sums; off-diagonal terms count twice in the gradients.
        iu, ju = np.triu_indices(n)
        twice = np.where(iu == ju, 1.0, 2.0)
        flat = iu * n + ju
        dist = np.zeros((groups, len(iu)))
        dots = np.zeros((groups, len(iu))) if add else None
        for g in range(groups):
            cols = z[:, self.group == g]
            if cols.shape[1]:
                gram = cols @ cols.T
                sq = np.diag(gram)
                dist[g] = np.maximum(sq[:, None] + sq[None, :] - 2 * gram, 0.0).ravel()[flat]
                if add:
                    lin = z[:, (self.group == g) & in_linear]
                    dots[g] = (lin @ lin.T).ravel()[flat]
        theta = np.concatenate([self.log_w, [self.log_sf2, self.log_sn2], [self.log_beta] if add else []])
        centre = np.concatenate([self.w_centre, [0.0, math.log(0.1)], [math.log(BETA_CENTRE)] if add else []])
        spread = np.concatenate([np.full(groups, 0.6), [1.0, 1.5], [1.5] if add else []])
        low = np.concatenate([np.full(groups, -7.0), [-3.0, math.log(1e-4)], [-6.0] if add else []])
        high = np.concatenate([np.full(groups, 3.0), [3.0, math.log(2.0)], [2.0] if add else []])
        m, v = np.zeros_like(theta), np.zeros_like(theta)
        lr, b1, b2 = 0.08, 0.9, 0.999
        k = np.empty((n, n))
        for step in range(1, iterations + 1):
            w = np.exp(theta[:groups])
            sf2, sn2 = math.exp(theta[groups]), math.exp(theta[groups + 1])
            prod = sf2 * np.exp(-(w @ dist))
            kf = prod
            if add:
                beta = math.exp(theta[groups + 2])
                additive = sf2 * beta * (w @ dots)
                kf = prod + additive
            k[iu, ju] = kf
            k[ju, iu] = kf
            k[np.diag_indices(n)] += sn2 + 1e-8
            try:
                chol = np.linalg.cholesky(k)
            except np.linalg.LinAlgError:
                theta[groups + 1] = min(theta[groups + 1] + 1.0, high[groups + 1])
                continue
            l_inv = triangular_inverse(chol)
            k_inv = l_inv.T @ l_inv
            alpha = k_inv @ y
            a = (np.outer(alpha, alpha) - k_inv)[iu, ju] * twice
            grad = np.empty_like(theta)
            grad[:groups] = -0.5 * w * (dist @ (a * prod))
            if add:
                grad[:groups] += 0.5 * w * sf2 * beta * (dots @ a)
                grad[groups + 2] = 0.5 * (a @ additive)
            grad[groups] = 0.5 * (a @ kf)
            grad[groups + 1] = 0.5 * sn2 * (alpha @ alpha - np.einsum("ij,ij->", l_inv, l_inv))
            grad -= (theta - centre) / spread ** 2  # log-normal priors
            m = b1 * m + (1 - b1) * grad
            v = b2 * v + (1 - b2) * grad * grad
            theta = np.clip(theta + lr * (m / (1 - b1 ** step)) / (np.sqrt(v / (1 - b2 ** step)) + 1e-8), low, high)
        self.log_w = theta[:groups].copy()
        self.log_sf2, self.log_sn2 = float(theta[groups]), float(theta[groups + 1])
        if add:
            self.log_beta = float(theta[groups + 2])
        self.fitted = True

    @property
    def noise_fraction(self) -> float:
        """The share of the targets' variance the model attributes to noise."""
        sf2, sn2 = math.exp(self.log_sf2), math.exp(self.log_sn2)
        if math.isfinite(self.log_beta):  # the additive part's share of the prior variance
            share = float(np.einsum("ij,ij->", self.z[0], self.z[0])) / len(self.z[0]) if self.z is not None else 1.0
            sf2 *= 1.0 + math.exp(self.log_beta) * share
        return sn2 / (sf2 + sn2)

    # -- conditioning and prediction --------------------------------------------------------

    def _scaled(self, z: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The columns scaled by sqrt(w): those of the additive part, then the numbers'."""
        scale = np.sqrt(np.exp(self.log_w))[self.group]
        return z[:, self.linear] * scale[self.linear], z[:, self._numeric] * scale[self._numeric]

    def _cross(self, a: Tuple[np.ndarray, np.ndarray], b: Tuple[np.ndarray, np.ndarray], sb: np.ndarray) -> np.ndarray:
        # One product over all columns, in two pieces: the additive part's columns are also the
        # product kernel's, so its dot products come for free.
        sa = np.einsum("ij,ij->i", a[0], a[0]) + np.einsum("ij,ij->i", a[1], a[1])
        lin = a[0] @ b[0].T
        d = a[1] @ b[1].T
        d += lin
        d *= -2.0
        d += sa[:, None]
        d += sb[None, :]
        np.maximum(d, 0.0, out=d)
        np.negative(d, out=d)
        np.exp(d, out=d)
        if math.isfinite(self.log_beta):
            lin *= math.exp(self.log_beta)
            d += lin
        d *= math.exp(self.log_sf2)
        return d

    def condition(self, z: np.ndarray, y: np.ndarray) -> None:
        """Condition on observations (z, y) with the current hyperparameters."""
        self.z = self._scaled(z)
        self._sq = np.einsum("ij,ij->i", self.z[0], self.z[0]) + np.einsum("ij,ij->i", self.z[1], self.z[1])
        k = self._cross(self.z, self.z, self._sq)
        k[np.diag_indices_from(k)] += math.exp(self.log_sn2) + 1e-8
        try:
            chol = np.linalg.cholesky(k)
        except np.linalg.LinAlgError:
            chol = np.linalg.cholesky(k + 1e-4 * np.eye(len(y)))
        self.l_inv = triangular_inverse(chol)
        self.alpha = self.l_inv.T @ (self.l_inv @ y)

    def predict(self, z: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the latent function at each row of z."""
        zs = self._scaled(z)
        ks = self._cross(zs, self.z, self._sq)
        mean = ks @ self.alpha
        v = ks @ self.l_inv.T
        prior = np.ones(len(z))
        if math.isfinite(self.log_beta):
            prior += math.exp(self.log_beta) * np.einsum("ij,ij->i", zs[0], zs[0])
        var = math.exp(self.log_sf2) * prior - np.einsum("ij,ij->i", v, v)
        return mean, np.sqrt(np.maximum(var, 1e-12))


def triangular_inverse(chol: np.ndarray) -> np.ndarray:
    """The inverse of a lower-triangular matrix by 2x2 blocks (numpy's inv treats it as a full
    matrix: about three times the work at 128 points)."""
    n = len(chol)
    if n <= 32:
        return np.linalg.inv(chol)
    h = n // 2
    a_inv = triangular_inverse(chol[:h, :h])
    d_inv = triangular_inverse(chol[h:, h:])
    out = np.zeros_like(chol)
    out[:h, :h] = a_inv
    out[h:, h:] = d_inv
    out[h:, :h] = -(d_inv @ chol[h:, :h]) @ a_inv
    return out


class GPSurrogate:
    """The observations of a search (rows, scores where higher is better, budgets; failures) and a
    GP over them, refitted on a fixed schedule of observation counts."""

    def __init__(self, encoding: RowEncoding, max_points: int = 200, fit_iterations: int = 60):
        self.encoding = encoding
        self.inputs = KernelInputs(encoding)
        self.gp = GP(self.inputs.group, self.inputs.prior_weights(), self.inputs.linear)
        self.max_points = max_points
        self.fit_iterations = fit_iterations
        self.rows: List[np.ndarray] = []
        self.values: List[float] = []  # -inf for failures
        self.budgets: List[float] = []
        self.trial_ids: List[int] = []
        # The same as arrays (grown by doubling), and each observation's kernel inputs, computed
        # once: a proposal reads them at every step.
        self._z = np.zeros((16, self.inputs.width))
        self._v = np.zeros(16)
        self._b = np.zeros(16)
        self._ids = np.zeros(16, dtype=int)
        self._finite = False
        self._last_fit = 0
        self._fits = 0
        self._ready_for: Optional[tuple] = None
        self._fitted: dict = {}

    @property
    def count(self) -> int:
        """Observations (values and failures) learned."""
        return len(self.values)

    def observe(self, trial_id: int, row: np.ndarray, value: float, budget: float = 1.0) -> None:
        """Learn a score (higher is better); -inf for a failure."""
        self.rows.append(np.asarray(row, dtype=float))
        self.values.append(float(value))
        self.budgets.append(float(budget))
        self.trial_ids.append(int(trial_id))
        n = self.count
        if n > len(self._v):
            self._z, self._v, self._b, self._ids = (np.concatenate([a, np.zeros_like(a)])
                                                    for a in (self._z, self._v, self._b, self._ids))
        self._z[n - 1] = self.inputs(self.rows[-1][None, :], np.array([float(budget)]))[0]
        self._v[n - 1], self._b[n - 1], self._ids[n - 1] = value, budget, trial_id
        self._finite = self._finite or math.isfinite(value)
        # Refits at fixed counts (every one early, then about every tenth), warm-started: the
        # same observations in the same order always give the same model.
        if n >= 3 and n - self._last_fit >= max(1, n // 10) and self._finite:
            z, y, _ = self._data()
            self.gp.fit(z, y, self.fit_iterations if self._fits == 0 else max(10, self.fit_iterations // 3))
            self._last_fit = n
            self._fits += 1
        self._ready_for = None

    def _subset(self) -> np.ndarray:
        n = self.count
        if n <= self.max_points:
            return np.arange(n)
        values = self._v[:n]
        half = self.max_points // 2
        recent = np.arange(n - half, n)
        older = np.arange(n - half)
        best = older[np.argsort(-values[older], kind="stable")[: self.max_points - half]]
        return np.sort(np.concatenate([best, recent]))

    def _data(self, extra: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = self._subset()
        values = self._v[idx]
        finite = np.isfinite(values)
        if finite.any() and not finite.all():
            values = np.where(finite, values, values[finite].min())  # failures: the worst value seen
        y = warp(values) + copula(values)
        y = (y - y.mean()) / (y.std() or 1.0)
        return self._z[idx], y, idx

    def ready(self, pending: Optional[List[np.ndarray]] = None) -> bool:
        """Condition the GP on the data (pending rows believed at the mean prediction); False
        when there is nothing to learn from yet."""
        if self.count < 2 or not self._finite:
            return False
        key = (self.count, self._fits, b"".join(np.asarray(r, dtype=float).tobytes() for r in pending or ()))
        if self._ready_for == key:
            return True
        z, y, idx = self._data()
        self.gp.condition(z, y)
        if pending:
            zp = self.inputs(np.array(pending))
            mean, _ = self.gp.predict(zp)  # kriging believer: pending programs shrink the variance there
            y = np.concatenate([y, mean])
            self.gp.condition(np.vstack([z, zp]), y)
        # The posterior mean at the conditioning points: K_f alpha = y - noise * alpha.
        means = (y - math.exp(self.gp.log_sn2) * self.gp.alpha)[: len(idx)]
        keep = (self._b[idx] >= 1.0) & np.isfinite(self._v[idx])
        self._fitted = dict(zip(self._ids[idx][keep].tolist(), means[keep].tolist()))
        self._ready_for = key
        return True

    @property
    def conditioned(self) -> bool:
        """Whether ready() has conditioned the GP on the current observations."""
        return self._ready_for is not None

    def fitted_means(self) -> dict:
        """Trial id -> posterior mean (copula units) of the final results the GP conditions on
        (after ready()); the estimate of each program's value with the noise taken out."""
        return dict(self._fitted)

    def predict(self, rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation (copula units) at the full budget; call ready() first."""
        return self.gp.predict(self.inputs(rows))

    def incumbent(self) -> float:
        """The best posterior mean among the programs evaluated to the full budget (after ready())."""
        if self._fitted:
            return max(self._fitted.values())
        finite = [i for i, v in enumerate(self.values) if math.isfinite(v)]
        return float(self.predict(np.array([self.rows[i] for i in finite]))[0].max())

    @property
    def noise_fraction(self) -> float:
        """The estimated share of the (copula-transformed) results' variance that is noise."""
        return self.gp.noise_fraction if self.gp.fitted else 0.0
