"""The space tree: a `.hyp` program with its decisions still open.

The semantics (dsl/semantics.py) turns syntax into these nodes; `materialize(assignment)` turns
them into a concrete pyglove `Program` given values for the active decisions. This walk is the hot
path of every search step, so it builds the concrete objects directly instead of going through
pyglove's per-node genome objects (`pg.random_dna` + `pg.materialize` cost 25 ms + 50-70 ms on a
40-decision space; building the concrete objects alone costs a few ms).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import pyglove as pg

from hypsearch.decisions import Condition, Decision

from .errors import Location

ABSENT = object()  # what an absent `optional(x)` yields: dropped from lists, `none` elsewhere


class SNode:
    """A node of the space tree."""

    __slots__ = ("loc",)

    def __init__(self, loc: Optional[Location]):
        self.loc = loc

    def materialize(self, a: Mapping[str, Any]) -> Any:
        raise TypeError(f"{type(self).__name__} cannot be materialized")

    def children(self) -> Sequence["SNode"]:
        return ()


class Const(SNode):
    """A literal value (or a list of literals)."""

    __slots__ = ("value",)

    def __init__(self, value: Any, loc: Optional[Location] = None):
        super().__init__(loc)
        self.value = value

    def materialize(self, a):
        v = self.value
        return list(v) if isinstance(v, list) else v


class ListN(SNode):
    """A list whose `repeat(...)` items splice their copies in and whose absent `optional`s drop out."""

    __slots__ = ("items",)

    def __init__(self, items: List[SNode], loc: Optional[Location] = None):
        super().__init__(loc)
        self.items = items

    def materialize(self, a):
        out = []
        for item in self.items:
            if type(item) is RepeatN:
                out.extend(item.materialize(a))
            else:
                v = item.materialize(a)
                if v is not ABSENT:
                    out.append(v)
        return out

    def children(self):
        return self.items


class DictN(SNode):
    """A mapping of names to nodes (the options of `search(...)`)."""

    __slots__ = ("items",)

    def __init__(self, items: Dict[str, SNode], loc: Optional[Location] = None):
        super().__init__(loc)
        self.items = items

    def materialize(self, a):
        return {k: _present(v.materialize(a)) for k, v in self.items.items()}

    def children(self):
        return list(self.items.values())


class CompN(SNode):
    """A component call with its (possibly undecided) arguments."""

    __slots__ = ("cls", "fields", "float_fields", "call_name", "defaults")

    def __init__(self, cls: type, fields: Dict[str, SNode], loc: Optional[Location], float_fields: frozenset = frozenset(), call_name: str = ""):
        super().__init__(loc)
        self.cls = cls
        self.fields = fields
        self.float_fields = float_fields
        self.call_name = call_name or cls.__hyp_name__
        self.defaults = defaults_of(cls, fields)

    def materialize(self, a):
        kwargs = {}
        for k, node in self.fields.items():
            v = node.materialize(a)
            if v is ABSENT:
                v = None
            elif k in self.float_fields:
                v = _to_float(v)
            kwargs[k] = v
        for k, v, fresh in self.defaults:
            kwargs[k] = _fresh(v) if fresh else v
        obj = self.cls(**kwargs)
        obj._hyp_location = self.loc
        return obj

    def children(self):
        return list(self.fields.values())


class ProgramN(SNode):
    """The whole file: reserved fields, user parameters, imports."""

    __slots__ = ("program_cls", "fields", "params", "imports", "source")

    def __init__(self, program_cls: type, fields: Dict[str, SNode], params: Dict[str, SNode], imports: List[str], source: Optional[str]):
        super().__init__(None)
        self.program_cls = program_cls
        self.fields = fields
        self.params = params
        self.imports = imports
        self.source = source

    def materialize(self, a):
        kwargs = {k: _present(n.materialize(a)) for k, n in self.fields.items()}
        for k, v, fresh in defaults_of(self.program_cls, {**kwargs, "params": None, "imports": None}):
            kwargs[k] = _fresh(v) if fresh else v
        return self.program_cls(params={k: _present(n.materialize(a)) for k, n in self.params.items()},
                                imports=list(self.imports), **kwargs)

    def children(self):
        return list(self.fields.values()) + list(self.params.values())


class DecisionN(SNode):
    """A decision point. `name` is final once the semantics has resolved duplicates."""

    __slots__ = ("name", "user_name", "instance", "condition", "decision")

    def __init__(self, loc, name: str, user_name: Optional[str], instance: Optional[str], condition: Optional[Condition]):
        super().__init__(loc)
        self.name = name
        self.user_name = user_name
        self.instance = instance
        self.condition = condition
        self.decision: Optional[Decision] = None


class ChoiceN(DecisionN):
    """`oneof(a, b, ...)`: the value of the chosen candidate."""

    __slots__ = ("candidates",)

    def __init__(self, loc, name, user_name, instance, condition, candidates: List[SNode]):
        super().__init__(loc, name, user_name, instance, condition)
        self.candidates = candidates

    def materialize(self, a):
        return self.candidates[a[self.name]].materialize(a)

    def children(self):
        return self.candidates


class SubsetN(DecisionN):
    """`manyof(k, a, b, ...)`: the list of the chosen candidates' values."""

    __slots__ = ("k", "candidates", "distinct", "sorted")

    def __init__(self, loc, name, user_name, instance, condition, k: int, candidates: List[SNode], distinct: bool, sorted_: bool):
        super().__init__(loc, name, user_name, instance, condition)
        self.k = k
        self.candidates = candidates
        self.distinct = distinct
        self.sorted = sorted_

    def materialize(self, a):
        return [self.candidates[i].materialize(a) for i in a[self.name]]

    def children(self):
        return self.candidates


