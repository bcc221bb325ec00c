"""Search algorithms over decision tables: random, evolution, mcts and smbo.

Every algorithm has the same ask/tell interface on the row encoding of a decision table
(`hypsearch.decisions`): `propose()` -> a pending `Trial` (id, assignment) or None when a finite
space is exhausted, `tell(trial, value, budget=1.0)` (in the algorithm's direction, "max" by
default; budget < 1 for a trial stopped early), `fail(trial, error)`, `observe(record)` to bring
in a finished trial from a record, and `state_dict()` / `from_state()` for exact resumption from
JSON. `as_dna_generator()` wraps one as a pyglove `DNAGenerator`. This package imports numpy and
pyglove only; it never imports the language (`hypsearch.dsl`), torch or Ray.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

from .algorithms import ALGORITHMS, Algorithm, Proposal
from .trial import Status, Trial

__all__ = ["ALGORITHMS", "Algorithm", "Proposal", "Status", "Trial", "algorithm", "from_state", "names", "options"]


def names() -> list:
    """The registered algorithms' names, sorted (the CLI's choices)."""
    return sorted(ALGORITHMS)


def _lookup(name: str) -> type:
    cls = ALGORITHMS.get(name)
    if cls is None:
        raise ValueError(f"unknown search algorithm {name!r}; available: {', '.join(names())}")
    return cls


def algorithm(name: str, decisions: Sequence[Any], seed: Optional[int] = None, direction: str = "max",
              directions: Optional[Sequence[str]] = None, constraints: int = 0, **options: Any) -> Algorithm:
    """A new search algorithm `name` over a decision table (ValueError for unknown names or options);
    `directions` and `constraints` for several objectives and constraint values."""
    return _lookup(name)(decisions, seed=seed, direction=direction, directions=directions, constraints=constraints,
                         **options)


def from_state(state: Dict[str, Any], decisions: Sequence[Any], trials: Optional[Iterable[Trial]] = None) -> Algorithm:
    """The algorithm saved in `state` (from `Algorithm.state_dict()`), ready to continue; `trials`
    are the records in the order they happened when the state was saved without them."""
    cls = _lookup(state.get("algorithm", ""))
    algo = cls(decisions, seed=int(state["seed"]), direction=state.get("direction", "max"),
               directions=state.get("directions"), constraints=int(state.get("constraints", 0)),
               **state.get("options", {}))
    algo.load_state_dict(state, trials)
    return algo


def options(name: str) -> Dict[str, Tuple[Any, str]]:
    """The options of algorithm `name`: option -> (default, one-line doc)."""
    return dict(_lookup(name).OPTIONS)
