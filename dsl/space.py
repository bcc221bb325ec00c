"""`Space`: a loaded `.hyp` file with its decision table, sampling and materialization."""

from __future__ import annotations

import random
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np
import pyglove as pg

from hypsearch.decisions import Condition, Decision, Kind, RowEncoding, active_names, dna as dna_codec
from .errors import HypError, suggest
from .tree import (ChoiceN, CompN, Const, DecisionN, DictN, FloatN, IntN, ListN, OptionalN, ProgramN, RepeatN,
                   SubsetN, decision_nodes, materialize_unchecked)
from .vocabulary import Program


class Space:
    """A space of programs: the decision table plus the tree that turns assignments into programs."""

    def __init__(self, root: ProgramN, shared_names: Dict[int, str], path: Optional[str] = None):
        self.root = root
        self.path = path
        self.shared_names = shared_names
        _structural_names(root, shared_names)
        self._nodes: List[DecisionN] = _resolve_names(decision_nodes(root))
        self.decisions: tuple = tuple(_decision(n) for n in self._nodes)
        for n, d in zip(self._nodes, self.decisions):
            n.decision = d
        self._by_name: Dict[str, DecisionN] = {n.name: n for n in self._nodes}
        self.encoding = RowEncoding(self.decisions)
        self.size: Optional[int] = self.encoding.size
        self._dna_spec: Optional[pg.DNASpec] = None

    # -- sampling and materialization -----------------------------------------------------------
    def random_assignment(self, rng: Union[random.Random, np.random.Generator, None] = None) -> Dict[str, Any]:
        """A uniformly random value for every decision active under the values drawn before it."""
        if isinstance(rng, random.Random):  # a seeded stdlib generator seeds the numpy one
            rng = np.random.default_rng(rng.getrandbits(64))
        elif rng is None:
            rng = np.random.default_rng()
        return self.encoding.to_assignment(self.encoding.sample(1, rng)[0])

    def sample(self, seed: Optional[int] = None) -> Program:
        """A concrete program drawn uniformly decision by decision (same seed, same program)."""
        return self.materialize(self.random_assignment(random.Random(seed)))

    def materialize(self, assignment: Mapping[str, Any]) -> Program:
        """The concrete program for encoded values of the active decisions (the search fast path)."""
        try:
            return materialize_unchecked(self.root, assignment)
        except KeyError as e:
            name = e.args[0]
            raise HypError(f"no value for the active decision `{name}`") from None

    def program(self, choices: Union[Mapping[str, Any], pg.DNA, None] = None) -> Program:
        """The concrete program for user values (literal choices, component choices by index or
        `.hyp` text) or for a pyglove DNA from `dna_spec()`."""
        if isinstance(choices, pg.DNA):
            return self.materialize(self.from_dna(choices))
        return self.materialize(self.encode(choices or {}))

    def active(self, assignment: Mapping[str, Any]) -> List[str]:
        """Names of the decisions active under `assignment`."""
        return active_names(self.decisions, assignment)

    # -- user values <-> encoded values ---------------------------------------------------------
    def encode(self, choices: Mapping[str, Any]) -> Dict[str, Any]:
        """Encoded assignment from user values; every active decision must be given."""
        unknown = [k for k in choices if k not in self._by_name]
        if unknown:
            raise HypError(f"no decision named `{unknown[0]}`{suggest(unknown[0], self._by_name)}")
        a: Dict[str, Any] = {}
        for d in self.decisions:
            c = d.condition
            if c is not None and not (c.parent in a and c.holds(a[c.parent])):
                continue
            if d.name not in choices:
                raise HypError(f"no value for the active decision `{d.name}` ({d.describe()})")
            a[d.name] = self._encode_one(d, choices[d.name])
        return a

    def _encode_one(self, d: Decision, value: Any) -> Any:
        if d.kind in ("choice", "subset"):
            def index(v):
                if d.literals is not None:
                    for j, lit in enumerate(d.literals):
                        if type(lit) is type(v) and lit == v:
                            return j
                if isinstance(v, str) and v in d.choices:
                    return d.choices.index(v)
                if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(d.choices):
                    return v
                raise HypError(f"decision `{d.name}` has no choice {v!r}; it takes {d.describe()}")
            if d.kind == "choice":
                return index(value)
            try:
                return d.validate(tuple(index(v) for v in value))
            except ValueError as e:
                raise HypError(str(e)) from None
        try:
            return d.validate(value)
        except ValueError as e:
            raise HypError(str(e)) from None

    def decode(self, assignment: Mapping[str, Any]) -> Dict[str, Any]:
        """User values (literals, or `.hyp` text of component choices) of an encoded assignment."""
        out = {}
        for name, v in assignment.items():
            d = self._by_name[name].decision
            if d.kind == "choice":
                out[name] = d.literals[v] if d.literals is not None else d.choices[v]
            elif d.kind == "subset":
                out[name] = [d.literals[i] if d.literals is not None else d.choices[i] for i in v]
            else:
                out[name] = v
        return out

    # -- pyglove at the API boundary ------------------------------------------------------------
    def dna_spec(self) -> pg.DNASpec:
        """A flat pyglove DNASpec whose decision points are this table's decisions."""
        if self._dna_spec is None:
            self._dna_spec = dna_codec.dna_spec(self.decisions)
        return self._dna_spec

    def to_dna(self, assignment: Mapping[str, Any]) -> pg.DNA:
        """The pyglove DNA of an encoded assignment."""
        return dna_codec.to_dna(self.decisions, assignment, self.dna_spec())

    def from_dna(self, dna: pg.DNA) -> Dict[str, Any]:
        """The encoded assignment in a DNA of `dna_spec()`."""
        return dna_codec.from_dna(self.decisions, dna, self.dna_spec())

    def to_pyglove(self) -> Any:
        """The space as a pyglove symbolic value with `pg.oneof`/`pg.floatv`/... hyper values."""
        from .pyglove_space import to_pyglove
        return to_pyglove(self.root)

    # -- settings -------------------------------------------------------------------------------
    def search_settings(self) -> Dict[str, Any]:
        """The file's `search(...)` block as a dict (algo, trials, seed, options), or {}."""
        node = self.root.fields.get("search")
        if node is None:
            return {}
        if any(True for _ in decision_nodes(node)):
            raise HypError("the search(...) block cannot hold decisions", node.loc)
        s = node.materialize({})
        return {"algo": s.algo, "trials": s.trials, "seed": s.seed, "options": dict(s.options)}

    def counts(self) -> Dict[str, int]:
        """Number of decision points by kind (oneof, manyof, intv, floatv, optional)."""
        out: Dict[str, int] = {}
        for n in self._nodes:
            kind = {ChoiceN: "oneof", SubsetN: "manyof", FloatN: "floatv", IntN: "intv", OptionalN: "optional"}[type(n)]
            out[kind] = out.get(kind, 0) + 1
        return out

    def __repr__(self) -> str:
        size = "infinite" if self.size is None else self.size
        return f"Space({self.path or '<string>'}: {len(self.decisions)} decisions, size {size})"


