"""The experiment directory and the `Experiment` read back from it.

Layout of DIR:
  trials.jsonl     the journal: a line per proposed and per finished trial (see journal.py)
  searcher.json    a checkpoint of the algorithm, rebuilt from the journal when missing (state.py)
  run.json         reproducibility record: command line, settings, seeds, versions
  space/           a copy of the space file and the Python files it imports
  best.hyp         the best concrete program, valid `.hyp`
  best.pt          its trained weights (state dict + `.hyp` text)
  weights/         weights of finished trials waiting to be compared with the best (transient)
  ray/             Ray Tune's own results (unless --storage points elsewhere)
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from hypsearch.dsl.api import dumps
from hypsearch.dsl.tree import CompN, Const
from hypsearch.dsl.errors import HypError
from hypsearch.search.trial import Status, Trial

from . import journal
from .settings import RunSettings
from .state import write_text_atomic


class ExperimentDir:
    """Paths inside one experiment directory."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self.journal = os.path.join(self.path, "trials.jsonl")
        self.state = os.path.join(self.path, "searcher.json")
        self.run_json = os.path.join(self.path, "run.json")
        self.space_dir = os.path.join(self.path, "space")
        self.best_hyp = os.path.join(self.path, "best.hyp")
        self.best_pt = os.path.join(self.path, "best.pt")
        self.weights = os.path.join(self.path, "weights")
        self.ray = os.path.join(self.path, "ray")

    def to_user_paths(self, text: str) -> str:
        """`text` (an error message) with paths into the experiment's copy of the space pointing
        at the user's own folder instead: trials run from the copy, but the user edits the
        original (a message that names no copied path comes back unchanged)."""
        try:
            record = self.read_run()
            source, copy = record.get("source"), os.path.join(self.space_dir, record["space_file"])
        except (HypError, KeyError, TypeError, ValueError, OSError):
            return text
        if not isinstance(source, str) or not source:
            return text
        return text.replace(os.path.dirname(copy) + os.sep, os.path.dirname(os.path.abspath(source)) + os.sep)

    def exists(self) -> bool:
        return os.path.exists(self.run_json)

    def read_run(self) -> Dict[str, Any]:
        """The run.json record; HypError when DIR is not an experiment directory, DamagedRecord
        when run.json cannot be read."""
        if os.path.isfile(self.path):
            raise HypError(f"{self.path} is a file, not an experiment directory")
        if not os.path.exists(self.run_json):
            raise HypError(f"{self.path} is not an experiment directory (no run.json)")
        try:
            with open(self.run_json, "rb") as f:
                record = json.loads(f.read().decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise DamagedRecord(f"{self.run_json} is damaged ({str(e).splitlines()[0][:200]})") from None
        if not isinstance(record, dict) or not isinstance(record.get("settings", {}), dict) \
                or not isinstance(record.get("space_file", ""), str):
            raise DamagedRecord(f"{self.run_json} is damaged (not a run record)")
        return record

    def space_file(self) -> str:
        """The copy of the space file."""
        return os.path.join(self.space_dir, self.read_run()["space_file"])

    def space_digest(self) -> str:
        """A digest of the `.hyp` files of the space copy (what resume checks for edits)."""
        digest = hashlib.sha256()
        for root, dirs, files in sorted(os.walk(self.space_dir)):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".hyp"):
                    path = os.path.join(root, name)
                    digest.update(os.path.relpath(path, self.space_dir).encode() + b"\0")
                    with open(path, "rb") as f:
                        digest.update(f.read() + b"\0")
        return digest.hexdigest()


class DamagedRecord(HypError):
    """run.json exists but cannot be read (torn, garbage, not UTF-8)."""


def default_out(space_path: Optional[str]) -> str:
    """runs/<space>-<time> under the current directory."""
    stem = os.path.splitext(os.path.basename(space_path))[0] if space_path else "space"
    return os.path.join("runs", f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}")


def create(exp: ExperimentDir, space: Any, settings: RunSettings, command: Sequence[str],
           files: Sequence[str]) -> str:
    """Make DIR, copy the space and the Python files it uses, write run.json; the space copy's path."""
    if os.path.exists(exp.journal) and os.path.getsize(exp.journal) > 0:
        raise HypError(f"{exp.path} already holds an experiment; use `hypsearch run --resume {exp.path}` "
                       f"or choose another --out")
    os.makedirs(exp.space_dir, exist_ok=True)
    space_file = _copy_sources(exp, space, files)
    record = {
        "command": list(command),
        "cwd": os.getcwd(),
        "created": time.time(),
        "source": getattr(space, "path", None),
        "space_file": os.path.relpath(space_file, exp.space_dir),
        "settings": settings.to_json(),
        "seeds": {"algorithm": settings.seed},
        "versions": versions(),
        "host": platform.node(),
    }
    record["space_sha256"] = exp.space_digest()
    _write_json(exp.run_json, record)
    return space_file


