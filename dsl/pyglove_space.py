"""The space as pyglove hyper values (`pg.oneof`, `pg.manyof`, `pg.floatv`), for pyglove's own tools.

This is the conventional pyglove encoding, with its costs: an `intv` becomes a `oneof` over its
range, a `repeat` whose count is a decision becomes a `oneof` over lists of each length (every
copy duplicated per depth), and a `let` decision used in several places becomes one independent
decision per place (pyglove rejects one hyper value placed twice; only the first keeps the name). hypsearch's own decision table avoids both; this exists so that a
space can be handed to pyglove code unchanged (`pg.random_dna`, `pg.materialize`, `pg.sample`
with pyglove's algorithms) and compared against.
"""

from __future__ import annotations

from typing import Any

import pyglove as pg

from .tree import Const, ListN, ProgramN, RepeatN, TreeVisitor


def to_pyglove(root: ProgramN) -> Any:
    """A symbolic `Program` whose decisions are pyglove hyper values."""
    hv = _HyperValues()
    fields = {k: hv.visit(n) for k, n in root.fields.items()}
    params = {k: hv.visit(n) for k, n in root.params.items()}
    return root.program_cls(params=params, imports=list(root.imports), **fields)


class _HyperValues(TreeVisitor):
    """A node as a pyglove value; each decision name goes to its first hyper value only."""

    def __init__(self):
        self.names: set = set()

    def once(self, name: str):
        if name in self.names:
            return None
        self.names.add(name)
        return name

    def visit_const(self, n):
        return n.materialize({})

    def visit_list(self, n):
        # pyglove cannot splice a choice of lists into a list: a list holding a variable repeat
        # becomes a oneof over whole lists, one per depth.
        for i, item in enumerate(n.items):
            if type(item) is RepeatN and type(item.count) is not Const:
                head, tail = n.items[:i], n.items[i + 1:]
                options = []
                for k in item.lengths.values():
                    alt = ListN(list(head) + list(item.copies[:k]) + list(tail), n.loc)
                    options.append(self.visit(alt))
                return pg.oneof(options, name=self.once(item.count.name))
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
        return pg.oneof([self.visit(c) for c in n.candidates], name=self.once(n.name))

    def visit_subset(self, n):
        return pg.manyof(n.k, [self.visit(c) for c in n.candidates], distinct=n.distinct, sorted=n.sorted, name=self.once(n.name))

    def visit_float(self, n):
        return pg.floatv(n.low, n.high, scale="log" if n.log else None, name=self.once(n.name))

    def visit_int(self, n):
        return pg.oneof(list(range(n.low, n.high + 1)), name=self.once(n.name))

    def visit_optional(self, n):
        return pg.oneof([None, self.visit(n.item)], name=self.once(n.name))

    def visit_repeat(self, n):
        if type(n.count) is Const:
            return [self.visit(c) for c in n.copies[: n.count.value]]
        return pg.oneof([[self.visit(c) for c in n.copies[:k]] for k in n.lengths.values()], name=self.once(n.count.name))
