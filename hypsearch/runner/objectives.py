"""Several objectives and constraints of a program, as the runner reads them: the directions the
algorithm is built with, each trial's objective vector and its constraint values (feasible at or
below 0), and which constraints can be decided before training (those on the static built-in
metrics, `hypsearch.runner.measure.STATIC`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from hypsearch.dsl.errors import HypError

from .measure import STATIC


@dataclass(frozen=True)
class Bound:
    """One constraint: `metric` at most (or at least) `bound`."""

    metric: str
    kind: str  # "at_most" | "at_least"
    bound: float

    def value(self, metrics: Dict[str, Any]) -> Optional[float]:
        """The constraint value for these metrics (at or below 0: met), or None when not reported."""
        v = metrics.get(self.metric)
        if v is None:
            return None
        return float(v) - self.bound if self.kind == "at_most" else self.bound - float(v)

    @property
    def static(self) -> bool:
        """Decidable from the built program alone, before training."""
        return self.metric in STATIC


def bounds_of(program: Any) -> List[Bound]:
    """The program's constraints (empty without a `constraints` field)."""
    out = []
    for c in getattr(program, "constraints", None) or []:
        kind = getattr(c, "__hyp_name__", "")
        if kind not in ("at_most", "at_least"):
            raise HypError(f"constraints are at_most(...) or at_least(...), got `{kind or type(c).__name__}`")
        out.append(Bound(str(c.metric), kind, float(c.bound)))
    return out


def constraint_values(bounds: List[Bound], metrics: Dict[str, Any]) -> Optional[List[float]]:
    """Every constraint's value, or None when no constraints; a metric not reported counts as violated."""
    if not bounds:
        return None
    return [v if v is not None else float("inf") for v in (b.value(metrics) for b in bounds)]


def is_multi(program: Any) -> bool:
    """Whether the program states several objectives (a list) or constraints."""
    return isinstance(getattr(program, "objective", None), (list, tuple)) or bool(bounds_of(program))


def search_directions(program: Any, mode: str) -> tuple:
    """(directions or None, constraint count) the algorithm is built with: None and 0 for a
    single objective without constraints (the single-objective algorithm, unchanged)."""
    from .trial import objectives_of

    bounds = bounds_of(program)
    if not is_multi(program):
        return None, 0
    objective = getattr(program, "objective", None)
    directions = [o.mode for o in objectives_of(program)] if isinstance(objective, (list, tuple)) else [mode]
    return directions, len(bounds)
