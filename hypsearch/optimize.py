"""In-process search, the Optuna `optimize` habit: propose a program, score it with a function, repeat.

`optimize(space, fn)` runs one trial at a time in this process: the algorithm proposes an
assignment, the space materializes the concrete program, `fn(program)` scores it. A function that
raises, or returns something that is not a finite number, marks the trial failed (the algorithm
learns from it and never proposes it again); the search goes on. Without `fn`, the program's own
objective is used when it is `maximize(python("f.py:fn"))` or `minimize(...)` (the direction then
comes from the objective). Training objectives (a metric name) need the runner: `hypsearch run`.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

from hypsearch.dsl.api import load
from hypsearch.dsl.errors import HypError
from hypsearch.dsl.pyref import resolve
from hypsearch.objective_value import objective_value
from hypsearch.objective_vector import objective_vector, parse_directions
from hypsearch.runner.coordinator import Coordinator, run_loop
from hypsearch.runner.trial import objective_of, objectives_of
from hypsearch.search import Algorithm, Status, Trial, algorithm


@dataclass
class OptimizeResult:
    """Every trial in order, the best one, the direction, the algorithm (for its state) and the space."""

    trials: List[Trial]
    best: Optional[Trial]
    mode: str
    algorithm: Algorithm
    space: Any = None
    directions: Optional[List[str]] = None  # several objectives: each one's "max" / "min"

    @property
    def front(self) -> List[Trial]:
        """The non-dominated trials (every trial for a single objective's best: `[best]`)."""
        if self.directions is None:
            return [self.best] if self.best is not None else []
        ids = {t.id for t in self.algorithm.front()}
        return [t for t in self.trials if t.id in ids]

    def program(self, trial: Trial) -> Any:
        """The concrete program (a pyglove object) of one of the trials."""
        return self.space.materialize(trial.assignment)

    def __repr__(self) -> str:
        failed = sum(t.status is Status.FAILED for t in self.trials)
        best = f"best value {self.best.value:g} (trial {self.best.number})" if self.best else "no successful trial"
        return f"OptimizeResult({len(self.trials)} trials, {failed} failed, {best})"


def optimize(space: Any, fn: Optional[Callable[[Any], Any]] = None, *, algo: Optional[str] = None,
             trials: Optional[int] = None, seed: Optional[int] = None, mode: str = "max",
             enqueue: Sequence[Any] = (), directions: Optional[Sequence[str]] = None,
             objectives: Optional[Mapping[str, str]] = None, **options: Any) -> OptimizeResult:
    """Search `space` (a Space or a `.hyp` path) for `trials` programs scored by `fn(program)`;
    `mode` is "max" or "min"; `options` go to the algorithm. `enqueue`: programs of the space (or
    their choices, as `space.program` takes them) evaluated first, the algorithm told their results
    (a warm start). Unset arguments come from the file's `search(...)` block, then default to mcts
    and 100 trials. Several objectives: `directions=["maximize", "minimize"]` for a function
    returning a tuple in that order, or `objectives={"acc": "maximize", ...}` for one returning a
    dict with those keys; each trial then has `.values` and the result `.front`."""
    many, keys = parse_directions(directions, objectives)
    if many is not None:
        mode = many[0]
        if fn is None:
            raise HypError("several objectives need fn, a function returning their values")
    if isinstance(space, (str, os.PathLike)):
        space = load(os.fspath(space))
    settings = space.search_settings() if hasattr(space, "search_settings") else {}
    algo = algo or settings.get("algo") or "mcts"
    trials = trials if trials is not None else settings.get("trials") or 100
    seed = seed if seed is not None else settings.get("seed")
    if settings.get("options") and not options and algo == settings.get("algo"):
        options = dict(settings["options"])
    if mode not in ("max", "min"):
        raise HypError(f"mode must be \"max\" or \"min\", got {mode!r}")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise HypError(f"trials must be a positive integer, got {trials!r}")
    if fn is None:
        fn, mode, listed = _objective_of(space)
        if listed is not None:  # `objective = [...]` of Python functions: their values in order
            many, keys, mode = listed, None, listed[0]
    elif not callable(fn):
        raise HypError(f"fn must be a function of a program, got {type(fn).__name__}")
    try:
        search = algorithm(algo, space.decisions, seed=seed, direction=mode,
                           directions=many if many is not None and len(many) > 1 else None, **options)
    except ValueError as e:
        raise HypError(str(e)) from None
    # The same loop as the inline executor, with no experiment directory behind it.
    coord = Coordinator(space, search, algo, trials, mode)
    coord.enqueue([space.encode(p) if isinstance(p, Mapping) else space.assignment_of(p) for p in enqueue])
    if many is not None:
        run_loop(coord, lambda trial, program: _score_vector(fn, trial, program, len(many), keys))
    else:
        run_loop(coord, lambda trial, program: _score(fn, trial, program))
    return OptimizeResult(coord.records, coord.best, mode, search, space, many)


def _score(fn: Callable[[Any], Any], trial: Trial, program: Any) -> Tuple[Trial, Any, bool]:
    """The trial scored by the user's function: a function that raises, or returns something that
    is not a finite number, marks it failed; the search goes on."""
    def read(out: Any) -> dict:
        value, metrics = objective_value(out, fn)
        return {"value": value, "metrics": [metrics]}
    return _scored(fn, trial, program, read)


def _score_vector(fn: Callable[[Any], Any], trial: Trial, program: Any, count: int,
                  keys: Optional[List[str]]) -> Tuple[Trial, Any, bool]:
    """As `_score`, for a function returning several objectives' values."""
    def read(out: Any) -> dict:
        values, metrics = objective_vector(out, count, keys)
        return {"value": values[0], "values": values, "metrics": [metrics]}
    return _scored(fn, trial, program, read)


def _scored(fn: Callable[[Any], Any], trial: Trial, program: Any,
            read: Callable[[Any], dict]) -> Tuple[Trial, Any, bool]:
    """Call `fn(program)` and turn what it returned into the finished trial with `read` (which
    raises ValueError for something that is not a result)."""
    started = time.time()
    try:
        out = fn(program)
    except Exception as e:  # the user's function: record, learn, go on
        return dataclasses.replace(trial, status=Status.FAILED, error=f"{type(e).__name__}: {e}",
                                   started=started, finished=time.time()), None, False
    try:
        fields = read(out)
    except ValueError as e:
        return dataclasses.replace(trial, status=Status.FAILED, error=f"the function {e}",
                                   started=started, finished=time.time()), None, False
    return dataclasses.replace(trial, status=Status.OK, budget=1.0, started=started, finished=time.time(),
                               **fields), None, False


def _objective_of(space: Any) -> Tuple[Callable[[Any], Any], str, Optional[List[str]]]:
    """The Python objective of the space's programs and its direction, and for a list of Python
    objectives a function giving their values in order and their directions."""
    program = space.sample(seed=0)
    base_dir = os.path.dirname(os.path.abspath(space.path)) if getattr(space, "path", None) else None
    if isinstance(program.objective, (list, tuple)):
        listed = objectives_of(program)
        if any(o.ref is None for o in listed) or getattr(program, "constraints", None):
            raise HypError("optimize() without fn scores a list of Python objectives only; metrics and "
                           "constraints need the runner (`hypsearch run`), or pass fn")
        fns = [resolve(o.ref, base_dir) for o in listed]

        def values(p: Any) -> tuple:
            return tuple(objective_value(f(p), f)[0] for f in fns)
        return values, listed[0].mode, [o.mode for o in listed]
    objective = objective_of(program)
    if objective.ref is None:
        raise HypError("optimize() without fn needs a Python objective in the file, "
                       "objective = maximize(python(\"f.py:fn\")) or minimize(...); "
                       "training metrics need the runner (`hypsearch run`), or pass fn")
    return resolve(objective.ref, base_dir), objective.mode, None
