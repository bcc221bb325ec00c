"""A decision table: decisions in order, parents before children, and what follows from it.

Which decisions an assignment activates, how many programs a table holds (also below a partly
decided prefix, which MCTS asks of every new node), and the checks that make a list of decisions
a table. An *assignment* maps the names of the active decisions to encoded values.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from .model import Decision, Kind


def check_table(decisions: Sequence[Decision]) -> None:
    """ValueError unless names are unique, parents come first and every domain is non-empty."""
    seen = set()
    for d in decisions:
        if d.name in seen:
            raise ValueError(f"decision names must be unique: `{d.name}` appears twice")
        if d.kind in (Kind.CHOICE, Kind.SUBSET) and not d.choices:
            raise ValueError(f"decision `{d.name}` has no choices")
        if d.kind in (Kind.INT, Kind.FLOAT) and not float(d.low) <= float(d.high):
            raise ValueError(f"decision `{d.name}` has low {d.low} above high {d.high}")
        if d.condition is not None and d.condition.parent not in seen:
            raise ValueError(f"decision `{d.name}` depends on `{d.condition.parent}`, which must come before it")
        seen.add(d.name)


def is_active(d: Decision, assignment: Mapping[str, Any]) -> bool:
    """Whether `d` is active under the values of the decisions before it."""
    c = d.condition
    return c is None or (c.parent in assignment and c.holds(assignment[c.parent]))


def active_names(decisions: Sequence[Decision], assignment: Mapping[str, Any]) -> List[str]:
    """Names of the decisions active under `assignment` (parents before children)."""
    return [d.name for d in decisions if is_active(d, assignment)]


def count_completions(decisions: Sequence[Decision], prefix: Optional[Mapping[str, Any]] = None,
                      start: int = 0) -> Optional[int]:
    """Number of programs whose decisions before `start` take the values in `prefix` (the active
    ones among them), or None when a float decision after `start` makes it infinite."""
    prefix = prefix or {}
    later = decisions[start:]
    if any(d.kind is Kind.FLOAT for d in later):
        return None
    later_names = {d.name for d in later}
    children: Dict[str, List[Decision]] = {}
    roots: List[Decision] = []
    for d in later:
        c = d.condition
        if c is None:
            roots.append(d)
        elif c.parent in later_names:
            children.setdefault(c.parent, []).append(d)
        elif c.parent in prefix and c.holds(prefix[c.parent]):
            roots.append(d)

    def group(ds: Sequence[Decision]) -> int:
        total = 1
        for d in ds:
            total *= decision(d)
        return total

    def decision(d: Decision) -> int:
        kids = children.get(d.name)
        if not kids:
            return d.size
        # Each value switches on its own group of children: sum over the values.
        return sum(group([c for c in kids if c.condition.holds(v)]) for v in d.values())

    return group(roots)


def space_size(decisions: Sequence[Decision]) -> Optional[int]:
    """Number of distinct assignments of the table, or None when infinite (a float decision)."""
    return count_completions(decisions)
