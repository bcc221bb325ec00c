"""Public entry points of the language: `load` / `loads` a space, `dumps` a program or a space."""

from __future__ import annotations

import os
from typing import Any, Optional

from . import vocabulary  # noqa: F401  (registers the built-in components)
from .errors import HypError, Location
from .printer import program_text, space_text
from .semantics import Evaluator, check_size, decode_source
from .space import Space
from .syntax import MAX_SOURCE_CHARS, normalize_source, parse
from .tree import ProgramN
from .vocabulary import Program

__all__ = ["Space", "load", "loads", "dumps"]


def load(path: str) -> Space:
    """Load a `.hyp` file as a `Space` (runs the Python files it imports)."""
    try:
        with open(path, "rb") as f:
            # Read one byte past the limit, never the whole thing: /dev/zero or a pipe never ends.
            raw = f.read(MAX_SOURCE_CHARS * 4 + 1)  # UTF-8: up to 4 bytes a character
    except IsADirectoryError:
        raise HypError(f"{path} is a directory, not a .hyp file") from None
    except OSError as e:
        raise HypError(f"cannot read {path}: {e.strerror}") from None
    if len(raw) > MAX_SOURCE_CHARS * 4:
        raise HypError(f"{path} is larger than {MAX_SOURCE_CHARS * 4:,} bytes; .hyp files are limited to "
                       f"{MAX_SOURCE_CHARS:,} characters", Location(path, 1, 1))
    return loads(decode_source(raw, path), filename=path)


def loads(text: str, filename: str = "<string>") -> Space:
    """Load `.hyp` text as a `Space`; `filename` places relative imports and reports errors."""
    if "\x00" in text:
        raise HypError("this is binary data, not .hyp text", Location(filename, 1, 1))
    text = normalize_source(text)
    statements = parse(text, filename)
    ev = Evaluator(filename, text)
    fields, params = ev.run(statements)
    check_size({**fields, **params}, ev)
    source = os.path.abspath(filename) if not filename.startswith("<") else None
    root = ProgramN(Program, fields, params, list(ev.module.imports), source)
    try:
        return Space(root, ev.shared_names, source, ev.instances)
    except HypError as e:
        if e.location is not None and e.source_line is None:
            e.source_line = ev._line(e.location)
        raise


def dumps(x: Any, path: Optional[str] = None) -> str:
    """Canonical `.hyp` text of a concrete program or a space; `path` is where it will be written."""
    if isinstance(x, Space):
        return space_text(x.root, x.shared_names, path, x.instances)
    if isinstance(x, Program):
        return program_text(x, path)
    raise TypeError(f"dumps takes a Space or a Program, got {type(x).__name__}")
