"""The fixed, seeded train / validation split and feature standardisation.

The split is a pure function of the sample count, the labels (stratified for classification:
each class keeps its share in both parts), the validation fraction and the seed, so every trial
and every worker sees the same split.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from hypsearch.dsl.errors import HypError


def split_indices(n: int, val_fraction: float, seed: int,
                  labels: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Sorted (train, val) sample indices; stratified by `labels` when given."""
    if not 0.0 < val_fraction < 1.0:
        raise HypError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction}")
    if n < 2:
        raise HypError(f"a data set needs at least 2 samples to split into train and validation, got {n}")
    rng = np.random.default_rng(seed)
    if labels is None or not _stratifiable(labels):
        perm = rng.permutation(n)
        n_val = min(max(int(round(val_fraction * n)), 1), n - 1)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])
    val = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        k = min(max(int(round(val_fraction * len(members))), 1), len(members) - 1)
        val.append(members[:k])
    val_idx = np.sort(np.concatenate(val))
    train_mask = np.ones(n, dtype=bool)
    train_mask[val_idx] = False
    return np.flatnonzero(train_mask), val_idx


def _stratifiable(labels: np.ndarray) -> bool:
    """Every class has at least two samples (one for each side)."""
    _, counts = np.unique(labels, return_counts=True)
    return bool(counts.min() >= 2)


def standardize(x_train: np.ndarray, x_val: np.ndarray) -> Tuple[np.ndarray, np.ndarray, Tuple[np.ndarray, np.ndarray]]:
    """Zero mean, unit variance per feature, with statistics of the training part only; also the
    (mean, std) used, which an exported model keeps so it predicts on raw inputs."""
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # constant features stay constant instead of dividing by 0
    stats = (mean.astype(np.float32), std.astype(np.float32))
    return ((x_train - mean) / std).astype(np.float32), ((x_val - mean) / std).astype(np.float32), stats
