"""The trial journal: `trials.jsonl`, the experiment's one record, append-only.

Every trial gets a line when it is proposed (status pending) and a line when it finishes; each
line is a whole `Trial` record. Reading folds the lines by trial id (the last one wins), and the
lines in order are the history the search algorithm is rebuilt from on resume, so nothing else
has to remember which trials exist. A finished trial's line is flushed and fsynced before the
search moves on; a pending line is only flushed, because the finished line after it in the same
file cannot become durable without it. A killed run therefore loses at most the trials that were
still running. A line cut short by a kill is dropped on reading and trimmed off before the next
append; a damaged line (garbage, wrong types) is skipped and reported with its line number, and
the file itself is left as it is.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Dict, List

from hypsearch.search.trial import Status, Trial

STATUSES = tuple(s.value for s in Status if s is not Status.PENDING)


@dataclass
class JournalContents:
    """What a journal holds: every line in order, and the trials folded by id."""

    events: List[Trial] = field(default_factory=list)  # each readable line, in order
    latest: Dict[int, Trial] = field(default_factory=dict)  # id -> its last line
    damaged: List[str] = field(default_factory=list)  # "line N: why" for each line skipped

    @property
    def finished(self) -> List[Trial]:
        """The finished trials in the order they finished."""
        seen, out = set(), []
        for t in reversed(self.events):
            if t.id not in seen:
                seen.add(t.id)
                if t.status.finished:
                    out.append(t)
        out.reverse()
        return out

    @property
    def pending(self) -> List[Trial]:
        """Trials proposed and never finished (running when the run stopped)."""
        return [t for t in self.latest.values() if not t.status.finished]


def read_all(path: str) -> JournalContents:
    """Every readable line of the journal at `path` (empty when it does not exist)."""
    out = JournalContents()
    if not os.path.exists(path):
        return out
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if not raw.endswith(b"\n"):
                break  # cut short by a kill: not a finished write
            if not raw.strip():
                continue
            try:
                trial = _checked(Trial.from_json(json.loads(raw.decode("utf-8"))))
            except (UnicodeDecodeError, ValueError, RecursionError) as e:
                out.damaged.append(f"line {number}: {str(e).splitlines()[0][:200]}")
                continue
            out.events.append(trial)
            out.latest[trial.id] = trial
    return out


_NUMBER = (int, float)
_FIELD_TYPES = (("started", _NUMBER), ("finished", _NUMBER), ("budget", _NUMBER), ("error", str))


def _checked(trial: Trial) -> Trial:
    """The trial, or ValueError when a field the runner computes with has the wrong type."""
    for name, types in _FIELD_TYPES:
        value = getattr(trial, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            raise ValueError(f"malformed trial record: {name} {value!r}"[:200])
    if not isinstance(trial.program, str) or not isinstance(trial.choices, dict):
        raise ValueError("malformed trial record: program or choices of the wrong type")
    if isinstance(trial.attempts, bool) or not isinstance(trial.attempts, int) or trial.attempts < 1:
        raise ValueError(f"malformed trial record: attempts {trial.attempts!r}"[:200])
    return trial


def read(path: str) -> List[Trial]:
    """The finished trials of the journal at `path`, in the order they finished."""
    return read_all(path).finished


class Journal:
    """Appends trial records to `trials.jsonl`, one line each."""

    def __init__(self, path: str):
        self.path = path
        _trim_partial_line(path)
        self._file = open(path, "a", encoding="utf-8")

    def append(self, trial: Trial) -> None:
        """Write one record; a finished trial's is durable before this returns."""
        self._file.write(json.dumps(trial.to_json()) + "\n")
        self._file.flush()
        if trial.status.finished:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def _trim_partial_line(path: str) -> None:
    """Cut a last line without its newline (a write interrupted by a kill)."""
    if not os.path.exists(path):
        return
    with open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)
