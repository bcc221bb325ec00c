"""Several objectives and constraints of a program, as the runner reads them: the directions the
algorithm is built with, each trial's objective vector and its constraint values (feasible at or
below 0), and which constraints can be decided before training (those on the static built-in
metrics, `hypsearch.runner.measure.STATIC`).

A list may hold Python objectives (`minimize(python("cost.py:energy"))`): each is called with the
concrete program before anything trains and read by the single Python objective's rule; its value
is recorded under the function's name and its dict's other entries as metrics, which the rest of
the list and the constraints may name (`trial` measures what they leave: a build for the static
built-in metrics, training for anything else)."""

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


def metric_names(objectives: List[Any]) -> List[str]:
    """The metric each objective of a list is read from: its metric, or for a Python objective the
    name its value is recorded under (its function's name, numbered when two share it)."""
    out: List[str] = []
    for o in objectives:
        if o.ref is None:
            out.append(o.metric)
            continue
        name = o.ref.rpartition(":")[2] or o.ref
        key, n = name, 2
        while key in out:
            key, n = f"{name}_{n}", n + 1
        out.append(key)
    return out


def vector_of(program: Any, metrics: Dict[str, Any]) -> tuple:
    """(objective vector or None, constraint values or None) of a program with several objectives
    or constraints, read from one epoch's metrics: for a trial a scheduler stopped, whose final
    result never came (None, None for a single objective without constraints)."""
    from .trial import objectives_of

    if not is_multi(program):
        return None, None
    bounds = bounds_of(program)
    if isinstance(program.objective, (list, tuple)):
        names = metric_names(objectives_of(program))
        raw = [metrics.get(n) for n in names]
        values = [float(v) for v in raw] if all(_number(v) for v in raw) else None
    else:
        values = None  # one objective with constraints: the value alone, as the trial reports it
    return values, constraint_values(bounds, metrics)


def call_python_objectives(program: Any, objectives: List[Any], base_dir: Optional[str]) -> tuple:
    """Call each Python objective of a list with the concrete program (what it may return follows
    the single objective's rule, `hypsearch.objective_value`): (the list with each Python entry
    replaced by a metric objective over its recorded value, the metrics the functions returned).
    Raises TrialFailed naming the function that raised or returned something else."""
    from hypsearch.dsl.pyref import resolve

    from ..objective_value import objective_value
    from .errors import TrialFailed
    from .trial import Objective, _describe

    metrics: Dict[str, Any] = {}
    out_objectives = []
    for o, key in zip(objectives, metric_names(objectives)):
        if o.ref is None:
            out_objectives.append(o)
            continue
        fn = resolve(o.ref, base_dir)
        try:
            out = fn(program)
        except Exception as e:
            import traceback
            raise TrialFailed(f"objective {o.ref} raised {_describe(e)}", traceback=traceback.format_exc()) from e
        try:
            value, returned = objective_value(out, fn)
        except ValueError as e:
            raise TrialFailed(f"objective {o.ref} {e}") from None
        # Its other entries are metrics the list and the constraints can name; `value` is the key.
        metrics.update({k: v for k, v in returned.items() if k != "value" and _number(v)})
        metrics[key] = value
        out_objectives.append(Objective(o.mode, metric=key))
    return out_objectives, metrics


def _number(v: Any) -> bool:
    from ..objective_value import is_number
    return is_number(v)


def _is_python(objective: Any) -> bool:
    return getattr(type(getattr(objective, "metric", None)), "__hyp_name__", None) == "python"


def has_python(program: Any) -> bool:
    """Whether the program's objective list holds a Python objective."""
    objective = getattr(program, "objective", None)
    return isinstance(objective, (list, tuple)) and any(_is_python(o) for o in objective)


def trains(program: Any) -> bool:
    """Whether scoring the program trains it, as far as the program tells: not for a single Python
    objective, nor for a list whose other objectives and constraints name only static built-in
    metrics (a build measures them) or that has no target (the functions' own entries must do)."""
    objective = getattr(program, "objective", None)
    if not isinstance(objective, (list, tuple)):
        return not _is_python(objective)
    if not any(_is_python(o) for o in objective):
        return True
    if program.target is None:
        return False
    named = [o.metric for o in objective if not _is_python(o)] + [b.metric for b in bounds_of(program)]
    return any(m not in STATIC for m in named)


def check_python_objectives(space: Any, program: Any) -> None:
    """HypError at the `python("...")` reference of an objective (single or listed) whose function
    cannot be found: no such file or module, no such function, or not callable. Runs the file."""
    from hypsearch.dsl.pyref import resolve

    node = space.root.fields.get("objective") if getattr(space, "root", None) is not None else None
    given = program.objective
    listed = list(given) if isinstance(given, (list, tuple)) else [given]
    items = list(getattr(node, "items", None) or [node])
    for i, o in enumerate(listed):
        metric = getattr(o, "metric", None)
        if getattr(type(metric), "__hyp_name__", None) != "python":
            continue
        item = items[i] if i < len(items) else node
        ref_node = getattr(getattr(getattr(item, "fields", {}).get("metric"), "fields", {}).get("ref"), "loc", None)
        loc = ref_node or getattr(item, "loc", None)
        try:
            resolve(metric.ref, None, loc)
        except HypError as e:
            if e.location is None:
                raise HypError(e.message, loc) from None
            raise


def stopped_record(program: Any, record: Any) -> Any:
    """A trial a scheduler stopped, with its objective vector and constraint values read from its
    last reported epoch (failed when that epoch lacks an objective of a list)."""
    import dataclasses

    from hypsearch.search.trial import Status

    values, constraints = vector_of(program, record.metrics[-1] if record.metrics else {})
    if values is None and isinstance(getattr(program, "objective", None), (list, tuple)):
        return dataclasses.replace(record, status=Status.FAILED, value=None,
                                   error="stopped early without every objective's value in its last epoch")
    if values is None and constraints is None:
        return record
    return dataclasses.replace(record, values=values, constraints=constraints,
                               feasible=None if constraints is None else all(c <= 0 for c in constraints))
