"""Loaders of the user's own data: `npz(path)` files and `python("f.py:load")` functions.

Both end in `from_arrays`, which checks the arrays (names, shapes, lengths, label types) with
errors that name the array and its shape, and splits off a validation part when none is given.
User data is used as given: no standardisation. Both loaders read files relative to the `.hyp`
file and are registered with the files they read (see `registry`).
"""

from __future__ import annotations

import os
import zipfile
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from hypsearch.dsl.errors import HypError
from hypsearch.dsl.pyref import absolute, is_file_ref, resolve, split_ref
from hypsearch.dsl.vocabulary.data import DataInfo

from .dataset import Dataset
from .registry import data_loader
from .split import split_indices

ARRAYS = ("x", "y", "x_val", "y_val", "task", "task_val")


def npz_path(comp, base_dir: Optional[str]) -> str:
    """The absolute path of an npz component's file (relative paths: to the .hyp file's folder)."""
    return absolute(comp.path, base_dir)


def _npz_files(comp, base_dir: Optional[str]) -> Tuple[str, ...]:
    return (npz_path(comp, base_dir),)


@data_loader("npz", reads_files=True, files=_npz_files)
def load_npz(comp, base_dir: Optional[str] = None) -> Dataset:
    """npz(path): arrays x, y and optionally x_val, y_val (and task, task_val) from a .npz file."""
    path = npz_path(comp, base_dir)
    where = f"npz({comp.path!r})"
    if not os.path.isfile(path):
        raise HypError(f"{where}: no such file {path} (a relative path is relative to the .hyp file's folder)")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise HypError(f"{where}: cannot read {path} as a .npz file of arrays: {e}") from None
    return from_arrays(arrays, where, comp.classification, comp.val_fraction, comp.seed)


def _python_files(comp, base_dir: Optional[str]) -> Tuple[str, ...]:
    try:
        target, _ = split_ref(comp.ref)
    except ValueError:
        return ()  # the loader reports the malformed reference
    return (absolute(target, base_dir),) if is_file_ref(target) else ()  # a module: no file to watch


@data_loader("python", reads_files=True, files=_python_files)
def load_python(comp, base_dir: Optional[str] = None) -> Dataset:
    """python("f.py:load"): a function returning {x, y[, x_val, y_val]} or a tuple (x, y).

    Integer (or boolean) labels make a classification set, floats a regression set; a dict may
    say so itself with `classification = True/False`. Without x_val, a quarter of the samples
    (seed 0, stratified for classes) is held out for validation.
    """
    where = f"python({comp.ref!r})"
    fn = resolve(comp.ref, base_dir)
    try:
        out = fn()
    except HypError:
        raise
    except Exception as e:  # the user's code: report it as a mistake in their loader
        raise HypError(f"{where} raised {type(e).__name__}: {e}") from e
    if isinstance(out, tuple) and len(out) == 2:
        out = {"x": out[0], "y": out[1]}
    if not isinstance(out, Mapping):
        raise HypError(f"{where} must return a dict with x, y (and optionally x_val, y_val) or a tuple (x, y), "
                       f"got {type(out).__name__}")
    out = dict(out)
    classification = out.pop("classification", None)
    unknown = sorted(set(out) - set(ARRAYS))
    if unknown:
        raise HypError(f"{where} returned unknown keys {unknown}; allowed: {', '.join(ARRAYS)}, classification")
    try:
        arrays = {k: np.asarray(v) for k, v in out.items() if v is not None}
    except Exception as e:
        raise HypError(f"{where}: cannot turn the returned values into arrays: {e}") from None
    if classification is None and "y" in arrays:
        classification = arrays["y"].dtype.kind in "iub"
    return from_arrays(arrays, where, bool(classification), 0.25, 0)


