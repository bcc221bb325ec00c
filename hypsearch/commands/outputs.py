"""Checks of the paths commands write to, made before any work: a file or directory that cannot be
written is a HypError naming the option (exit 2), never a traceback after minutes of work."""

from __future__ import annotations

import os
import tempfile
from typing import Optional, Sequence

from hypsearch.dsl.errors import HypError


def _writable(directory: str, shown: str, option: str) -> None:
    """HypError unless `directory` exists and takes files or can be created."""
    existing = os.path.abspath(directory)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise HypError(f"{option} {shown}: {existing} is a file, not a directory")
    try:  # a real probe: permission bits say nothing for root, read-only mounts or /proc
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise HypError(f"{option} {shown}: cannot write in {existing} ({e.strerror or e})") from None


def output_file(path: str, option: str = "--out", suffixes: Optional[Sequence[str]] = None) -> str:
    """`path` when a file can be written there (and ends in one of `suffixes`)."""
    if suffixes and not path.lower().endswith(tuple(suffixes)):
        raise HypError(f"{option} {path}: the file name must end in {', '.join(suffixes)}")
    if os.path.isdir(path):
        raise HypError(f"{option} {path}: a directory is there; give a file name")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise HypError(f"{option} {path}: the file is not writable")
    _writable(os.path.dirname(os.path.abspath(path)), path, option)
    return path


def output_dir(path: str, option: str = "--out") -> str:
    """`path` when it is (or can become) a writable directory."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise HypError(f"{option} {path}: a file is there, not a directory")
    _writable(path, path, option)
    return path


def count(value: int, option: str, low: int, high: int) -> int:
    """`value` when low <= value <= high, else a HypError naming the option and the range."""
    if not low <= value <= high:
        raise HypError(f"{option} takes a whole number from {low:,} to {high:,}, got {value}")
    return value
