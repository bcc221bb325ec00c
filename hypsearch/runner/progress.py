"""Live progress of a run on stderr: what is starting, trials done / total, best so far, trials
running and, on a terminal, the epoch each running trial is at.

Before the first trial ends a line says what the run is starting (the executor, Ray's start, the
first trial's data loading and build), so a slow first minute is explained. On a terminal (or in
a notebook) the progress line is rewritten in place; elsewhere (logs, CI) nothing is printed
unless progress was asked for, and then a line per finished trial, so captured output stays
readable.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Dict, Optional, TextIO


def interactive(stream: TextIO) -> bool:
    """Whether `stream` is a terminal, or the output of a Jupyter kernel."""
    if bool(getattr(stream, "isatty", lambda: False)()):
        return True
    shell = sys.modules.get("IPython")
    try:
        ip = shell.get_ipython() if shell is not None else None
    except Exception:  # noqa: BLE001 - an odd IPython install must not break a run
        ip = None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class Progress:
    """Prints the state of the search after each change.

    `enabled`: True (always; a line per finished trial when not interactive), False (never) or
    None (only on a terminal or in a notebook)."""

    def __init__(self, total: int, stream: Optional[TextIO] = None, enabled: Optional[bool] = None):
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = interactive(self.stream)
        self.enabled = self.tty if enabled is None else bool(enabled)
        self.start = time.time()
        self._last_len = 0
        self._epochs: Dict[int, tuple] = {}  # running trial id -> (epoch, epochs)
        self._said_start = False
        self._state = (0, None, 0)

    def starting(self, what: str) -> None:
        """Say what the run is starting (before any trial has finished)."""
        if not self.enabled:
            return
        self._clear()
        self.stream.write(f"starting: {what}\n")
        self.stream.flush()

    def epoch(self, trial_id: int, epoch: int, epochs: Optional[int]) -> None:
        """A running trial finished `epoch` of `epochs` (shown on a terminal only)."""
        self._epochs[trial_id] = (epoch, epochs)
        if self.enabled and self.tty:
            self._draw(*self._state)

    def update(self, done: int, best: Optional[float], running: int, last: Optional[str] = None) -> None:
        """Show `done` of `total` finished, the best value and how many trials are running."""
        if last is not None and last.startswith("trial "):
            try:  # "trial 3 ok 0.91": that trial runs no more
                self._epochs.pop(int(last.split()[1]), None)
            except (IndexError, ValueError):
                pass
        self._state = (done, best, running)
        if not self.enabled:
            return
        if done == 0 and running > 0 and not self._said_start:
            self._said_start = True
            self._clear()
            self.stream.write(f"starting: the first trial{'s' if running > 1 else ''} ({running} running): "
                              "loading the data, building and training the first program\n")
            self.stream.flush()
        if not self.tty:
            if last is not None:  # captured output: one line per finished trial, not per change
                self.stream.write(self._line(done, best, running) + f"  ({last})\n")
                self.stream.flush()
            return
        self._draw(done, best, running)

    def _line(self, done: int, best: Optional[float], running: int) -> str:
        width = 24
        filled = int(width * min(done, self.total) / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        best_text = "-" if best is None else f"{best:.4g}"
        elapsed = time.time() - self.start
        return f"[{bar}] {done}/{self.total} trials  best {best_text}  running {running}  {elapsed:.0f}s"

    def _draw(self, done: int, best: Optional[float], running: int) -> None:
        line = self._line(done, best, running)
        if self._epochs:
            shown = sorted(self._epochs.items())[:4]
            line += "  " + " ".join(f"t{tid}:{e}/{n if n else '?'}" for tid, (e, n) in shown)
            if len(self._epochs) > 4:
                line += " ..."
        pad = " " * max(self._last_len - len(line), 0)
        self.stream.write("\r" + line + pad)
        self.stream.flush()
        self._last_len = len(line)

    def _clear(self) -> None:
        """End an in-place line before printing a whole line."""
        if self.tty and self._last_len:
            self.stream.write("\r" + " " * self._last_len + "\r")
            self._last_len = 0

    def close(self) -> None:
        """End the in-place line."""
        if self.enabled and self.tty and self._last_len:
            self.stream.write("\n")
            self.stream.flush()


def describe_start(settings: Any, space: Any) -> str:
    """What a run starts, in words: the executor (and Ray's start), the data, the budget."""
    if settings.executor == "inline":
        how = "the inline executor (trials one at a time in a worker process)"
    elif settings.address:
        how = f"Ray Tune on the cluster at {settings.address}"
    else:
        how = "a local Ray (its start takes a few seconds) and Ray Tune"
    try:
        data = space.sample(seed=0).data  # the data set is the same in every program of a space
    except Exception:  # noqa: BLE001 - only words on stderr depend on it
        data = None
    name = getattr(type(data), "__hyp_name__", "") if data is not None else ""
    data_text = f", data {name}()" if name else ""
    return f"{settings.trials} trials of {settings.algo} search with {how}{data_text}"

