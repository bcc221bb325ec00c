"""The decision table: every decision point of a space, with its domain and activation condition.

This is the space as search algorithms see it (they never see programs). A decision's encoded
value is:
  - kind "choice": the index of the chosen candidate (int);
  - kind "int":    an int in [low, high] (bounds inclusive);
  - kind "float":  a float in [low, high];
  - kind "subset": a tuple of k candidate indices (`manyof`; increasing when `sorted`, without
                   repeats when `distinct`).
An assignment maps the names of the *active* decisions to encoded values. The table is ordered so
a decision's parent always comes before it.

Why a table of our own rather than pyglove's DNASpec: copy i of a `repeat` keeps one name whatever
depth is chosen (active when depth > i), so algorithms learn about copy i across depths; pyglove's
`oneof` over lists of different lengths duplicates every copy per depth. Conversion to pyglove DNA
happens at the API boundary (`dna_spec`, `to_dna`, `from_dna`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Mapping, Optional, Sequence, Tuple

import pyglove as pg


@dataclass(frozen=True)
class Condition:
    """Active when the parent decision is active and its value is in `values` (for a subset
    parent: when any chosen index is in `values`)."""

    parent: str
    values: FrozenSet[Any]

    def holds(self, parent_value: Any) -> bool:
        if isinstance(parent_value, tuple):
            return any(v in self.values for v in parent_value)
        return parent_value in self.values


@dataclass(frozen=True)
class Decision:
    """One decision point: name, kind, domain and activation condition."""

    name: str
    kind: str  # "choice" | "int" | "float" | "subset"
    choices: Tuple[str, ...] = ()  # printed `.hyp` text of each candidate (choice, subset)
    low: Optional[float] = None  # int, float
    high: Optional[float] = None
    log: bool = False
    k: int = 0  # subset size
    distinct: bool = True
    sorted: bool = False
    condition: Optional[Condition] = None
    literals: Optional[Tuple[Any, ...]] = field(default=None, compare=False)  # plain values of choices, when all are literals

    @property
    def size(self) -> Optional[int]:
        """Number of distinct values, None for floats."""
        if self.kind == "choice":
            return len(self.choices)
        if self.kind == "int":
            return int(self.high) - int(self.low) + 1
        if self.kind == "subset":
            n, k = len(self.choices), self.k
            if self.distinct:
                return math.comb(n, k) if self.sorted else math.perm(n, k)
            return math.comb(n + k - 1, k) if self.sorted else n ** k
        return None

    def validate(self, value: Any) -> Any:
        """`value` as this decision's encoded value, or ValueError saying what is allowed."""
        if self.kind == "choice":
            if isinstance(value, bool) or not isinstance(value, (int,)) or not 0 <= value < len(self.choices):
                raise ValueError(f"decision `{self.name}` takes a choice index in [0, {len(self.choices) - 1}], got {value!r}")
            return int(value)
        if self.kind == "int":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or not self.low <= value <= self.high:
                raise ValueError(f"decision `{self.name}` takes an int in [{int(self.low)}, {int(self.high)}], got {value!r}")
            return int(value)
        if self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not self.low <= value <= self.high:
                raise ValueError(f"decision `{self.name}` takes a float in [{self.low}, {self.high}], got {value!r}")
            return float(value)
        value = tuple(value)
        n = len(self.choices)
        if len(value) != self.k or any(not isinstance(v, int) or not 0 <= v < n for v in value):
            raise ValueError(f"decision `{self.name}` takes {self.k} choice indices in [0, {n - 1}], got {value!r}")
        if self.distinct and len(set(value)) != len(value):
            raise ValueError(f"decision `{self.name}` takes distinct choices, got {value!r}")
        if self.sorted and list(value) != sorted(value):
            raise ValueError(f"decision `{self.name}` takes its choices in increasing order, got {value!r}")
        return value

    def describe(self) -> str:
        """The domain in words, for listings."""
        if self.kind == "choice":
            return "oneof(" + ", ".join(self.choices) + ")"
        if self.kind == "subset":
            return f"manyof({self.k}, " + ", ".join(self.choices) + ")"
        lo, hi = (int(self.low), int(self.high)) if self.kind == "int" else (self.low, self.high)
        return f"{'intv' if self.kind == 'int' else 'floatv'}({lo}, {hi}{', log' if self.log else ''})"


def active_names(decisions: Sequence[Decision], assignment: Mapping[str, Any]) -> list:
    """Names of the decisions active under `assignment` (parents before children)."""
    active = []
    for d in decisions:
        c = d.condition
        if c is None or (c.parent in assignment and c.holds(assignment[c.parent])):
            active.append(d.name)
    return active


