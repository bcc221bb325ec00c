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

from .tree import (ChoiceN, CompN, Const, DictN, FloatN, IntN, ListN, OptionalN, ProgramN, RepeatN,
                   SNode, SubsetN)


def to_pyglove(root: ProgramN) -> Any:
    """A symbolic `Program` whose decisions are pyglove hyper values."""
    names: set = set()
    fields = {k: _hv(n, names) for k, n in root.fields.items()}
    params = {k: _hv(n, names) for k, n in root.params.items()}
    return root.program_cls(params=params, imports=list(root.imports), **fields)


def _once(name: str, names: set):
    if name in names:
        return None
    names.add(name)
    return name


def _hv(n: SNode, names: set) -> Any:
    if isinstance(n, Const):
        return n.materialize({})
    if isinstance(n, ListN):
        # pyglove cannot splice a choice of lists into a list: a list holding a variable repeat
        # becomes a oneof over whole lists, one per depth.
        for i, item in enumerate(n.items):
            if isinstance(item, RepeatN) and not isinstance(item.count, Const):
                head, tail = n.items[:i], n.items[i + 1:]
                options = []
                for k in _counts(item.count):
                    alt = ListN(list(head) + list(item.copies[:k]) + list(tail), n.loc)
                    options.append(_hv(alt, names))
                return pg.oneof(options, name=_once(item.count.name, names))
        out = []
        for item in n.items:
            if isinstance(item, RepeatN):
                out.extend(_hv(c, names) for c in item.copies[: item.count.value])
            else:
                out.append(_hv(item, names))
        return out
    if isinstance(n, DictN):
        return {k: _hv(v, names) for k, v in n.items.items()}
    if isinstance(n, CompN):
        kwargs = {k: _hv(v, names) for k, v in n.fields.items()}
        for k in n.float_fields:
            if isinstance(kwargs[k], int) and not isinstance(kwargs[k], bool):
                kwargs[k] = float(kwargs[k])
        return n.cls(**kwargs)
    if isinstance(n, ChoiceN):
        return pg.oneof([_hv(c, names) for c in n.candidates], name=_once(n.name, names))
    if isinstance(n, SubsetN):
        return pg.manyof(n.k, [_hv(c, names) for c in n.candidates], distinct=n.distinct, sorted=n.sorted, name=_once(n.name, names))
    if isinstance(n, FloatN):
        return pg.floatv(n.low, n.high, scale="log" if n.log else None, name=_once(n.name, names))
    if isinstance(n, IntN):
        return pg.oneof(list(range(n.low, n.high + 1)), name=_once(n.name, names))
    if isinstance(n, OptionalN):
        return pg.oneof([None, _hv(n.item, names)], name=_once(n.name, names))
    if isinstance(n, RepeatN):
        if isinstance(n.count, Const):
            return [_hv(c, names) for c in n.copies[: n.count.value]]
        counts = _counts(n.count)
        return pg.oneof([[_hv(c, names) for c in n.copies[:k]] for k in counts], name=_once(n.count.name, names))
    raise TypeError(f"cannot express {type(n).__name__} in pyglove")


def _counts(count: SNode) -> list:
    if isinstance(count, IntN):
        return list(range(count.low, count.high + 1))
    return [c.value for c in count.candidates]
