"""What a Python objective of several objectives returned: one rule for `hypsearch.optimize`.

`directions=["maximize", "minimize"]` takes a function returning a tuple (or list) in that order;
`objectives={"acc": "maximize", "size": "minimize"}` one returning a dict with those keys (other
entries are kept as metrics). Directions are spelled "maximize"/"minimize" or "max"/"min".
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from hypsearch.dsl.errors import HypError

from .objective_value import is_number

_SPELLINGS = {"max": "max", "maximize": "max", "min": "min", "minimize": "min"}


def parse_directions(directions: Optional[Sequence[str]],
                     objectives: Optional[Mapping[str, str]]) -> Tuple[Optional[List[str]], Optional[List[str]]]:
    """(directions as "max"/"min", dict keys or None); (None, None) when neither is given."""
    if directions is not None and objectives is not None:
        raise HypError("give directions=[...] or objectives={...}, not both")
    if objectives is not None:
        if not isinstance(objectives, Mapping) or not objectives:
            raise HypError(f"objectives must be a dict of name -> \"maximize\" | \"minimize\", got {objectives!r}")
        keys, given = [str(k) for k in objectives], list(objectives.values())
    elif directions is not None:
        if isinstance(directions, str) or not isinstance(directions, Sequence) or not directions:
            raise HypError(f"directions must be a list such as [\"maximize\", \"minimize\"], got {directions!r}")
        keys, given = None, list(directions)
    else:
        return None, None
    out = []
    for d in given:
        if d not in _SPELLINGS:
            raise HypError(f"a direction is \"maximize\" or \"minimize\" (or \"max\" / \"min\"), got {d!r}")
        out.append(_SPELLINGS[d])
    return out, keys


def objective_vector(out: Any, count: int, keys: Optional[List[str]]) -> Tuple[List[float], Dict[str, Any]]:
    """(values, metrics) of what the function returned; ValueError says what is wrong."""
    metrics: Dict[str, Any] = {}
    if keys is not None:
        if not isinstance(out, Mapping):
            raise ValueError(f"must return a dict with the keys {', '.join(keys)}, got {out!r}")
        missing = [k for k in keys if k not in out]
        if missing:
            raise ValueError(f"returned a dict without {', '.join(missing)}")
        metrics = dict(out)
        raw = [out[k] for k in keys]
    else:
        if isinstance(out, Mapping) or isinstance(out, str) or not isinstance(out, Sequence):
            raise ValueError(f"must return a tuple of {count} numbers, got {out!r}")
        raw = list(out)
    if len(raw) != count:
        raise ValueError(f"returned {len(raw)} values for {count} objectives")
    values = []
    for v in raw:
        if not is_number(v):
            raise ValueError(f"returned {v!r} where a number belongs")
        v = float(v.item() if hasattr(v, "item") else v)
        if not math.isfinite(v):
            raise ValueError(f"returned {v}")
        values.append(v)
    if keys is None:
        metrics = {f"objective_{i}": v for i, v in enumerate(values)}
    return values, metrics
