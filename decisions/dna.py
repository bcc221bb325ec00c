"""The pyglove DNA codec of a decision table, used wherever pyglove is the interface.

The DNASpec is flat: one decision point per decision, named after it, in table order. Categorical
and subset decisions are `Choices`; integers are `Choices` over their values when the range is
small (pyglove has no integer primitive), else a `Float` rounded on the way back; floats are
`Float`. Inactive decisions get a placeholder (first candidate or lower bound) in the DNA and are
ignored on the way back, so every DNA of the spec decodes to a valid assignment.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

import pyglove as pg

from .model import Decision, Kind
from .table import active_names

INT_AS_CHOICES = 64  # integer ranges up to this many values become pyglove choices


def _int_as_choices(d: Decision) -> bool:
    return d.kind is Kind.INT and d.size <= INT_AS_CHOICES


def dna_spec(decisions: Sequence[Decision]) -> pg.DNASpec:
    """A flat pyglove DNASpec for the table (decision point names are the decision names)."""
    points = []
    for d in decisions:
        if d.kind in (Kind.CHOICE, Kind.SUBSET):
            extra = {"distinct": d.distinct, "sorted": d.sorted} if d.kind is Kind.SUBSET else {}
            points.append(pg.geno.Choices(d.k if d.kind is Kind.SUBSET else 1, [pg.geno.Space() for _ in d.choices],
                                          literal_values=list(d.choices), name=d.name, location=d.name, **extra))
        elif _int_as_choices(d):
            values = list(d.values())
            points.append(pg.geno.Choices(1, [pg.geno.Space() for _ in values], literal_values=values,
                                          name=d.name, location=d.name))
        else:
            points.append(pg.geno.Float(float(d.low), float(d.high), scale="log" if d.log else None,
                                        name=d.name, location=d.name))
    return pg.geno.Space(points)


def _points(spec: pg.DNASpec) -> list:
    return list(spec.elements) if hasattr(spec, "elements") else [spec]


def check_spec(decisions: Sequence[Decision], spec: pg.DNASpec) -> None:
    """ValueError unless `spec` has one decision point per decision, named after it."""
    names = [str(p.name) for p in _points(spec)]
    if sorted(names) != sorted(d.name for d in decisions):
        raise ValueError("the DNASpec must have one decision point per decision, named after it; "
                         f"got points {names} for decisions {[d.name for d in decisions]}")


def to_dna(decisions: Sequence[Decision], assignment: Mapping[str, Any], spec: Optional[pg.DNASpec] = None) -> pg.DNA:
    """The DNA of an assignment under `spec` (default `dna_spec(decisions)`; points matched by name)."""
    spec = spec if spec is not None else dna_spec(decisions)
    by_name = {d.name: d for d in decisions}
    values = []
    for point in _points(spec):
        d = by_name[str(point.name)]
        v = assignment.get(d.name)
        if d.kind is Kind.SUBSET:
            chosen = list(v) if v is not None else list(range(d.k)) if d.distinct else [0] * d.k
            values.append(pg.DNA(None, [pg.DNA(int(x)) for x in chosen]))
        elif isinstance(point, pg.geno.Float):
            values.append(pg.DNA(float(d.low if v is None else v)))
        elif d.kind is Kind.INT:
            values.append(pg.DNA(0 if v is None else int(v) - int(d.low)))
        else:
            values.append(pg.DNA(0 if v is None else int(v)))
    dna = pg.DNA(None, values)
    dna.use_spec(spec)
    return dna


def from_dna(decisions: Sequence[Decision], dna: pg.DNA, spec: Optional[pg.DNASpec] = None) -> Dict[str, Any]:
    """The assignment of the active decisions encoded in a DNA (points matched by name)."""
    spec = spec if spec is not None else (dna.spec if getattr(dna, "spec", None) is not None else dna_spec(decisions))
    points = _points(spec)
    # pyglove folds a one-point DNA into its only child.
    children = [dna] if len(points) == 1 else list(dna.children)
    if len(children) != len(points) or len(points) != len(decisions):
        raise ValueError(f"DNA has {len(children)} values for {len(decisions)} decisions")
    by_name = {d.name: d for d in decisions}
    raw: Dict[str, Any] = {}
    for point, child in zip(points, children):
        d = by_name[str(point.name)]
        if d.kind is Kind.SUBSET:
            raw[d.name] = tuple(int(c.value) for c in child.children) if child.children else (int(child.value),)
        elif d.kind is Kind.FLOAT:
            raw[d.name] = float(child.value)
        elif isinstance(point, pg.geno.Float):
            raw[d.name] = int(round(child.value))
        elif d.kind is Kind.INT:
            raw[d.name] = int(child.value) + int(d.low)
        else:
            raw[d.name] = int(child.value)
    return {n: raw[n] for n in active_names(decisions, raw)}
