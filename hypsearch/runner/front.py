"""The Pareto front of an experiment with several objectives or constraints: which trials are on
it (feasible, finished, no other such trial better in every objective), the `front/` folder that
keeps each member's `.hyp`, and the counts the run's summary reports."""

from __future__ import annotations

import os
from typing import Any, Callable, List, Optional, Sequence

import numpy as np

from hypsearch.search.pareto import front_mask
from hypsearch.search.trial import Status, Trial


def vector(record: Trial) -> Optional[List[float]]:
    """The trial's objective vector (its one value for a single objective), or None."""
    if record.values is not None:
        return list(record.values)
    return None if record.value is None else [record.value]


def directions_of(records: Sequence[Trial], mode: str, directions: Optional[Sequence[str]] = None) -> List[str]:
    """The objectives' directions: given, else `mode` for every entry of the trials' vectors."""
    if directions:
        return list(directions)
    width = max((len(vector(r) or []) for r in records), default=1)
    return [mode] * max(width, 1)


def front_of(records: Sequence[Trial], directions: Sequence[str]) -> List[Trial]:
    """The feasible finished trials no other one dominates, in id order."""
    finals = [r for r in records if r.status is Status.OK and r.feasible is not False
              and vector(r) is not None and len(vector(r)) == len(directions)]
    if not finals:
        return []
    finals.sort(key=lambda r: r.id)
    points = np.array([[v if d == "max" else -v for v, d in zip(vector(r), directions)] for r in finals])
    return [r for r, keep in zip(finals, front_mask(points)) if keep]


def infeasible_count(records: Sequence[Trial]) -> int:
    """Programs decided infeasible before training (never trained)."""
    return sum(1 for r in records if r.status is Status.INFEASIBLE)


def write_front(folder: str, front: Sequence[Trial], text_of: Callable[[Trial, str], str]) -> None:
    """Keep `folder` holding `<id>.hyp` for each front member and nothing else; `text_of(record,
    path)` is the member's program as text for that path (relative paths resolved from there)."""
    from .state import write_text_atomic

    os.makedirs(folder, exist_ok=True)
    keep = {f"{r.id}.hyp" for r in front}
    for name in os.listdir(folder):
        if name.endswith(".hyp") and name not in keep:
            os.remove(os.path.join(folder, name))
    for r in front:
        path = os.path.join(folder, f"{r.id}.hyp")
        if not os.path.exists(path):
            text = text_of(r, path)
            write_text_atomic(path, text if text.endswith("\n") else text + "\n")


def experiment_directions(exp: Any) -> Optional[List[str]]:
    """The directions of an experiment's objectives when it has several objectives or constraints
    (read from its copy of the space), else None."""
    from hypsearch.dsl.api import load

    from .experiment import ExperimentDir
    from .objectives import is_multi
    from .trial import objectives_of

    space_file = (exp.run or {}).get("space_file")
    if not space_file:
        return None
    try:
        program = load(ExperimentDir(exp.dir).space_file()).sample(seed=0)
    except Exception:  # a damaged or moved copy: shown as a single objective
        return None
    if not is_multi(program):
        return None
    return [o.mode for o in objectives_of(program)]


def front_tables(records: Sequence[Trial], mode: str, directions: Sequence[str], only_front: bool = False,
                 top: Optional[int] = None, sort: Optional[str] = None) -> str:
    """The Pareto front's trials first (a table of their own, marked), then the others."""
    from .report import trials_table

    front = front_of(records, directions)
    ids = {r.id for r in front}
    names = ", ".join(f"{'max' if d == 'max' else 'min'}" for d in directions)
    parts = [f"Pareto front ({len(front)} of {len(records)} trials; objectives {names}):"]
    parts.append(trials_table(front, mode, top=top, sort=sort) if front else "  (no feasible finished trial)")
    rest = [r for r in records if r.id not in ids]
    if not only_front and rest:
        parts.append("\nother trials:")
        parts.append(trials_table(rest, mode, top=top, sort=sort))
    return "\n".join(parts)