def _structural_names(root: ProgramN, shared_names: Dict[int, str]) -> None:
    """Name every decision without a `name=` by the path of its first use in the evaluated tree.

    Names come from the tree, not from how the text spelled it (a `def` call and its expansion
    give the same names), so a space printed back (templates expanded) loads with the same names.
    The walk visits nodes in the order the printer writes them: `let`s, parameters, then fields.
    """
    from .printer import FIELD_ORDER, candidate_path
    seen: set = set()
    reachable = {id(n): n for n in _all_nodes(root)}

    def walk(n, path: str) -> None:
        k = id(n)
        if k in seen:
            return
        seen.add(k)
        if isinstance(n, DecisionN) and not n.user_name:
            n.name = path
        if isinstance(n, CompN):
            for f in n.cls.hyp_fields():
                if f in n.fields:
                    walk(n.fields[f], f"{path}.{f}")
        elif isinstance(n, ListN):
            for i, item in enumerate(n.items):
                walk(item, f"{path}[{i}]")
        elif isinstance(n, DictN):
            for key, item in n.items.items():
                walk(item, f"{path}.{key}")
        elif isinstance(n, (ChoiceN, SubsetN)):
            for j, c in enumerate(n.candidates):
                walk(c, candidate_path(n.candidates, path, j))
        elif isinstance(n, OptionalN):
            walk(n.item, f"{path}.value" if isinstance(n.item, DecisionN) else path)
        elif isinstance(n, RepeatN):
            walk(n.count, f"{path}.n")
            for i, c in enumerate(n.copies):
                walk(c, f"{path}[{i}]")

    for k, name in shared_names.items():
        if k in reachable:
            walk(reachable[k], name)
    for name, node in root.params.items():
        walk(node, name)
    for f in FIELD_ORDER:
        if f in root.fields:
            walk(root.fields[f], f)


def _all_nodes(root):
    seen, stack = set(), [root]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        yield n
        stack.extend(n.children())


def _resolve_names(nodes: List[DecisionN]) -> List[DecisionN]:
    """Suffix user names repeated by `def` uses or `repeat` copies; reject other duplicates."""
    groups: Dict[str, List[DecisionN]] = {}
    for n in nodes:
        groups.setdefault(n.name, []).append(n)
    for name, group in groups.items():
        if len(group) > 1 and all(n.user_name and n.instance for n in group):
            for n in group:
                n.name = f"{n.user_name}@{n.instance}"
    seen: Dict[str, DecisionN] = {}
    for n in nodes:
        if n.name in seen:
            first = seen[n.name].loc
            where = f" (first at line {first.line})" if first else ""
            raise HypError(f"duplicate decision name `{n.name}`{where}", n.loc)
        seen[n.name] = n
    return nodes


def _condition(n: DecisionN) -> Optional[Condition]:
    if n.condition is None:
        return None
    holder, values = n.condition
    return Condition(holder[0].name, values)


def _decision(n: DecisionN) -> Decision:
    from .printer import node_text  # the printer knows the tree; the tree needs no printer
    cond = _condition(n)
    if isinstance(n, ChoiceN) or isinstance(n, SubsetN):
        texts = tuple(node_text(c) for c in n.candidates)
        lits = tuple(c.value for c in n.candidates) if all(type(c) is Const for c in n.candidates) else None
        if isinstance(n, ChoiceN):
            return Decision(n.name, Kind.CHOICE, texts, condition=cond, literals=lits)
        return Decision(n.name, Kind.SUBSET, texts, k=n.k, distinct=n.distinct, sorted=n.sorted, condition=cond, literals=lits)
    if isinstance(n, OptionalN):
        return Decision(n.name, Kind.CHOICE, ("none", node_text(n.item)), condition=cond, literals=None)
    if isinstance(n, FloatN):
        return Decision(n.name, Kind.FLOAT, low=n.low, high=n.high, log=n.log, condition=cond)
    return Decision(n.name, Kind.INT, low=n.low, high=n.high, log=n.log, condition=cond)