class IntN(DecisionN):
    """`intv(lo, hi)`: an ordered integer decision (bounds inclusive)."""

    __slots__ = ("low", "high", "log")

    def __init__(self, loc, name, user_name, instance, condition, low: int, high: int, log: bool):
        super().__init__(loc, name, user_name, instance, condition)
        self.low, self.high, self.log = low, high, log

    def materialize(self, a):
        return a[self.name]


class FloatN(IntN):
    """`floatv(lo, hi)`: a real-valued decision."""

    __slots__ = ()


class OptionalN(DecisionN):
    """`optional(x)`: x or nothing (an absent item drops out of a list)."""

    __slots__ = ("item",)

    def __init__(self, loc, name, user_name, instance, condition, item: SNode):
        super().__init__(loc, name, user_name, instance, condition)
        self.item = item

    def materialize(self, a):
        return self.item.materialize(a) if a[self.name] else ABSENT

    def children(self):
        return [self.item]


class RepeatN(SNode):
    """`repeat(n, x)`: the first n of the copies of x (each copy with its own decisions)."""

    __slots__ = ("count", "copies", "template")

    def __init__(self, loc, count: SNode, copies: List[SNode], template: Any):
        super().__init__(loc)
        self.count = count
        self.copies = copies
        self.template = template  # the syntax of x, for printing the space back

    def materialize(self, a):
        n = self.count.materialize(a)
        return [_present(c.materialize(a)) for c in self.copies[:n]]

    def children(self):
        return [self.count] + self.copies


def materialize_unchecked(root: "ProgramN", a: Mapping[str, Any]) -> Any:
    """`root.materialize(a)` without pyglove's run-time type checks.

    The semantics has already checked every value each argument can take against its field
    (dsl/semantics.py, `check_type`), so checking again for every program only costs time: about
    half of materializing one (measured 1.8x faster without). Without the checks pyglove fills no
    defaults, so every component passes all its fields (`defaults_of`).
    """
    with pg.symbolic.enable_type_check(False):
        return root.materialize(a)


def defaults_of(cls: type, given: Mapping[str, Any]) -> Tuple[Tuple[str, Any, bool], ...]:
    """(field, default, needs a fresh copy per program) for each field of `cls` not in `given`."""
    out = []
    for name, field in cls.__schema__.fields.items():
        name = str(name)
        if name in given:
            continue
        default = field.value.default
        if default == pg.MISSING_VALUE:
            continue  # required and absent: construction reports it
        out.append((name, default, isinstance(default, (list, dict, pg.Symbolic))))
    return tuple(out)


def _fresh(v: Any) -> Any:
    if isinstance(v, pg.Symbolic):
        return v.clone(deep=True)
    if isinstance(v, list):
        return [_fresh(x) for x in v]
    if isinstance(v, dict):
        return {k: _fresh(x) for k, x in v.items()}
    return v


def _present(v: Any) -> Any:
    return None if v is ABSENT else v


def _to_float(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, list):
        return [_to_float(x) for x in v]
    return v


def decision_nodes(root: SNode) -> List[DecisionN]:
    """Every decision node, parents before children, each once (shared `let` nodes included)."""
    out: List[DecisionN] = []
    seen = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, DecisionN):
            out.append(node)
        stack.extend(reversed(node.children()))
    return out