def _copy_sources(exp: ExperimentDir, space: Any, files: Sequence[str]) -> str:
    """Mirror the space file and its Python files under DIR/space/, keeping their relative layout
    (so the copy's relative imports and python("...") references resolve to the copies)."""
    src = getattr(space, "path", None)
    if not (src and os.path.isfile(src)):
        dst = os.path.join(exp.space_dir, "space.hyp")
        with open(dst, "w", encoding="utf-8") as f:
            f.write(dumps(space, path=dst))
        return dst
    src = os.path.abspath(src)
    files = [os.path.abspath(f) for f in files if os.path.isfile(f)]
    root = os.path.commonpath([os.path.dirname(src)] + [os.path.dirname(f) for f in files])
    for path in [src] + files:
        target = os.path.join(exp.space_dir, os.path.relpath(path, root))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(path, target)
    copy = os.path.join(exp.space_dir, os.path.relpath(src, root))
    _link_data(exp, space, os.path.dirname(src), os.path.dirname(copy))
    return copy


def _link_data(exp: ExperimentDir, space: Any, src_dir: str, copy_dir: str) -> None:
    """Make the data files a space names by relative path reachable from its copy: trials run from
    the copy, and a data set can be far too large to copy, so each one gets a symbolic link at the
    same relative place (never outside the experiment directory)."""
    for source in _data_paths(space):
        # The loaded space holds the path resolved against the user's folder; the copy resolves
        # the same text against its own folder.
        rel = os.path.relpath(source, src_dir)
        target = os.path.normpath(os.path.join(copy_dir, rel))
        inside = os.path.commonpath([os.path.abspath(exp.path), target]) == os.path.abspath(exp.path)
        if inside and os.path.exists(source) and not os.path.lexists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(source, target)


def _data_paths(space: Any) -> List[str]:
    """The file paths (`path = ...`, `root = ...`) of every data component of the space tree."""
    root = getattr(space, "root", None)
    out, seen, stack = [], set(), [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, CompN) and getattr(node.cls, "__hyp_kind__", "") == "data":
            for name in ("path", "root"):
                value = node.fields.get(name)
                if isinstance(value, Const) and isinstance(value.value, str) and os.path.isabs(value.value):
                    out.append(value.value)
        stack.extend(node.children())
    return out


def versions() -> Dict[str, Optional[str]]:
    """Versions of Python and the libraries a result depends on (without importing them)."""
    from importlib import metadata
    out: Dict[str, Optional[str]] = {"python": sys.version.split()[0]}
    for name in ("torch", "ray", "pyglove", "hypsearch", "numpy", "scikit-learn"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def update_run(exp: ExperimentDir, **fields: Any) -> None:
    """Add fields to run.json (e.g. the resumes of an experiment)."""
    record = exp.read_run()
    for k, v in fields.items():
        if isinstance(record.get(k), list) and isinstance(v, list):
            record[k] = record[k] + v
        else:
            record[k] = v
    _write_json(exp.run_json, record)


def _write_json(path: str, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2))


def best_of(records: Sequence[Trial], mode: str) -> Optional[Trial]:
    """The best finished (status ok) trial; ties go to the earlier one."""
    best = None
    for r in records:
        if r.status is not Status.OK or r.value is None or r.feasible is False:
            continue
        if best is None or (r.value > best.value if mode == "max" else r.value < best.value):
            best = r
    return best


@dataclass
class Experiment:
    """An experiment as its directory records it: settings, trials, best."""

    dir: str
    settings: RunSettings
    mode: str
    trials: List[Trial] = field(default_factory=list)
    damaged: List[str] = field(default_factory=list)  # journal lines skipped: "line N: why"
    run: Dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> Optional[Trial]:
        """The best trial with status ok, or None."""
        return best_of(self.trials, self.mode)

    @property
    def best_hyp(self) -> Optional[str]:
        path = ExperimentDir(self.dir).best_hyp
        return path if os.path.exists(path) else None

    @property
    def best_weights(self) -> Optional[str]:
        path = ExperimentDir(self.dir).best_pt
        return path if os.path.exists(path) else None

    def counts(self) -> Dict[str, int]:
        """Number of trials by status."""
        out = {s: 0 for s in journal.STATUSES}
        for r in self.trials:
            out[r.status.value] = out.get(r.status.value, 0) + 1
        return out

    @classmethod
    def open(cls, path: str) -> "Experiment":
        """Read an experiment directory (HypError when it is not one); a damaged run.json or
        damaged journal lines are listed in `damaged` and what is intact is read."""
        exp = ExperimentDir(path)
        damaged: List[str] = []
        try:
            run = exp.read_run()
        except DamagedRecord as e:
            run, damaged = {}, [f"{e.message}: settings unknown, shown with defaults"]
        contents = journal.read_all(exp.journal)
        try:
            settings = RunSettings.from_json(run.get("settings", {}))
        except TypeError:
            settings, damaged = RunSettings(), damaged + ["run.json: settings unreadable, shown with defaults"]
        mode = run.get("mode") if run.get("mode") in ("max", "min") else "max"
        return cls(dir=exp.path, settings=settings, mode=mode, trials=[t for t in contents.finished if t.origin is None],
                   damaged=damaged + [f"{exp.journal}: {d}" for d in contents.damaged], run=run)

    def __repr__(self) -> str:
        best = self.best
        return (f"Experiment({self.dir!r}, trials={len(self.trials)}, "
                f"best={None if best is None else (best.id, best.value)})")
