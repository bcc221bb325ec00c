"""The number a Python objective returned: one rule for `hypsearch.optimize` and for trials."""

from __future__ import annotations

import math
import numbers
from typing import Any, Dict, Tuple


def is_number(v: Any) -> bool:
    """A real number that is not a bool (0-d numpy arrays and torch tensors count)."""
    if isinstance(v, bool):
        return False
    return isinstance(v, numbers.Real) or (hasattr(v, "item") and getattr(v, "ndim", 1) == 0)


def objective_value(out: Any, fn: Any = None) -> Tuple[float, Dict[str, Any]]:
    """(value, metrics) of what `fn` returned: a number, or a dict read from its `value` entry (or
    the entry named like `fn`, or its only number). ValueError says what is wrong."""
    metrics: Dict[str, Any] = {}
    if isinstance(out, dict):
        metrics = dict(out)
        found = [k for k, v in metrics.items() if is_number(v)]
        name = getattr(fn, "__name__", "")
        key = next((k for k in ("value", name) if k in metrics), found[0] if len(found) == 1 else None)
        if key is None:
            raise ValueError(f"returned a dict without a `value` entry (keys: {', '.join(map(str, metrics)) or 'none'})")
        out = metrics[key]
    if not is_number(out):
        raise ValueError(f"must return a number or a dict with a `value` entry, got {out!r}")
    value = float(out.item() if hasattr(out, "item") else out)
    if not math.isfinite(value):
        raise ValueError(f"returned {value}")
    return value, metrics or {"value": value}
