"""Pareto geometry shared by the multi-objective algorithms, the runner's reports and the
benchmark: non-dominated sorting, crowding distance, hypervolume and scalarisations.

Every function here takes points as an (n, m) array where higher is better in every column (the
caller turns minimised objectives around first), so one convention holds throughout.
"""

from __future__ import annotations

from typing import List, Optional

import numpy as np


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether `a` is at least as good as `b` everywhere and better somewhere (maximising)."""
    return bool(np.all(a >= b) and np.any(a > b))


def front_mask(points: np.ndarray) -> np.ndarray:
    """A boolean mask of the non-dominated points (duplicates of a front point are all kept)."""
    points = np.asarray(points, dtype=float).reshape(len(points), -1)
    n = len(points)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        if not keep[i]:
            continue
        beaten = np.all(points >= points[i], axis=1) & np.any(points > points[i], axis=1)
        if beaten.any():
            keep[i] = False
    return keep


def nondominated_ranks(points: np.ndarray) -> np.ndarray:
    """Each point's front number (0: non-dominated, 1: non-dominated once front 0 is removed, ...)."""
    points = np.asarray(points, dtype=float).reshape(len(points), -1)
    n = len(points)
    ranks = np.full(n, -1, dtype=int)
    left = np.arange(n)
    rank = 0
    while len(left):
        mask = front_mask(points[left])
        ranks[left[mask]] = rank
        left = left[~mask]
        rank += 1
    return ranks


def fronts(points: np.ndarray) -> List[np.ndarray]:
    """The indices of each successive non-dominated front (NSGA-II's fast sort, by repeated peeling)."""
    ranks = nondominated_ranks(points)
    return [np.flatnonzero(ranks == r) for r in range(int(ranks.max()) + 1)] if len(ranks) else []


def crowding(points: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each point within its set (boundary points: infinity)."""
    points = np.asarray(points, dtype=float).reshape(len(points), -1)
    n, m = points.shape
    out = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(m):
        order = np.argsort(points[:, j], kind="stable")
        span = points[order[-1], j] - points[order[0], j]
        out[order[0]] = out[order[-1]] = np.inf
        if span > 0:
            out[order[1:-1]] += (points[order[2:], j] - points[order[:-2], j]) / span
    return out


def hypervolume(points: np.ndarray, reference: np.ndarray, samples: int = 100_000,
                rng: Optional[np.random.Generator] = None) -> float:
    """The volume dominated by `points` and dominating `reference` (maximising): exact for one or
    two objectives, a Monte-Carlo estimate from `samples` uniform points in the bounding box above."""
    reference = np.asarray(reference, dtype=float)
    points = np.asarray(points, dtype=float).reshape(-1, len(reference))
    points = points[np.all(points > reference, axis=1)]
    if not len(points):
        return 0.0
    m = len(reference)
    if m == 1:
        return float(points[:, 0].max() - reference[0])
    if m == 2:
        front = points[front_mask(points)]
        front = front[np.argsort(-front[:, 0], kind="stable")]  # x falling, so y rises
        volume, y_done = 0.0, reference[1]
        for x, y in front:
            if y > y_done:
                volume += (x - reference[0]) * (y - y_done)
                y_done = y
        return float(volume)
    rng = rng if rng is not None else np.random.default_rng(0)
    top = points.max(axis=0)
    box = float(np.prod(top - reference))
    draws = reference + rng.random((samples, m)) * (top - reference)
    covered = np.zeros(samples, dtype=bool)
    for p in points:
        covered |= np.all(draws <= p, axis=1)
    return box * float(covered.mean())


def random_weights(count: int, rng: np.random.Generator) -> np.ndarray:
    """A weight vector drawn uniformly from the simplex (ParEGO draws one per proposal)."""
    w = rng.exponential(size=count)
    return w / w.sum()


def chebyshev(points: np.ndarray, weights: np.ndarray, low: np.ndarray, high: np.ndarray,
              rho: float = 0.05) -> np.ndarray:
    """ParEGO's augmented Chebyshev scalarisation of maximised points, normalised by the box
    [low, high] per objective: higher is better, and every Pareto-optimal point is the best for
    some weights."""
    span = np.where(high - low > 1e-12, high - low, 1.0)
    gap = (high - np.asarray(points, dtype=float)) / span  # 0 at the best value seen, per objective
    weighted = gap * weights
    return -(weighted.max(axis=-1) + rho * weighted.sum(axis=-1))


def hypervolume_improvement(candidates: np.ndarray, front: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The hypervolume each candidate point alone adds to `front` (maximising), exact and
    vectorised for one or two objectives: `candidates` is (..., m) with m of 1 or 2, the result
    has the leading shape. Used for expected hypervolume improvement over posterior draws."""
    reference = np.asarray(reference, dtype=float)
    candidates = np.asarray(candidates, dtype=float)
    m = len(reference)
    if m not in (1, 2) or candidates.shape[-1] != m:
        raise ValueError(f"hypervolume_improvement takes one or two objectives, got {m}")
    front = np.asarray(front, dtype=float).reshape(-1, m)
    front = front[np.all(front > reference, axis=1)]
    if m == 1:
        top = float(front[:, 0].max()) if len(front) else float(reference[0])
        return np.maximum(candidates[..., 0] - top, 0.0)
    if len(front):
        front = np.unique(front[front_mask(front)], axis=0)  # x rising, so y falling
    # The dominated region is a staircase: over (x[j-1], x[j]] it reaches up to level[j].
    xs = np.concatenate([[reference[0]], front[:, 0], [np.inf]])
    level = np.concatenate([front[:, 1], [reference[1]]])
    x, y = candidates[..., 0:1], candidates[..., 1:2]
    width = np.clip(np.minimum(x, xs[1:]) - xs[:-1], 0.0, None)
    height = np.clip(y - level, 0.0, None)
    return (width * height).sum(axis=-1)
