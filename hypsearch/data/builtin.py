"""Loaders of the built-in data sets: scikit-learn's bundled sets (offline) and a synthetic one.

Digits pixels (0-16) are scaled to [0, 1], which keeps images and permutations intact; the
tabular sets (wine, breast_cancer, iris, regression) are standardised with training statistics.
Each loader is registered under its component's name (see `registry`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from hypsearch.dsl.errors import HypError

from .dataset import Dataset
from .registry import data_loader
from .split import split_indices, standardize

MAX_SPLIT_TASKS = 5  # 10 digits, 2 per task
# The pixels' scaling as (mean, std), kept with an exported model so it takes raw 0-16 pixels.
DIGIT_SCALE = (np.zeros(1, dtype=np.float32), np.full(1, 16.0, dtype=np.float32))


def _digit_arrays():
    """Digits' (1797, 64) pixels in [0, 1] and labels, as `sklearn.datasets.load_digits` gives them."""
    raw = _bundled_digits()
    if raw is None:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        data, target = bunch.data, bunch.target
    else:
        data, target = raw[:, :-1], raw[:, -1]
    return (data / 16.0).astype(np.float32), target.astype(np.int64)


def _bundled_digits():
    """The table load_digits reads (scikit-learn's bundled datasets/data/digits.csv.gz), read
    without importing scikit-learn: importing it takes 1.6 s, which every fresh trial worker paid
    before its first digits trial (a third of a 128-trial packed run's wall time here). None when
    the file is not where it was (load_digits is used then); tests check both give the same."""
    import gzip
    import importlib.util
    import os

    spec = importlib.util.find_spec("sklearn")  # locates the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data", "digits.csv.gz")
    try:
        with gzip.open(path, "rt") as f:
            raw = np.loadtxt(f, delimiter=",")
    except (OSError, ValueError):
        return None
    return raw if raw.ndim == 2 and raw.shape[1] == 65 else None


@data_loader("digits")
def load_digits_set(comp) -> Dataset:
    """digits(image, sequence): 64 flat pixels, 1x8x8 images or 8 rows of 8 pixels."""
    if comp.image and comp.sequence:
        raise HypError("digits: choose one of image = true (1x8x8) and sequence = true (8 tokens of 8), not both")
    x, y = _digit_arrays()
    tr, va = split_indices(len(y), comp.val_fraction, comp.seed, labels=y)
    info = comp.info()
    shape = (-1,) + tuple(info.input_shape)
    return Dataset("digits", x[tr].reshape(shape), y[tr], x[va].reshape(shape), y[va], info,
                   normalization=DIGIT_SCALE)


@data_loader("split_digits")
def load_split_digits(comp) -> Dataset:
    """split_digits(tasks): task t holds digits 2t and 2t+1; labels stay 0-9."""
    if not 1 <= comp.tasks <= MAX_SPLIT_TASKS:
        raise HypError(f"split_digits: tasks must be 1-{MAX_SPLIT_TASKS} (2 digits per task), got {comp.tasks}")
    x, y = _digit_arrays()
    keep = y < 2 * comp.tasks
    x, y = x[keep], y[keep]
    tr, va = split_indices(len(y), comp.val_fraction, comp.seed, labels=y)
    return Dataset("split_digits", x[tr], y[tr], x[va], y[va], comp.info(),
                   task_train=y[tr] // 2, task_val=y[va] // 2, normalization=DIGIT_SCALE)


@data_loader("permuted_digits")
def load_permuted_digits(comp) -> Dataset:
    """permuted_digits(tasks): every digit once per task, pixels shuffled by the task's permutation.

    The underlying images are split once, so no validation image is trained on under any task.
    """
    if comp.tasks < 1:
        raise HypError(f"permuted_digits: tasks must be at least 1, got {comp.tasks}")
    x, y = _digit_arrays()
    tr, va = split_indices(len(y), comp.val_fraction, comp.seed, labels=y)
    rng = np.random.default_rng([comp.seed, 1])  # a stream of its own, apart from the split's
    perms = [rng.permutation(x.shape[1]) for _ in range(comp.tasks)]

    def stack(idx):
        xs = np.concatenate([x[idx][:, p] for p in perms])
        ys = np.tile(y[idx], comp.tasks)
        ts = np.repeat(np.arange(comp.tasks, dtype=np.int64), len(idx))
        return xs, ys, ts

    (xt, yt, tt), (xv, yv, tv) = stack(tr), stack(va)
    return Dataset("permuted_digits", xt, yt, xv, yv, comp.info(), task_train=tt, task_val=tv,
                   normalization=DIGIT_SCALE)


def _tabular(name: str) -> Callable:
    def load(comp) -> Dataset:
        bunch = _sklearn(name)()
        x, y = bunch.data.astype(np.float64), bunch.target.astype(np.int64)
        tr, va = split_indices(len(y), comp.val_fraction, comp.seed, labels=y)
        xt, xv, stats = standardize(x[tr], x[va])
        return Dataset(name, xt, y[tr], xv, y[va], comp.info(), normalization=stats)

    load.__doc__ = f"{name}(): scikit-learn's bundled set, standardised with training statistics."
    return load


@data_loader("regression")
def load_regression(comp) -> Dataset:
    """regression(samples, features, outputs, noise): y = a fixed random tanh network of x + noise."""
    if comp.samples < 4 or comp.features < 1 or comp.outputs < 1:
        raise HypError(f"regression: needs samples >= 4, features >= 1 and outputs >= 1, got "
                       f"samples = {comp.samples}, features = {comp.features}, outputs = {comp.outputs}")
    if comp.noise < 0:
        raise HypError(f"regression: noise must be >= 0, got {comp.noise}")
    rng = np.random.default_rng(comp.seed)
    x = rng.standard_normal((comp.samples, comp.features))
    hidden = 32
    w1 = rng.standard_normal((comp.features, hidden)) / np.sqrt(comp.features)
    b1 = rng.standard_normal(hidden) * 0.5
    w2 = rng.standard_normal((hidden, comp.outputs)) / np.sqrt(hidden)
    clean = np.tanh(x @ w1 + b1) @ w2
    clean = (clean - clean.mean(axis=0)) / clean.std(axis=0)  # unit-variance signal, so noise is a ratio
    y = (clean + comp.noise * rng.standard_normal(clean.shape)).astype(np.float32)
    tr, va = split_indices(comp.samples, comp.val_fraction, comp.seed)
    xt, xv, stats = standardize(x[tr], x[va])
    return Dataset("regression", xt, y[tr], xv, y[va], comp.info(), normalization=stats)


def _sklearn(name: str) -> Callable:
    import sklearn.datasets as ds

    return getattr(ds, f"load_{name}")


for _name in ("wine", "breast_cancer", "iris"):
    data_loader(_name)(_tabular(_name))
