"""The trial record and its status: one definition for the algorithms, the runner, the journal
and `hypsearch.optimize`.

A trial is born pending when an algorithm proposes it and ends in one of the final statuses. Its
`value` is the objective as the user states it (not negated for minimisation); algorithms compare
trials through their direction. Everything else (per-epoch metrics, the program's `.hyp` text,
times) is filled in by whoever ran it and is what the journal stores, one JSON object a line.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, List, Optional


class Status(str, Enum):
    """What became of a trial; a `str` enum, so records compare and serialise as plain strings."""

    PENDING = "pending"  # proposed, no result yet
    OK = "ok"  # trained (or scored) to the end: a final value
    STOPPED = "stopped"  # stopped early by a scheduler: a value at a partial budget
    FAILED = "failed"  # raised, NaN loss, out of memory, killed or timed-out worker
    INVALID = "invalid"  # the program cannot be built: no trial of it can ever succeed
    INFEASIBLE = "infeasible"  # violates a constraint decided before training (params, flops): never trained

    def __str__(self) -> str:
        return self.value

    # Hash as the plain string it equals, so either works as a dict key.
    def __hash__(self) -> int:
        return hash(self.value)

    @property
    def finished(self) -> bool:
        """Whether the trial has its result (any status but pending)."""
        return self is not Status.PENDING

    @property
    def has_value(self) -> bool:
        """Whether the trial carries a value the algorithms learn from (ok or stopped)."""
        return self in (Status.OK, Status.STOPPED)


@dataclass
class Trial:
    """One proposed program and what became of it."""

    id: int
    assignment: Dict[str, Any]  # encoded values of the active decisions, as the algorithm proposed them
    status: Status = Status.PENDING
    value: Optional[float] = None  # the objective, in the user's direction
    budget: Optional[float] = None  # epochs done / epochs asked (below 1 when stopped early)
    error: Optional[str] = None
    metrics: List[Dict[str, Any]] = field(default_factory=list)  # one dict per epoch (one for a Python objective)
    choices: Dict[str, Any] = field(default_factory=dict)  # decision name -> user value
    program: str = ""  # the concrete program as `.hyp` text
    started: Optional[float] = None  # unix times
    finished: Optional[float] = None
    attempts: int = 1  # 1 + retries after a worker died
    # Trained with several seeds (--repeats): {"seeds", "values" (None: that seed failed), "std"
    # of the values (the noise level), "errors"}; `value` is their mean. None: one seed.
    repeats: Optional[Dict[str, Any]] = None
    # Several objectives: the vector in the order the objectives are stated, each in the user's
    # direction (`value` is its first entry). None: a single objective.
    values: Optional[List[float]] = None
    # Constraints: whether every one holds (None: no constraints), and each one's value, feasible at
    # or below 0 (at_most(m, b): m - b; at_least(m, b): b - m).
    feasible: Optional[bool] = None
    constraints: Optional[List[float]] = None
    # Told to the algorithm from another experiment (--warm-start: "DIR#id"), never run here.
    origin: Optional[str] = None

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    @property
    def number(self) -> int:
        """The trial's id (Optuna's name for it)."""
        return self.id

    @property
    def last_metrics(self) -> Dict[str, Any]:
        """The last epoch's metrics ({} before any)."""
        return self.metrics[-1] if self.metrics else {}

    def to_json(self) -> Dict[str, Any]:
        """A JSON-able dict (NaN and infinities become null, tuples lists)."""
        return _clean(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "Trial":
        """A trial from `to_json()` output (unknown keys ignored; ValueError for a malformed one)."""
        if not isinstance(data, dict):
            raise ValueError(f"a trial record is a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        try:
            trial = cls(**kwargs)
        except TypeError as e:
            raise ValueError(f"malformed trial record: {e}") from None
        if isinstance(trial.id, bool) or not isinstance(trial.id, int) or trial.id < 0:
            raise ValueError(f"malformed trial record: id {trial.id!r}")
        if not isinstance(trial.assignment, dict):
            raise ValueError("malformed trial record: assignment is not an object")
        if trial.value is not None and (isinstance(trial.value, bool) or not isinstance(trial.value, (int, float))):
            raise ValueError(f"malformed trial record: value {trial.value!r}")
        for key in ("values", "constraints"):
            vector = getattr(trial, key)
            if vector is not None and (not isinstance(vector, list) or not all(
                    v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in vector)):
                raise ValueError(f"malformed trial record: {key} {vector!r}")
        if trial.feasible is not None and not isinstance(trial.feasible, bool):
            raise ValueError(f"malformed trial record: feasible {trial.feasible!r}")
        if not isinstance(trial.metrics, list) or not all(isinstance(m, dict) for m in trial.metrics):
            raise ValueError("malformed trial record: metrics is not a list of objects")
        return trial


def _clean(x: Any) -> Any:
    if isinstance(x, Enum):
        return x.value
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (str, int, bool)) or x is None or isinstance(x, float):
        return x
    if hasattr(x, "item"):  # numpy / torch scalars
        return _clean(x.item())
    return str(x)
