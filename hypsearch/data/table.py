"""The `csv(path, target = "column")` loader: a table with a header row -> features and a target.

A column whose every present value parses as a number is numeric: its missing values (empty,
NA, NaN, ?) are imputed with the training median, then it is standardised with training
statistics. Any other column is categorical and one-hot encoded over the categories seen in
training (a missing value is a category of its own; a value seen only in validation encodes as
all zeros). The target is classification when `classification` says so or, left to decide, when
it holds text or at most `MAX_AUTO_CLASSES` distinct integers; text labels become class indices
in sorted order (`Dataset.classes` names them). `Dataset.normalization` holds the statistics of
the encoded features, so an exported model takes encoded, unstandardised rows.
"""

from __future__ import annotations

import csv as csvlib
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from hypsearch.dsl.errors import HypError, suggest
from hypsearch.dsl.pyref import absolute
from hypsearch.dsl.vocabulary.data import DataInfo

from .dataset import Dataset
from .registry import data_loader
from .split import split_indices

MISSING = {"", "na", "nan", "n/a", "null", "none", "?"}
MAX_AUTO_CLASSES = 20


def _path(comp, base_dir: Optional[str]) -> str:
    return absolute(comp.path, base_dir)


def _files(comp, base_dir: Optional[str]) -> Tuple[str, ...]:
    return (_path(comp, base_dir),)


@data_loader("csv", reads_files=True, files=_files)
def load_csv(comp, base_dir: Optional[str] = None) -> Dataset:
    """csv(path, target, classification, drop): numeric columns standardised, the others one-hot."""
    path = _path(comp, base_dir)
    where = f"csv({comp.path!r})"
    header, rows = _read(path, comp.delimiter, where)
    if comp.target not in header:
        raise HypError(f"{where}: no target column `{comp.target}`; columns: {', '.join(header)}"
                       f"{suggest(comp.target, header)}")
    unknown = [c for c in comp.drop if c not in header]
    if unknown:
        raise HypError(f"{where}: drop names unknown column(s) {', '.join(unknown)}; columns: {', '.join(header)}")
    columns = {name: [r[i] for r in rows] for i, name in enumerate(header)}
    y, classification, classes = _target(columns[comp.target], comp.classification, where, comp.target)
    tr, va = split_indices(len(y), comp.val_fraction, comp.seed, labels=y if classification else None)
    features = [c for c in header if c != comp.target and c not in comp.drop]
    if not features:
        raise HypError(f"{where}: no feature columns left besides the target `{comp.target}`")
    blocks_tr, blocks_va = [], []
    for name in features:
        a, b = _encode(columns[name], tr, va)
        blocks_tr.append(a)
        blocks_va.append(b)
    x_tr, x_va = np.concatenate(blocks_tr, axis=1), np.concatenate(blocks_va, axis=1)
    mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    x_tr, x_va = ((x_tr - mean) / std).astype(np.float32), ((x_va - mean) / std).astype(np.float32)
    stats = (mean.astype(np.float32), std.astype(np.float32))
    if classification:
        info = DataInfo((x_tr.shape[1],), int(y.max()) + 1)
        y_tr, y_va = y[tr], y[va]
    else:
        info = DataInfo((x_tr.shape[1],), None, outputs=1)
        y_tr, y_va = y[tr].reshape(-1, 1), y[va].reshape(-1, 1)
    return Dataset(f"csv({os.path.basename(path)})", x_tr, y_tr, x_va, y_va, info,
                   normalization=stats, classes=classes)


def _read(path: str, delimiter: str, where: str) -> Tuple[List[str], List[List[str]]]:
    if not os.path.isfile(path):
        raise HypError(f"{where}: no such file {path} (a relative path is relative to the .hyp file's folder)")
    if len(delimiter) != 1:
        raise HypError(f"{where}: delimiter must be one character, got {delimiter!r}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            table = [row for row in csvlib.reader(f, delimiter=delimiter) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csvlib.Error) as e:
        raise HypError(f"{where}: cannot read {path} as CSV: {e}") from None
    if len(table) < 3:
        raise HypError(f"{where}: {path} needs a header row and at least 2 data rows, got {len(table)} row(s)")
    header = [h.strip() for h in table[0]]
    if len(set(header)) != len(header):
        twice = sorted({h for h in header if header.count(h) > 1})
        raise HypError(f"{where}: the header names column(s) {', '.join(twice)} more than once")
    rows = table[1:]
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise HypError(f"{where}: row {line} has {len(row)} fields, the header {len(header)}")
    return header, [[cell.strip() for cell in row] for row in rows]


def _numbers(values: Sequence[str]) -> Optional[np.ndarray]:
    """The column as floats (NaN where missing), or None when some present value is not a number."""
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        if v.lower() in MISSING:
            out[i] = np.nan
            continue
        try:
            out[i] = float(v)
        except ValueError:
            return None
    return out


def _target(values: Sequence[str], classification: Optional[bool], where: str, name: str
            ) -> Tuple[np.ndarray, bool, Optional[Tuple[str, ...]]]:
    missing = [i + 2 for i, v in enumerate(values) if v.lower() in MISSING]
    if missing:
        raise HypError(f"{where}: the target `{name}` is missing in row(s) {', '.join(map(str, missing[:5]))}")
    numbers = _numbers(values)
    if numbers is not None and not np.isfinite(numbers).all():
        raise HypError(f"{where}: the target `{name}` holds infinite values")
    integral = numbers is not None and bool((numbers == np.round(numbers)).all())
    if classification is None:
        classification = numbers is None or (integral and len(np.unique(numbers)) <= MAX_AUTO_CLASSES)
    if not classification:
        if numbers is None:
            raise HypError(f"{where}: the target `{name}` holds text, so it cannot be a regression target")
        return numbers.astype(np.float32), False, None
    if integral and numbers.min() >= 0:
        return numbers.astype(np.int64), True, None  # integer labels keep their values
    classes = tuple(sorted(set(values)))
    index = {c: i for i, c in enumerate(classes)}
    return np.asarray([index[v] for v in values], dtype=np.int64), True, classes


def _encode(values: Sequence[str], tr: np.ndarray, va: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """One column as (train, val) feature blocks: numeric imputed, categorical one-hot."""
    numbers = _numbers(values)
    if numbers is not None:
        train = numbers[tr]
        present = train[np.isfinite(train)]
        fill = float(np.median(present)) if len(present) else 0.0
        filled = np.where(np.isfinite(numbers), numbers, fill)
        return filled[tr].reshape(-1, 1), filled[va].reshape(-1, 1)
    cells = np.asarray(["" if v.lower() in MISSING else v for v in values], dtype=object)
    categories: Dict[str, int] = {c: i for i, c in enumerate(sorted(set(cells[tr])))}
    onehot = np.zeros((len(values), len(categories)), dtype=np.float64)
    for i, c in enumerate(cells):
        j = categories.get(c)
        if j is not None:
            onehot[i, j] = 1.0
    return onehot[tr], onehot[va]
