"""The space tree: a `.hyp` program with its decisions still open.

The semantics (dsl/semantics.py) turns syntax into these nodes; `materialize(assignment)` turns
them into a concrete pyglove `Program` given values for the active decisions. This walk is the hot
path of every search step, so it builds the concrete objects directly instead of going through
pyglove's per-node genome objects (`pg.random_dna` + `pg.materialize` cost 25 ms + 50-70 ms on a
40-decision space; building the concrete objects alone costs a few ms).

Everything else done per node type (type checks, naming, printing, the decision table, the pyglove
form) is a `TreeVisitor` with one `visit_<case>` method per node type, so a node type lives in its
class here plus one method in each visitor; a visitor that misses a type fails when it is defined.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

import pyglove as pg

from hypsearch.decisions import Decision

from .errors import Location

if TYPE_CHECKING:
    from .naming import Instance

ABSENT = object()  # what an absent `optional(x)` yields: dropped from lists, `none` elsewhere


class SNode:
    """A node of the space tree."""

    __slots__ = ("loc",)
    case = ""  # names the `visit_<case>` method each visitor has for this type

    def __init__(self, loc: Optional[Location]):
        self.loc = loc

    def materialize(self, a: Mapping[str, Any]) -> Any:
        raise TypeError(f"{type(self).__name__} cannot be materialized")

    def children(self) -> Sequence["SNode"]:
        return ()

    def element_nodes(self) -> Sequence["SNode"]:
        """The nodes whose values this node adds as items of a list (see `ListN.materialize`)."""
        return (self,)


class Const(SNode):
    """A literal value (or a list of literals)."""

    __slots__ = ("value",)
    case = "const"

    def __init__(self, value: Any, loc: Optional[Location] = None):
        super().__init__(loc)
        self.value = value

    def materialize(self, a):
        v = self.value
        return list(v) if isinstance(v, list) else v


class ListN(SNode):
    """A list whose `repeat(...)` items splice their copies in and whose absent `optional`s drop out."""

    __slots__ = ("items",)
    case = "list"

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
    case = "dict"

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
    case = "component"

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
    case = "program"

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
    """A decision point. `name` is final once the space has named it (dsl/naming.py); `instance`
    is the innermost `def` use or `repeat` copy it was written in (a `naming.Instance`)."""

    __slots__ = ("name", "user_name", "instance", "condition", "decision")
    keyword = ""  # the primitive's name in `.hyp` text

    def __init__(self, loc, name: str, user_name: Optional[str], instance: Optional["Instance"], condition: Optional[Tuple[list, frozenset]]):
        super().__init__(loc)
        self.name = name
        self.user_name = user_name
        self.instance = instance
        self.condition = condition
        self.decision: Optional[Decision] = None


class ChoiceN(DecisionN):
    """`oneof(a, b, ...)`: the value of the chosen candidate."""

    __slots__ = ("candidates",)
    case, keyword = "choice", "oneof"

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
    case, keyword = "subset", "manyof"

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
    case, keyword = "int", "intv"

    def __init__(self, loc, name, user_name, instance, condition, low: int, high: int, log: bool):
        super().__init__(loc, name, user_name, instance, condition)
        self.low, self.high, self.log = low, high, log

    def materialize(self, a):
        return a[self.name]


class FloatN(IntN):
    """`floatv(lo, hi)`: a real-valued decision."""

    __slots__ = ()
    case, keyword = "float", "floatv"


class OptionalN(DecisionN):
    """`optional(x)`: x or nothing (an absent item drops out of a list)."""

    __slots__ = ("item",)
    case, keyword = "optional", "optional"

    def __init__(self, loc, name, user_name, instance, condition, item: SNode):
        super().__init__(loc, name, user_name, instance, condition)
        self.item = item

    def materialize(self, a):
        return self.item.materialize(a) if a[self.name] else ABSENT

    def children(self):
        return [self.item]

    def element_nodes(self):
        return (self.item,)


class RepeatN(SNode):
    """`repeat(n, x)`: the first n of the copies of x (each copy with its own decisions)."""

    __slots__ = ("count", "copies", "lengths")
    case = keyword = "repeat"

    def __init__(self, loc, count: SNode, copies: List[SNode], lengths: Dict[Any, int]):
        super().__init__(loc)
        self.count = count
        self.copies = copies
        self.lengths = lengths  # encoded value of the count -> number of copies (key None for a fixed count)

    def materialize(self, a):
        n = self.count.materialize(a)
        return [_present(c.materialize(a)) for c in self.copies[:n]]

    def children(self):
        return [self.count] + self.copies

    def element_nodes(self):
        return self.copies


# The node types a visitor handles (the program root is walked by hand), and among them the
# decision primitives, whose `keyword`s are the primitive names the language knows.
NODE_TYPES: Tuple[type, ...] = (Const, ListN, DictN, CompN, ChoiceN, SubsetN, IntN, FloatN, OptionalN, RepeatN)
DECISION_TYPES: Tuple[type, ...] = (ChoiceN, SubsetN, IntN, FloatN, OptionalN)
PRIMITIVE_TYPES: Tuple[type, ...] = DECISION_TYPES + (RepeatN,)


class TreeVisitor:
    """Base of an operation defined per node type: one `visit_<case>(node, ...)` method per type
    in `cases`. Defining a subclass that lacks one raises, naming the missing types, so a new node
    type cannot be silently skipped; pass `abstract=True` for a base that leaves them to its
    subclasses."""

    cases: Tuple[type, ...] = NODE_TYPES
    _dispatch: Dict[type, Any] = {}

    def __init_subclass__(cls, abstract: bool = False, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        missing = [t for t in cls.cases if not callable(getattr(cls, f"visit_{t.case}", None))]
        if missing:
            wanted = ", ".join(f"visit_{t.case} ({t.__name__})" for t in missing)
            raise TypeError(f"{cls.__name__} handles no {', '.join(t.__name__ for t in missing)} nodes: define {wanted}")
        cls._dispatch = {t: getattr(cls, f"visit_{t.case}") for t in cls.cases}

    def visit(self, node: SNode, *args: Any) -> Any:
        """Run this visitor's method for the type of `node`."""
        method = self._dispatch.get(type(node))
        if method is None:
            raise TypeError(f"{type(self).__name__} cannot handle a {type(node).__name__} node "
                            f"(it handles {', '.join(t.__name__ for t in self.cases)})")
        return method(self, node, *args)


class DecisionVisitor(TreeVisitor, abstract=True):
    """A `TreeVisitor` over decision nodes only."""

    cases = DECISION_TYPES


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
