"""The space as pyglove hyper values (`pg.oneof`, `pg.manyof`, `pg.floatv`), for pyglove's own tools.

This is the conventional pyglove encoding, with its costs: an `intv` becomes a `oneof` over its
range, a `repeat` whose count is a decision becomes a `oneof` over lists of each length (every
copy duplicated per depth), and a `let` decision used in several places becomes one decision
point per place (pyglove rejects one hyper value placed twice, and two points of one name). Each
point is named after its decision, the later places of one decision `NAME~2`, `NAME~3`, ... (and a
first place `NAME~1` where its name would be another point's pyglove id)
(`hypsearch.decisions.dna.base_name`), so the DNA codec reads this spec's DNA as it reads the flat
`Space.dna_spec()`'s, and the hypsearch algorithms drive pyglove's `pg.iter`/`pg.sample` over
either. hypsearch's own decision table avoids the duplication; this exists so that a space can
be handed to pyglove code unchanged (`pg.random_dna`, `pg.materialize`, `pg.sample` with
pyglove's algorithms) and compared against.
"""

from __future__ import annotations

from typing import Any

import pyglove as pg

from hypsearch.decisions.dna import ALIAS

from .errors import HypError
from .tree import Const, ListN, OptionalN, ProgramN, RepeatN, TreeVisitor


def to_pyglove(root: ProgramN) -> Any:
    """A symbolic `Program` whose decisions are pyglove hyper values."""
    program = _program(root, frozenset())
    # pyglove ids a decision point by where it sits in the program, and refuses a point whose name
    # is another point's id. Decisions are named after their place in the source, which a constant
    # repeat before them shifts in the program (`sequential(repeat(2, relu()), oneof(...),
    # oneof(...))`: the first choice, named layers[1], sits at layers[2], the second one's name).
    # Such a point is named `NAME~1` instead, a place name the DNA codec reads as NAME.
    at = {str(path): v.name for path, v in pg.query(program, where=lambda v: isinstance(v, pg.hyper.HyperPrimitive),
                                                     enter_selected=False).items()}
    shadowed = frozenset(name for name in at.values() if name in at and at[name] != name)
    return _program(root, shadowed) if shadowed else program


def _program(root: ProgramN, aliased: frozenset) -> Any:
    hv = _HyperValues(aliased)
    fields = {k: hv.visit(n) for k, n in root.fields.items()}
    params = {k: hv.visit(n) for k, n in root.params.items()}
    clash = sorted(set(hv.places) & hv.aliases)
    if clash:
        raise HypError(f"the decision name `{clash[0]}` is also the name pyglove's encoding gives a later "
                       "place of another decision; rename it to hand this space to pyglove")
    return root.program_cls(params=params, imports=list(root.imports), **fields)


class _HyperValues(TreeVisitor):
    """A node as a pyglove value; the k-th hyper value of one decision is named `NAME~k` (the first
    one too, `NAME~1`, for a name in `aliased`)."""

    def __init__(self, aliased: frozenset = frozenset()):
        self.places: dict = {}
        self.aliases: set = set()
        self.aliased = aliased

    def point_name(self, name: str) -> str:
        k = self.places[name] = self.places.get(name, 0) + 1
        if k == 1 and name not in self.aliased:
            return name
        self.aliases.add(f"{name}{ALIAS}{k}")
        return f"{name}{ALIAS}{k}"

    def visit_const(self, n):
        return n.materialize({})

    def visit_list(self, n):
        # pyglove cannot splice a choice of lists into a list: a list holding a variable repeat
        # becomes a oneof over whole lists, one per depth, and one holding an optional item a
        # oneof of the list without it and with it (the later items are placed once per list).
        for i, item in enumerate(n.items):
            head, tail = list(n.items[:i]), list(n.items[i + 1:])
            if type(item) is RepeatN and type(item.count) is not Const:
                options = [self.visit(ListN(head + list(item.copies[:k]) + tail, n.loc)) for k in item.lengths.values()]
                return pg.oneof(options, name=self.point_name(item.count.name))
            if type(item) is OptionalN:
                options = [self.visit(ListN(head + tail, n.loc)), self.visit(ListN(head + [item.item] + tail, n.loc))]
                return pg.oneof(options, name=self.point_name(item.name))
        out = []
        for item in n.items:
            if type(item) is RepeatN:
                out.extend(self.visit(c) for c in item.copies[: item.count.value])
            else:
                out.append(self.visit(item))
        return out

    def visit_dict(self, n):
        return {k: self.visit(v) for k, v in n.items.items()}

    def visit_component(self, n):
        kwargs = {k: self.visit(v) for k, v in n.fields.items()}
        for k in n.float_fields:
            if isinstance(kwargs[k], int) and not isinstance(kwargs[k], bool):
                kwargs[k] = float(kwargs[k])
        return n.cls(**kwargs)

    def visit_choice(self, n):
        return pg.oneof([self.visit(c) for c in n.candidates], name=self.point_name(n.name))

    def visit_subset(self, n):
        return pg.manyof(n.k, [self.visit(c) for c in n.candidates], distinct=n.distinct, sorted=n.sorted, name=self.point_name(n.name))

    def visit_float(self, n):
        return pg.floatv(n.low, n.high, scale="log" if n.log else None, name=self.point_name(n.name))

    def visit_int(self, n):
        return pg.oneof(list(range(n.low, n.high + 1)), name=self.point_name(n.name))

    def visit_optional(self, n):
        return pg.oneof([None, self.visit(n.item)], name=self.point_name(n.name))

    def visit_repeat(self, n):
        if type(n.count) is Const:
            return [self.visit(c) for c in n.copies[: n.count.value]]
        return pg.oneof([[self.visit(c) for c in n.copies[:k]] for k in n.lengths.values()], name=self.point_name(n.count.name))