def space_size(decisions: Sequence[Decision]) -> Optional[int]:
    """Number of distinct assignments, or None when infinite (a float decision)."""
    if any(d.kind == "float" for d in decisions):
        return None
    children: Dict[str, list] = {}
    roots = []
    for d in decisions:
        (children.setdefault(d.condition.parent, []) if d.condition else roots).append(d)
    def count_group(group) -> int:
        total = 1
        for d in group:
            total *= count_decision(d)
        return total

    def count_decision(d: Decision) -> int:
        kids = children.get(d.name, [])
        if not kids:
            return d.size
        if d.kind == "subset":
            # Exact counting over subsets is combinatorial; enumerate (spaces with manyof parents
            # of sub-decisions are small in practice).
            return sum(count_group([c for c in kids if c.condition.holds(value)]) for value in _subset_values(d))
        values = range(d.size) if d.kind == "choice" else range(int(d.low), int(d.high) + 1)
        return sum(count_group([c for c in kids if c.condition.holds(v)]) for v in values)

    return count_group(roots)


def _subset_values(d: Decision):
    n = range(len(d.choices))
    if d.distinct:
        gen = itertools.combinations(n, d.k) if d.sorted else itertools.permutations(n, d.k)
    else:
        gen = itertools.combinations_with_replacement(n, d.k) if d.sorted else itertools.product(n, repeat=d.k)
    return gen


# ---------------------------------------------------------------------------------------------
# pyglove DNA at the API boundary. The DNASpec is flat (one decision point per table row, in
# table order): inactive decisions get a placeholder value in the DNA and are ignored on the way
# back. Integers become pyglove choices over their values when the range is small, else floats
# rounded on the way back.

_INT_AS_CHOICES = 64


def dna_spec(decisions: Sequence[Decision]) -> pg.DNASpec:
    """A flat pyglove DNASpec for the table (decision point names are the decision names)."""
    points = []
    for d in decisions:
        if d.kind == "choice":
            points.append(pg.geno.Choices(1, [pg.geno.Space() for _ in d.choices], literal_values=list(d.choices), name=d.name, location=d.name))
        elif d.kind == "subset":
            points.append(pg.geno.Choices(d.k, [pg.geno.Space() for _ in d.choices], literal_values=list(d.choices),
                                          distinct=d.distinct, sorted=d.sorted, name=d.name, location=d.name))
        elif d.kind == "int" and d.size <= _INT_AS_CHOICES:
            values = list(range(int(d.low), int(d.high) + 1))
            points.append(pg.geno.Choices(1, [pg.geno.Space() for _ in values], literal_values=values, name=d.name, location=d.name))
        else:
            points.append(pg.geno.Float(float(d.low), float(d.high), scale="log" if d.log else None, name=d.name, location=d.name))
    return pg.geno.Space(points)


def to_dna(decisions: Sequence[Decision], assignment: Mapping[str, Any], spec: Optional[pg.DNASpec] = None) -> pg.DNA:
    """The DNA (under `dna_spec(decisions)`) of an assignment; inactive decisions get defaults."""
    values = []
    for d in decisions:
        v = assignment.get(d.name)
        if d.kind == "choice":
            values.append(0 if v is None else int(v))
        elif d.kind == "subset":
            values.append(list(v) if v is not None else list(range(d.k)) if d.distinct else [0] * d.k)
        elif d.kind == "int" and d.size <= _INT_AS_CHOICES:
            values.append(0 if v is None else int(v) - int(d.low))
        else:
            values.append(float(d.low if v is None else v))
    dna = pg.DNA(values)
    dna.use_spec(spec if spec is not None else dna_spec(decisions))
    return dna


def from_dna(decisions: Sequence[Decision], dna: pg.DNA) -> Dict[str, Any]:
    """The assignment of the active decisions encoded in a DNA from `dna_spec(decisions)`."""
    children = [dna] if len(decisions) == 1 else list(dna.children)
    if len(children) != len(decisions):
        raise ValueError(f"DNA has {len(children)} values for {len(decisions)} decisions")
    raw: Dict[str, Any] = {}
    for d, c in zip(decisions, children):
        if d.kind == "subset":
            v = tuple(int(x.value) for x in c.children) if c.children else (int(c.value),)
        elif d.kind == "choice":
            v = int(c.value)
        elif d.kind == "int":
            v = int(c.value) + int(d.low) if d.size <= _INT_AS_CHOICES else int(round(c.value))
        else:
            v = float(c.value)
        raw[d.name] = v
    return {n: raw[n] for n in active_names(decisions, raw)}
