"""A checkpoint of the search algorithm, saved beside the journal.

The journal (`journal.py`) is the run's record: the algorithm can always be rebuilt from its
lines. The checkpoint adds what the lines cannot give, the position of the algorithm's random
generator, so that a resumed run makes exactly the proposals the uninterrupted one would have;
without it (deleted, unreadable, or older than the journal) the algorithm is rebuilt from the
journal alone and continues on a stream derived from its seed. It is saved after every proposal,
stays small (no trials in it) and must survive a SIGKILL at any instant while staying cheap
(renames cost milliseconds on some disks). So `searcher.json` is replaced atomically (temporary
file, then rename) at most every couple of seconds and at the end; in between, snapshots go in
place into two alternating slots, `searcher.a.json` and `searcher.b.json`. A kill can tear at
most the slot being written, and loading takes the newest snapshot that parses, by sequence number.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

CANONICAL_EVERY_S = 2.0


@dataclass
class Checkpoint:
    """The algorithm's state without its trials (those are the journal's)."""

    algo: str
    algorithm: Dict[str, Any]  # Algorithm.state_dict(trials=False)
    seq: int = 0  # snapshot number: the newest wins on load

    def to_json(self) -> Dict[str, Any]:
        """A JSON-able dict."""
        return {"algo": self.algo, "seq": self.seq, "algorithm": self.algorithm}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "Checkpoint":
        """A checkpoint from `to_json()` output (KeyError / ValueError when malformed)."""
        if not isinstance(data, dict) or not isinstance(data["algorithm"], dict):
            raise ValueError("not a checkpoint")
        return cls(algo=str(data["algo"]), algorithm=data["algorithm"], seq=int(data.get("seq", 0)))


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

    def save(self, state: Checkpoint, final: bool = False) -> None:
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


def load(path: str) -> Optional[Checkpoint]:
    """The newest complete snapshot saved at `path` (or its slots), or None when there is none."""
    best: Optional[Checkpoint] = None
    for candidate in [path] + _slots(path):
        try:
            with open(candidate, "r", encoding="utf-8") as f:
                state = Checkpoint.from_json(json.load(f))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # missing, or torn by a kill in the middle of a write
        if best is None or state.seq > best.seq:
            best = state
    return best
