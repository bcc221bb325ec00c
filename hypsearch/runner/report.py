"""Trials as console tables (`hypsearch run`'s closing table, `hypsearch show`)."""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Sequence

from hypsearch.dsl.errors import HypError
from hypsearch.search.trial import Trial


def last_metrics(record: Trial) -> Dict[str, Any]:
    """The metrics of a trial's last epoch (its final metrics)."""
    return dict(record.metrics[-1]) if record.metrics else {}


def metric_names(records: Sequence[Trial]) -> List[str]:
    """Numeric metric names found in the trials' last epochs, in first-seen order."""
    names: List[str] = []
    for r in records:
        for k, v in last_metrics(r).items():
            if k not in names and isinstance(v, (int, float)) and not isinstance(v, bool) and k != "epoch":
                names.append(k)
    return names


def sort_trials(records: Sequence[Trial], mode: str, key: Optional[str] = None) -> List[Trial]:
    """Best first by `key` (value, id, duration or a metric name); trials without it go last."""
    key = key or "value"
    if key == "id":
        return sorted(records, key=lambda r: r.id)
    if key == "duration":
        return sorted(records, key=lambda r: r.finished - r.started)
    available = ["value", "id", "duration"] + metric_names(records)
    if key not in available:
        raise HypError(f"cannot sort by `{key}`; available: {', '.join(available)}")
    # For the objective, best first follows the mode; for other metrics, losses ascend and
    # everything else descends.
    descending = (mode == "max") if key == "value" else ("loss" not in key)

    def get(r: Trial) -> Optional[float]:
        v = r.value if key == "value" else last_metrics(r).get(key)
        return float(v) if isinstance(v, (int, float)) and math.isfinite(float(v)) else None

    have = [r for r in records if get(r) is not None]
    missing = [r for r in records if get(r) is None]
    return sorted(have, key=lambda r: get(r), reverse=descending) + sorted(missing, key=lambda r: r.id)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def trials_table(records: Sequence[Trial], mode: str, top: Optional[int] = None,
                 sort: Optional[str] = None) -> str:
    """A fixed-width table: id, status, value, main metrics, duration, choices."""
    rows = sort_trials(records, mode, sort)
    if top is not None:
        rows = rows[:top]
    metrics = [m for m in metric_names(rows) if m not in ("value",)][:4]
    # The value column only when no metric column already shows it.
    same = [m for m in metrics if all(r.value == last_metrics(r).get(m) for r in rows)]
    header = ["id", "status"] + ([] if same else ["value"]) + metrics + ["secs", "choices"]
    table = [header]
    differ = differing_choices(rows)
    short = short_names(differ)
    for r in rows:
        last = last_metrics(r)
        choices = ", ".join(f"{short[k]}={_fmt(v)}" for k, v in (r.choices or {}).items() if k in short)
        if not choices and r.error:
            choices = r.error.splitlines()[0][:70]
        table.append([str(r.id), r.status] + ([] if same else [_fmt(r.value)]) + [_fmt(last.get(m)) for m in metrics]
                     + [f"{r.finished - r.started:.1f}", choices])
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    lines = []
    for row in table:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return "\n".join(line.rstrip() for line in lines)


def differing_choices(records: Sequence[Trial]) -> List[str]:
    """Decision names whose value (or presence) differs between the trials, in first-seen order."""
    names: List[str] = []
    for r in records:
        names.extend(k for k in (r.choices or {}) if k not in names)
    if len(records) < 2:
        return names
    missing = object()
    return [k for k in names if len({repr((r.choices or {}).get(k, missing)) for r in records}) > 1]


def short_names(names: Sequence[str]) -> Dict[str, str]:
    """Each dotted decision name cut to its shortest tail that no other name ends with."""
    out: Dict[str, str] = {}
    for name in names:
        parts = name.split(".")
        for k in range(1, len(parts) + 1):
            tail = ".".join(parts[-k:])
            if not any(o != name and (o == tail or o.endswith("." + tail)) for o in names):
                break
        out[name] = tail
    return out


def failure_summary(records: Sequence[Trial], most: int = 3,
                    rewrite: Callable[[str], str] = lambda text: text) -> List[str]:
    """The most frequent errors of failed and invalid trials, first line only, with counts;
    `rewrite` maps the experiment's copied paths back to the user's files."""
    counts: Dict[str, int] = {}
    for r in records:
        if r.status in ("failed", "invalid") and r.error:
            line = rewrite(r.error.strip().splitlines()[0])
            counts[line] = counts.get(line, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:most]
    return [f"{n}x {line}" for line, n in ranked]