def from_arrays(arrays: Dict[str, Any], where: str, classification: bool,
                val_fraction: float, seed: int) -> Dataset:
    """A checked `Dataset` from named arrays; splits off validation data when x_val is absent."""
    found = ", ".join(sorted(arrays)) or "none"
    for name in ("x", "y"):
        if name not in arrays:
            raise HypError(f"{where}: missing array `{name}` (found: {found}); "
                           "expected x, y and optionally x_val, y_val")
    for a, b in (("x_val", "y_val"), ("y_val", "x_val"), ("task_val", "task")):
        if a in arrays and b not in arrays:
            raise HypError(f"{where}: `{a}` is given without `{b}` (found: {found})")
    if "task" in arrays and "x_val" in arrays and "task_val" not in arrays:
        raise HypError(f"{where}: `task` is given with x_val but without `task_val` (found: {found})")

    x, y = _inputs(arrays["x"], where, "x"), _targets(arrays["y"], where, "y", classification)
    task = _tasks(arrays["task"], where, "task") if "task" in arrays else None
    _same_length(where, x=x, y=y, task=task)
    if "x_val" in arrays:
        xv = _inputs(arrays["x_val"], where, "x_val")
        yv = _targets(arrays["y_val"], where, "y_val", classification)
        tv = _tasks(arrays["task_val"], where, "task_val") if task is not None else None
        _same_length(where, x_val=xv, y_val=yv, task_val=tv)
        xt, yt, tt = x, y, task
    else:
        tr, va = split_indices(len(x), val_fraction, seed, labels=y if classification else None)
        xt, yt, xv, yv = x[tr], y[tr], x[va], y[va]
        tt, tv = (task[tr], task[va]) if task is not None else (None, None)
    if xt.shape[1:] != xv.shape[1:]:
        raise HypError(f"{where}: x has samples of shape {xt.shape[1:]} but x_val of shape {xv.shape[1:]}")
    if not classification and yt.shape[1:] != yv.shape[1:]:
        raise HypError(f"{where}: y has targets of shape {yt.shape[1:]} but y_val of shape {yv.shape[1:]}")

    tasks = int(max(tt.max(), tv.max())) + 1 if tt is not None else 1
    if classification:
        info = DataInfo(tuple(xt.shape[1:]), int(max(yt.max(), yv.max())) + 1, tasks=tasks)
    else:
        info = DataInfo(tuple(xt.shape[1:]), None, tasks=tasks, outputs=int(yt.shape[1]))
    return Dataset(where, xt, yt, xv, yv, info, task_train=tt, task_val=tv)


def _inputs(a: np.ndarray, where: str, name: str) -> np.ndarray:
    if a.dtype.kind not in "iufb":
        raise HypError(f"{where}: `{name}` must hold numbers, got dtype {a.dtype}")
    if a.ndim == 0:
        raise HypError(f"{where}: `{name}` must have one row per sample, got a scalar")
    a = a.reshape(len(a), 1) if a.ndim == 1 else a  # one feature per sample
    if not np.isfinite(a).all():
        raise HypError(f"{where}: `{name}` contains NaN or infinite values")
    return a.astype(np.float32)


def _targets(a: np.ndarray, where: str, name: str, classification: bool) -> np.ndarray:
    if a.dtype.kind not in "iufb":
        raise HypError(f"{where}: `{name}` must hold numbers, got dtype {a.dtype}")
    if a.ndim == 0:
        raise HypError(f"{where}: `{name}` must have one entry per sample, got a scalar")
    if not np.isfinite(a).all():
        raise HypError(f"{where}: `{name}` contains NaN or infinite values")
    if classification:
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        if a.ndim != 1:
            raise HypError(f"{where}: class labels `{name}` must have shape (n,), got {a.shape} "
                           "(one-hot labels: pass their argmax; regression: npz(..., classification = false))")
        if (a != np.round(a)).any() or (a < 0).any():
            raise HypError(f"{where}: class labels `{name}` must be integers >= 0 "
                           "(regression targets: npz(..., classification = false))")
        return a.astype(np.int64)
    a = a.reshape(len(a), 1) if a.ndim == 1 else a
    if a.ndim != 2:
        raise HypError(f"{where}: regression targets `{name}` must have shape (n,) or (n, outputs), got {a.shape}")
    return a.astype(np.float32)


def _tasks(a: np.ndarray, where: str, name: str) -> np.ndarray:
    if a.ndim != 1 or a.dtype.kind not in "iu" or (a < 0).any():
        raise HypError(f"{where}: task ids `{name}` must be integers >= 0 of shape (n,), got {a.dtype} {a.shape}")
    return a.astype(np.int64)


def _same_length(where: str, **arrays: Optional[np.ndarray]) -> None:
    given = {k: v for k, v in arrays.items() if v is not None}
    if len({len(v) for v in given.values()}) > 1:
        shapes = ", ".join(f"{k} {v.shape}" for k, v in given.items())
        raise HypError(f"{where}: arrays must have the same number of samples: {shapes}")
