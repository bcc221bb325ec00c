"""The one error type every stage raises for a mistake in the user's program or options.

A `HypError` carries where the mistake is (file, line, column, and the source line when known) so
the CLI can print `FILE:LINE:COL: error: MESSAGE` with a caret under the offending column.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Optional


@dataclass(frozen=True)
class Location:
    """A position in a `.hyp` file (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class HypError(Exception):
    """A mistake in a `.hyp` program, its Python extensions or the options given to hypsearch."""

    def __init__(self, message: str, location: Optional[Location] = None, source_line: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.source_line = source_line

    @property
    def file(self) -> Optional[str]:
        return self.location.file if self.location else None

    @property
    def line(self) -> Optional[int]:
        return self.location.line if self.location else None

    @property
    def column(self) -> Optional[int]:
        return self.location.column if self.location else None

    def render(self) -> str:
        """The error as the CLI prints it: position, message, source line and caret."""
        head = f"{self.location}: error: {self.message}" if self.location else f"error: {self.message}"
        if self.source_line is None or self.location is None:
            return head
        line = self.source_line.rstrip("\n").expandtabs(1)
        caret = " " * max(self.location.column - 1, 0) + "^"
        return f"{head}\n    {line}\n    {caret}"

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


def suggest(name: str, candidates: Iterable[str]) -> str:
    """A ' (did you mean `x`?)' suffix naming the closest candidate, or ''."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""
