"""The pyglove DNA codec of a decision table, used wherever pyglove is the interface.

It reads and writes DNA of two DNASpecs. The flat one (`dna_spec`) has one decision point per
decision, named after it, in table order: categorical and subset decisions are `Choices`; integers
are `Choices` over their values when the range is small (pyglove has no integer primitive), else a
`Float` rounded on the way back; floats are `Float`. Inactive decisions get a placeholder (first
candidate or lower bound) in the DNA and are ignored on the way back, so every DNA of the spec
decodes to a valid assignment. The other is the hierarchical spec pyglove derives from
`Space.to_pyglove()`: conditional decisions sit under the candidate that activates them, every
integer is a `Choices` over its values, and a decision placed several times (a `let` used twice, a
copy of a `repeat` under each depth) has one point per place, the later ones named `NAME~2`,
`NAME~3`, ... . Both specs name their points after the decisions, which is all the codec needs,
so every hypsearch tool that takes DNA takes either; where the places of one decision disagree
(only pyglove's own operators can make such DNA) the first active place decides.
"""

from __future__ import annotations

from typing import Any, Collection, Dict, Mapping, Optional, Sequence

import pyglove as pg

from .model import Decision, Kind
from .table import active_names, is_active

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


ALIAS = "~"  # NAME~k: the k-th place of decision NAME in the hierarchical spec


def base_name(point_name: Any, names: Collection[str]) -> Optional[str]:
    """The decision among `names` that a decision point stands for: its own name, or the name
    before a `~k` place suffix; None when neither is a decision."""
    point_name = str(point_name)
    if point_name in names:
        return point_name
    head, sep, k = point_name.rpartition(ALIAS)
    return head if sep and k.isdigit() and head in names else None


def _points(spec: pg.DNASpec) -> list:
    return list(spec.elements) if hasattr(spec, "elements") else [spec]


def _all_points(spec: pg.DNASpec) -> list:
    """Every decision point of the spec, nested ones included."""
    out = []
    for point in _points(spec):
        out.append(point)
        for candidate in getattr(point, "candidates", None) or ():
            out.extend(_all_points(candidate))
    return out


def check_spec(decisions: Sequence[Decision], spec: pg.DNASpec) -> None:
    """ValueError unless every decision point of `spec` is named after a decision of the table
    and every decision has a point (the flat spec or the one of `Space.to_pyglove()`)."""
    names = [str(p.name) for p in _all_points(spec)]
    table = {d.name for d in decisions}
    if {base_name(n, table) for n in names} != table:
        raise ValueError("the DNASpec must have one decision point per decision, named after it; "
                         f"got points {names} for decisions {[d.name for d in decisions]}")


def _index(d: Decision, v: Any, point: Any) -> Any:
    """The DNA value of decision `d` at `point` for encoded value `v` (None: a placeholder)."""
    if isinstance(point, pg.geno.Float):
        return float(d.low if v is None else v)
    if d.kind is Kind.SUBSET:
        return list(v) if v is not None else list(range(d.k)) if d.distinct else [0] * d.k
    if d.kind is Kind.INT:
        return 0 if v is None else int(v) - int(d.low)
    return 0 if v is None else int(v)


def _encode(spec: pg.DNASpec, by_name: Mapping[str, Decision], assignment: Mapping[str, Any],
            out: Dict[str, Any]) -> None:
    for point in _points(spec):
        d = by_name[base_name(point.name, by_name)]
        value = _index(d, assignment.get(d.name), point)
        chosen = value if isinstance(value, list) else [value]
        if isinstance(point, pg.geno.Choices) and point.num_choices > 1:
            for i, c in enumerate(chosen):
                out[point.subchoice(i).id] = c
        else:
            out[point.id] = value
        if isinstance(point, pg.geno.Choices):
            # Only the chosen candidates' subspaces are in the DNA (the hierarchical spec).
            for c in chosen:
                if point.candidates[c].elements:
                    _encode(point.candidates[c], by_name, assignment, out)


def to_dna(decisions: Sequence[Decision], assignment: Mapping[str, Any], spec: Optional[pg.DNASpec] = None) -> pg.DNA:
    """The DNA of an assignment under `spec` (default `dna_spec(decisions)`; points matched by name)."""
    spec = spec if spec is not None else dna_spec(decisions)
    by_name = {d.name: d for d in decisions}
    values: Dict[str, Any] = {}
    _encode(spec, by_name, assignment, values)
    dna = pg.DNA.from_dict(values, spec)
    dna.use_spec(spec)
    return dna


def from_dna(decisions: Sequence[Decision], dna: pg.DNA, spec: Optional[pg.DNASpec] = None) -> Dict[str, Any]:
    """The assignment of the active decisions encoded in a DNA (points matched by name)."""
    spec = spec if spec is not None else (dna.spec if getattr(dna, "spec", None) is not None else dna_spec(decisions))
    if getattr(dna, "spec", None) is not spec:
        dna = dna.clone(deep=True)
        try:
            dna.use_spec(spec)
        except ValueError as e:
            raise ValueError(f"the DNA does not fit its DNASpec: {e}") from None
    by_name = {d.name: d for d in decisions}
    # Values by point name in DNA order (a subset's slots are several entries of one name).
    places: Dict[str, list] = {}
    for point, value in dna.to_dict(key_type="dna_spec", value_type="value").items():
        places.setdefault(str(point.name), []).append((point, value))
    raw: Dict[str, Any] = {}
    for point_name, entries in places.items():
        name = base_name(point_name, by_name)
        d = by_name.get(name)
        if d is None:
            raise ValueError(f"DNA point `{point_name}` is not a decision of this table")
        if name in raw:
            continue  # a later place of a decision already read
        point, value = entries[0]
        if d.kind is Kind.SUBSET:
            raw[name] = tuple(int(v) for _, v in entries)
        elif d.kind is Kind.FLOAT:
            raw[name] = float(value)
        elif isinstance(point, pg.geno.Float):
            raw[name] = int(round(value))
        elif d.kind is Kind.INT:
            raw[name] = int(value) + int(d.low)
        else:
            raw[name] = int(value)
    # A decision can be active in the table yet have no place in a tree DNA: a `let` used only
    # under candidates that were not chosen. It changes nothing in the program; it takes the
    # placeholder the flat spec gives inactive decisions.
    for d in decisions:
        if d.name not in raw and is_active(d, raw):
            raw[d.name] = _placeholder(d)
    return {n: raw[n] for n in active_names(decisions, raw)}


def _placeholder(d: Decision) -> Any:
    if d.kind is Kind.SUBSET:
        return tuple(range(d.k)) if d.distinct else (0,) * d.k
    if d.kind is Kind.FLOAT:
        return float(d.low)
    return int(d.low) if d.kind is Kind.INT else 0
