"""The searcher's saved state: the algorithm's JSON state plus the trials it has proposed that
have not finished yet.

It is saved after every proposal, so every trial the journal holds was proposed by a saved
algorithm and a resumed run can tell it its result. Saving must survive a SIGKILL at any
instant and stay cheap (renames cost milliseconds on some disks). So `searcher.json` is replaced
atomically (temporary file, then rename) at most every couple of seconds and at the end. In
between, snapshots go in place into two alternating slots, `searcher.a.json` and
`searcher.b.json`. A kill can tear at most the slot being written, and loading takes the newest
snapshot that parses, by sequence number. On resume the journal is the source of truth: results
it holds that the state has not seen yet are told again.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

CANONICAL_EVERY_S = 2.0


@dataclass
class SearchState:
    """What `--resume` needs besides the journal."""

    algo: str
    algorithm: Dict[str, Any]  # the algorithm's state_dict()
    pending: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # trial id -> assignment
    told: List[int] = field(default_factory=list)  # trial ids whose result the algorithm has seen
    seq: int = 0  # snapshot number: the newest wins on load

    def to_json(self) -> Dict[str, Any]:
        return {"algo": self.algo, "seq": self.seq, "algorithm": self.algorithm, "pending": self.pending,
                "told": self.told}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "SearchState":
        return cls(algo=data["algo"], algorithm=data["algorithm"], pending=dict(data.get("pending", {})),
                   told=list(data.get("told", [])), seq=int(data.get("seq", 0)))


def write_json_atomic(path: str, data: Any) -> None:
    """Replace `path` with `data` as JSON in one rename."""
    write_text_atomic(path, json.dumps(data))


def write_text_atomic(path: str, text: str) -> None:
    """Replace `path` with `text` in one rename: a reader sees the old file or the new, never half."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _slots(path: str) -> List[str]:
    stem = path[:-len(".json")] if path.endswith(".json") else path
    return [f"{stem}.a.json", f"{stem}.b.json"]


class StateStore:
    """Saves snapshots of the search state at `path` (see the module docstring)."""

    def __init__(self, path: str, seq: int = 0):
        self.path = path
        self.seq = seq
        self._last_canonical = float("-inf")

    def save(self, state: SearchState, final: bool = False) -> None:
        """Save a snapshot; `final` writes searcher.json and drops the slots."""
        self.seq += 1
        state.seq = self.seq
        text = json.dumps(state.to_json())  # dumps (C encoder) is several times faster than dump
        now = time.monotonic()
        if final or now - self._last_canonical >= CANONICAL_EVERY_S:
            write_text_atomic(self.path, text)
            self._last_canonical = now
            if final:
                for slot in _slots(self.path):
                    if os.path.exists(slot):
                        os.remove(slot)
        else:
            with open(_slots(self.path)[self.seq % 2], "w", encoding="utf-8") as f:
                f.write(text)


def load(path: str) -> Optional[SearchState]:
    """The newest complete snapshot saved at `path` (or its slots), or None when there is none."""
    best: Optional[SearchState] = None
    for candidate in [path] + _slots(path):
        try:
            with open(candidate, "r", encoding="utf-8") as f:
                state = SearchState.from_json(json.load(f))
        except (OSError, ValueError, KeyError):
            continue  # missing, or torn by a kill in the middle of a write
        if best is None or state.seq > best.seq:
            best = state
    return best
