"""One decision point and its activation condition: the unit every other layer is built on.

A decision's *encoded value* depends on its kind:
  - `choice`: the index of the chosen candidate (int);
  - `int`:    an int in [low, high] (bounds inclusive);
  - `float`:  a float in [low, high];
  - `subset`: a tuple of k candidate indices (`manyof`; increasing when `sorted`, without repeats
              when `distinct`).
The language produces these from its tree (`hypsearch.dsl`), the algorithms read them
(`hypsearch.search`); neither redefines them.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, FrozenSet, Iterator, Optional, Tuple


class Kind(str, Enum):
    """The kinds of decision; a `str` enum, so `decision.kind == "choice"` reads naturally."""

    CHOICE = "choice"
    INT = "int"
    FLOAT = "float"
    SUBSET = "subset"

    def __str__(self) -> str:
        return self.value

    # Hash as the plain string it equals, so either works as a dict key.
    def __hash__(self) -> int:
        return hash(self.value)


@dataclass(frozen=True)
class Condition:
    """Active when the parent decision is active and its value is in `values` (for a subset
    parent: when any chosen index is in `values`)."""

    parent: str
    values: FrozenSet[Any]

    def holds(self, parent_value: Any) -> bool:
        """Whether a value of the parent switches the child on."""
        if isinstance(parent_value, tuple):
            return any(v in self.values for v in parent_value)
        return parent_value in self.values


@dataclass(frozen=True)
class Decision:
    """One decision point: name, kind, domain and activation condition."""

    name: str
    kind: Kind
    choices: Tuple[str, ...] = ()  # printed `.hyp` text of each candidate (choice, subset)
    low: Optional[float] = None  # int, float
    high: Optional[float] = None
    log: bool = False
    k: int = 0  # subset size
    distinct: bool = True
    sorted: bool = False
    condition: Optional[Condition] = None
    # Plain values of the candidates when all are literals (`oneof(32, 64)`), for readable choices.
    literals: Optional[Tuple[Any, ...]] = field(default=None, compare=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", Kind(self.kind))
        except ValueError:
            raise ValueError(f"decision `{self.name}` has unknown kind {self.kind!r}; "
                             f"allowed: {', '.join(k.value for k in Kind)}") from None

    @property
    def size(self) -> Optional[int]:
        """Number of distinct values, None for floats."""
        if self.kind is Kind.CHOICE:
            return len(self.choices)
        if self.kind is Kind.INT:
            return int(self.high) - int(self.low) + 1
        if self.kind is Kind.SUBSET:
            n, k = len(self.choices), self.k
            if self.distinct:
                return math.comb(n, k) if self.sorted else math.perm(n, k)
            return math.comb(n + k - 1, k) if self.sorted else n ** k
        return None

    def values(self) -> Iterator[Any]:
        """Every encoded value of a discrete decision, in order (ValueError for floats)."""
        if self.kind is Kind.CHOICE:
            return iter(range(len(self.choices)))
        if self.kind is Kind.INT:
            return iter(range(int(self.low), int(self.high) + 1))
        if self.kind is Kind.SUBSET:
            n = range(len(self.choices))
            if self.distinct:
                return itertools.combinations(n, self.k) if self.sorted else itertools.permutations(n, self.k)
            return itertools.combinations_with_replacement(n, self.k) if self.sorted else itertools.product(n, repeat=self.k)
        raise ValueError(f"decision `{self.name}` is continuous")

    def validate(self, value: Any) -> Any:
        """`value` as this decision's encoded value, or ValueError saying what is allowed."""
        if self.kind is Kind.CHOICE:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(self.choices):
                raise ValueError(f"decision `{self.name}` takes a choice index in [0, {len(self.choices) - 1}], got {value!r}")
            return int(value)
        if self.kind is Kind.INT:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or not self.low <= value <= self.high:
                raise ValueError(f"decision `{self.name}` takes an int in [{int(self.low)}, {int(self.high)}], got {value!r}")
            return int(value)
        if self.kind is Kind.FLOAT:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not self.low <= value <= self.high:
                raise ValueError(f"decision `{self.name}` takes a float in [{self.low}, {self.high}], got {value!r}")
            return float(value)
        value = tuple(value)
        n = len(self.choices)
        if len(value) != self.k or any(isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < n for v in value):
            raise ValueError(f"decision `{self.name}` takes {self.k} choice indices in [0, {n - 1}], got {value!r}")
        if self.distinct and len(set(value)) != len(value):
            raise ValueError(f"decision `{self.name}` takes distinct choices, got {value!r}")
        if self.sorted and list(value) != sorted(value):
            raise ValueError(f"decision `{self.name}` takes its choices in increasing order, got {value!r}")
        return value

    def describe(self) -> str:
        """The domain in words, for listings."""
        if self.kind is Kind.CHOICE:
            return "oneof(" + ", ".join(self.choices) + ")"
        if self.kind is Kind.SUBSET:
            return f"manyof({self.k}, " + ", ".join(self.choices) + ")"
        lo, hi = (int(self.low), int(self.high)) if self.kind is Kind.INT else (self.low, self.high)
        return f"{'intv' if self.kind is Kind.INT else 'floatv'}({lo}, {hi}{', log' if self.log else ''})"
