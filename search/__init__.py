"""Search algorithms over decision tables: random, evolution, mcts and smbo.

Every algorithm has the same ask/tell interface on a compact encoding of the table (`space.py`):
`propose()` -> `Proposal(id, assignment)` or None when a finite space is exhausted,
`tell(proposal, value, budget=1.0)` (maximisation; budget < 1 for a trial stopped early),
`fail(proposal, error)`, and `state_dict()` / `from_state()` for exact resumption from JSON.
`as_dna_generator()` wraps one as a pyglove `DNAGenerator`. This package imports numpy and pyglove
only: it reads decisions by their attributes and never imports the language (`hypsearch.dsl`).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

from .algorithms import ALGORITHMS, Algorithm, Proposal, Trial

__all__ = ["ALGORITHMS", "Algorithm", "Proposal", "Trial", "algorithm", "from_state", "options"]


def _lookup(name: str) -> type:
    cls = ALGORITHMS.get(name)
    if cls is None:
        raise ValueError(f"unknown search algorithm {name!r}; available: {', '.join(sorted(ALGORITHMS))}")
    return cls


def algorithm(name: str, decisions: Sequence[Any], seed: Optional[int] = None, **options: Any) -> Algorithm:
    """A new search algorithm `name` over a decision table (ValueError for unknown names or options)."""
    return _lookup(name)(decisions, seed=seed, **options)


def from_state(state: Dict[str, Any], decisions: Sequence[Any]) -> Algorithm:
    """The algorithm saved in `state` (from `Algorithm.state_dict()`), ready to continue."""
    cls = _lookup(state.get("algorithm", ""))
    algo = cls(decisions, seed=int(state["seed"]), **state.get("options", {}))
    algo.load_state_dict(state)
    return algo


def options(name: str) -> Dict[str, Tuple[Any, str]]:
    """The options of algorithm `name`: option -> (default, one-line doc)."""
    return dict(_lookup(name).OPTIONS)
