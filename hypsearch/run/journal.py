"""The trial journal: `trials.jsonl`, one JSON line per finished trial, append-only.

Each line is flushed and fsynced before the search moves on, so a killed run loses at most the
trials that were still running. A line cut short by a kill is dropped on reading and trimmed off
before the next append, so the file stays one valid record per line.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

STATUSES = ("ok", "failed", "stopped", "invalid")


@dataclass
class TrialRecord:
    """One finished trial as the journal stores it."""

    id: int
    status: str  # ok | failed | stopped | invalid
    value: Optional[float]  # the objective as the user states it (not negated for minimize)
    metrics: List[Dict[str, Any]]  # one dict per epoch (one dict in all for a Python objective)
    program: str  # the concrete program as .hyp text
    choices: Dict[str, Any]  # decision name -> user value
    started: float  # unix time
    finished: float
    error: Optional[str] = None
    assignment: Dict[str, Any] = field(default_factory=dict)  # encoded values the algorithm proposed
    budget: float = 1.0  # epochs done / epochs asked (below 1 when a scheduler stopped it)
    attempts: int = 1  # 1 + retries after a worker died

    def to_json(self) -> Dict[str, Any]:
        """A JSON-able dict (NaN and infinities become null)."""
        return _clean(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "TrialRecord":
        """A record from a journal line (unknown keys ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (str, int, bool)) or x is None or isinstance(x, float):
        return x
    if hasattr(x, "item"):  # numpy / torch scalars
        return _clean(x.item())
    return str(x)


def read(path: str) -> List[TrialRecord]:
    """Every complete record of the journal at `path` ([] when it does not exist)."""
    if not os.path.exists(path):
        return []
    records = []
    with open(path, "r", encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # cut short by a kill: not a finished record
            line = line.strip()
            if line:
                records.append(TrialRecord.from_json(json.loads(line)))
    return records


class Journal:
    """Appends records to `trials.jsonl`, durably, one line each."""

    def __init__(self, path: str):
        self.path = path
        _trim_partial_line(path)
        self._file = open(path, "a", encoding="utf-8")

    def append(self, record: TrialRecord) -> None:
        """Write one record and make it durable before returning."""
        self._file.write(json.dumps(record.to_json(), sort_keys=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def _trim_partial_line(path: str) -> None:
    """Cut a last line without its newline (a write interrupted by a kill)."""
    if not os.path.exists(path):
        return
    with open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)
