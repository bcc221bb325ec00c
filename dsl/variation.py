"""Symbolic variation of programs within their space: mutation, crossover and neighbours.

Everything here works on encoded assignments of the space's decision table (`hypsearch.decisions`),
so every result is a program of the space: a changed decision that switches a branch or a
`repeat` depth on gets fresh values for the decisions it activates (a re-sampled subtree), and the
decisions it switches off are dropped. `Space.mutate`, `Space.crossover` and `Space.neighbours`
are the public forms.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np

from hypsearch.decisions import Decision, Kind, RowEncoding, is_active

Assignment = Dict[str, Any]


def _mutable(d: Decision) -> bool:
    return d.kind is Kind.FLOAT and d.low < d.high or d.kind is not Kind.FLOAT and (d.size or 0) > 1


def complete(decisions: Sequence[Decision], partial: Assignment, fresh: Assignment) -> Assignment:
    """`partial` with every decision it activates and does not set taken from `fresh`, and the
    decisions it no longer activates dropped (table order: parents first)."""
    out: Assignment = {}
    for d in decisions:
        if not is_active(d, out):
            continue
        out[d.name] = partial[d.name] if d.name in partial else fresh[d.name]
    return out


def _fresh(encoding: RowEncoding, rng: np.random.Generator) -> Assignment:
    """A value for every decision, active or not (conditions not applied)."""
    row = encoding.sample_raw(1, rng)[0]
    out: Assignment = {}
    for i, d in enumerate(encoding.decisions):
        v = row[encoding.slots[i]]
        out[d.name] = (float(v[0]) if d.kind is Kind.FLOAT else tuple(int(x) for x in v) if d.kind is Kind.SUBSET
                       else int(v[0]))
    return out


def _other_value(d: Decision, current: Any, rng: np.random.Generator, encoding: RowEncoding) -> Any:
    """A uniformly drawn value of `d` other than `current` (floats: anywhere else in the range)."""
    if d.kind is Kind.FLOAT:
        while True:
            v = _fresh(encoding, rng)[d.name]
            if v != current:
                return v
    values = [v for v in d.values() if v != current] if d.size <= 10_000 else None
    if values is not None:
        return values[int(rng.integers(len(values)))]
    while True:  # a domain too large to list: draw until different
        v = _fresh(encoding, rng)[d.name]
        if v != current:
            return v


def mutate(encoding: RowEncoding, assignment: Assignment, n: int, rng: np.random.Generator) -> Assignment:
    """`assignment` with `n` distinct active decisions given other values (fewer when fewer can
    change); what a change switches on is drawn afresh."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    decisions = encoding.decisions
    candidates = [d for d in decisions if d.name in assignment and _mutable(d)]
    if not candidates:
        raise ValueError("the program has no active decision that can take another value")
    picked = rng.choice(len(candidates), size=min(n, len(candidates)), replace=False)
    changed = dict(assignment)
    for k in sorted(int(i) for i in picked):  # table order: a parent is changed before its children
        d = candidates[k]
        if is_active(d, changed):
            changed[d.name] = _other_value(d, changed[d.name], rng, encoding)
    return complete(decisions, changed, _fresh(encoding, rng))


def crossover(encoding: RowEncoding, a: Assignment, b: Assignment, rng: np.random.Generator) -> Assignment:
    """A child taking each decision from one parent; a decision that a parent's value of another
    decision switched on comes from that same parent, so each subtree comes whole from one."""
    child: Assignment = {}
    source: Dict[str, int] = {}
    for d in encoding.decisions:
        if not is_active(d, child):
            continue
        parent = d.condition.parent if d.condition is not None else None
        if parent is not None and parent in source:
            side = source[parent]
        else:
            side = int(rng.integers(2))
        value = (a, b)[side].get(d.name)
        if value is None:  # inactive in that parent: take the other's
            side = 1 - side
            value = (a, b)[side].get(d.name)
        if value is None:
            value = _fresh(encoding, rng)[d.name]
        child[d.name], source[d.name] = value, side
    return child


def neighbours(encoding: RowEncoding, assignment: Assignment) -> Iterator[Assignment]:
    """Every assignment one discrete step away, lazily: another candidate of a `oneof`, the next
    integer below or above, one item of a `manyof` swapped, an `optional` flipped. Decisions a step
    switches on take their first value (lowest candidate or bound), so the walk is deterministic;
    floats are not stepped."""
    decisions = encoding.decisions
    first = first_values(decisions)
    for d in decisions:
        if d.name not in assignment or d.kind is Kind.FLOAT:
            continue
        for value in _steps(d, assignment[d.name]):
            yield complete(decisions, {**assignment, d.name: value}, first)


def first_values(decisions: Sequence[Decision]) -> Assignment:
    """The first value of every decision (lowest candidate or bound)."""
    return {d.name: _first(d) for d in decisions}


def _first(d: Decision) -> Any:
    if d.kind is Kind.FLOAT:
        return float(d.low)
    return next(iter(d.values()))


def _steps(d: Decision, current: Any) -> List[Any]:
    if d.kind is Kind.CHOICE:
        return [v for v in range(len(d.choices)) if v != current]
    if d.kind is Kind.INT:
        return [v for v in (current - 1, current + 1) if d.low <= v <= d.high]
    out = []
    for pos in range(len(current)):  # subset: swap one item for another candidate
        for j in range(len(d.choices)):
            if j == current[pos]:
                continue
            value = current[:pos] + (j,) + current[pos + 1:]
            if d.sorted:
                value = tuple(sorted(value))
            if (not d.distinct or len(set(value)) == len(value)) and value != current and value not in out:
                out.append(value)
    return out
