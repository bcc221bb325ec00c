"""A search algorithm as a pyglove `pg.geno.DNAGenerator`, for `pg.sample` and `pg.iter`.

The DNASpec must be flat, one decision point per decision, named after the decisions (what
`hypsearch.dsl.decisions.dna_spec` produces): categorical and subset decisions are `Choices`,
integers are `Choices` over their values or a `Float` rounded back, floats are `Float`. Inactive
decisions get a placeholder in the DNA (first candidate or lower bound) and are ignored on the way
back. pyglove's loop proposes one trial at a time and never reports skipped trials, so this wrapper
is for plain sequential use; the ask/tell interface of the algorithm is the main path.
"""

from __future__ import annotations

from typing import Any, Dict

import pyglove as pg

from .space import FLOAT, INT, SUBSET


class AlgorithmDNAGenerator(pg.geno.DNAGenerator):
    """Proposes the wrapped algorithm's programs as DNA and feeds rewards back to it."""

    @classmethod
    def wrap(cls, algorithm: Any) -> "AlgorithmDNAGenerator":
        """A generator driving `algorithm` (an `hypsearch.search.Algorithm`)."""
        gen = cls()
        gen._algorithm = algorithm
        return gen

    @property
    def algorithm(self) -> Any:
        """The wrapped algorithm."""
        return self._algorithm

    def _setup(self) -> None:
        space = self._algorithm.space
        points = list(self.dna_spec.elements) if hasattr(self.dna_spec, "elements") else [self.dna_spec]
        names = [p.name for p in points]
        if sorted(map(str, names)) != sorted(space.names) or len(points) != len(space.names):
            raise ValueError("the DNASpec must have one decision point per decision, named after it; "
                             f"got points {names} for decisions {space.names}")
        self._points = points
        self._by_key: Dict[bytes, int] = {}

    def _propose(self) -> pg.DNA:
        proposal = self._algorithm.propose()
        if proposal is None:
            raise StopIteration()
        dna = to_dna(self._algorithm.space, self._points, proposal.assignment)
        self._by_key[self._algorithm.space.key(self._algorithm.space.from_assignment(proposal.assignment))] = proposal.id
        return dna

    def _feedback(self, dna: pg.DNA, reward: Any) -> None:
        space = self._algorithm.space
        key = space.key(space.from_assignment(from_dna(space, self._points, dna)))
        pid = self._by_key.pop(key, None)
        if pid is None:
            raise ValueError(f"feedback for a DNA this generator did not propose (or already answered): {dna}")
        self._algorithm.tell(pid, float(reward))


def to_dna(space: Any, points: list, assignment: Dict[str, Any]) -> pg.DNA:
    """The DNA of an assignment under a flat DNASpec (`points` in spec order)."""
    values = []
    for point in points:
        i = space.index[point.name]
        kind, value = space.kind[i], assignment.get(point.name)
        lo = space.lo[space.first_slot[i]]
        if kind == SUBSET:
            chosen = list(value) if value is not None else list(range(int(point.num_choices)))
            values.append(pg.DNA(None, [pg.DNA(int(v)) for v in chosen]))
        elif isinstance(point, pg.geno.Float):
            values.append(pg.DNA(float(lo if value is None else value)))
        elif kind == INT:
            values.append(pg.DNA(0 if value is None else int(value) - int(lo)))
        else:
            values.append(pg.DNA(0 if value is None else int(value)))
    return pg.DNA(None, values)


def from_dna(space: Any, points: list, dna: pg.DNA) -> Dict[str, Any]:
    """The assignment of the active decisions encoded in a DNA of a flat DNASpec."""
    children = list(dna.children) if dna.children else [dna]
    if len(children) != len(points):
        raise ValueError(f"DNA has {len(children)} values for {len(points)} decision points")
    raw: Dict[str, Any] = {}
    for point, child in zip(points, children):
        i = space.index[point.name]
        kind = space.kind[i]
        lo = space.lo[space.first_slot[i]]
        if kind == SUBSET:
            raw[point.name] = tuple(int(c.value) for c in child.children) if child.children else (int(child.value),)
        elif kind == FLOAT:
            raw[point.name] = float(child.value)
        elif isinstance(point, pg.geno.Float):
            raw[point.name] = int(round(child.value))
        elif kind == INT:
            raw[point.name] = int(child.value) + int(lo)
        else:
            raw[point.name] = int(child.value)
    full = space.from_list([None] * space.width)
    for name, value in raw.items():
        j = space.index[name]
        full[space.slots[j]] = [float(x) for x in value] if space.kind[j] == SUBSET else [float(value)]
    return space.to_assignment(space.apply_conditions(full[None, :])[0])
