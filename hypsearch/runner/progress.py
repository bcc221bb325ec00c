"""Live progress of a run on stderr: trials done / total, best so far, trials running.

On a terminal the line is rewritten in place; elsewhere (logs, CI) a line is printed per finished
trial, so output stays readable when captured.
"""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


class Progress:
    """Prints the state of the search after each change."""

    def __init__(self, total: int, stream: Optional[TextIO] = None, enabled: bool = True):
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.time()
        self._last_len = 0

    def update(self, done: int, best: Optional[float], running: int, last: Optional[str] = None) -> None:
        """Show `done` of `total` finished, the best value and how many trials are running."""
        if not self.enabled or (not self.tty and last is None):
            return  # captured output: one line per finished trial, not per change
        width = 24
        filled = int(width * min(done, self.total) / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        best_text = "-" if best is None else f"{best:.4g}"
        elapsed = time.time() - self.start
        line = f"[{bar}] {done}/{self.total} trials  best {best_text}  running {running}  {elapsed:.0f}s"
        if self.tty:
            pad = " " * max(self._last_len - len(line), 0)
            self.stream.write("\r" + line + pad)
            self._last_len = len(line)
        else:
            self.stream.write(line + (f"  ({last})" if last else "") + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the in-place line."""
        if self.enabled and self.tty and self._last_len:
            self.stream.write("\n")
            self.stream.flush()
