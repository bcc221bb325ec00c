"""`Space`: a loaded `.hyp` file with its decision table, sampling and materialization."""

from __future__ import annotations

import fnmatch
import random
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

import numpy as np
import pyglove as pg

from hypsearch.decisions import Condition, Decision, Kind, RowEncoding, active_names, dna as dna_codec
from . import variation
from .choices import assignment_of
from .errors import HypError, suggest
from .naming import Instance, name_decisions
from .narrowing import fix_tree
from .printer import node_text
from .pyglove_space import to_pyglove
from .tree import Const, DecisionN, DecisionVisitor, ProgramN, decision_nodes, materialize_unchecked
from .vocabulary import Program


class Space:
    """A space of programs: the decision table plus the tree that turns assignments into programs."""

    def __init__(self, root: ProgramN, shared_names: Dict[int, str], path: Optional[str] = None,
                 instances: Sequence[Instance] = (), named: bool = False):
        self.root = root
        self.path = path
        self.shared_names = shared_names  # id(node) -> let name
        self.instances = tuple(instances)  # the def uses and repeat copies the text was written with
        # `named`: the nodes already carry their names (a narrowed copy of a named space).
        self._nodes: List[DecisionN] = decision_nodes(root) if named else name_decisions(root, shared_names)
        self.decisions: tuple = tuple(_DECISION.visit(n) for n in self._nodes)
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
        `.hyp` text) or for a pyglove DNA of `dna_spec()` or of `to_pyglove()`."""
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

    # -- programs <-> choices, and variation within the space -----------------------------------
    def assignment_of(self, program: Program) -> Dict[str, Any]:
        """The encoded assignment that materializes to `program` (HypError when it is not a
        program of this space, naming the first field that does not fit)."""
        found = assignment_of(self.root, program)
        # A decision can be active without reaching the program (a `def` argument the chosen
        # branch does not use): any value gives the same program, so it takes its first one.
        return variation.complete(self.decisions, found, variation.first_values(self.decisions))

    def choices_of(self, program: Program) -> Dict[str, Any]:
        """The choices (decision name -> value, as `program(...)` takes them) of a concrete
        program of this space, also one edited with `rebind`: `program(choices_of(p)) == p`."""
        return self.decode(self.assignment_of(program))

    def mutate(self, program: Program, seed: Optional[int] = None, n: int = 1) -> Program:
        """A program of the space differing from `program` in `n` active decisions; where a change
        switches a branch or a `repeat` depth, what it switches on is drawn afresh."""
        rng = np.random.default_rng(seed)
        try:
            return self.materialize(variation.mutate(self.encoding, self.assignment_of(program), int(n), rng))
        except ValueError as e:
            raise HypError(str(e)) from None

    def crossover(self, a: Program, b: Program, seed: Optional[int] = None) -> Program:
        """A child program taking each decision from one parent, a subtree whole from one."""
        rng = np.random.default_rng(seed)
        return self.materialize(variation.crossover(self.encoding, self.assignment_of(a), self.assignment_of(b), rng))

    def neighbours(self, program: Program) -> Iterator[Program]:
        """Every program one discrete step away (lazily): another `oneof` candidate, the next
        integer down or up, one `manyof` item swapped, an `optional` flipped (floats stay)."""
        for a in variation.neighbours(self.encoding, self.assignment_of(program)):
            yield self.materialize(a)

    def fix(self, values: Union[Mapping[str, Any], Program], keep: Sequence[str] = ()) -> "Space":
        """A narrower space with some decisions fixed: `fix({"train.batch_size": 64})` (user
        values, as `program(...)` takes them), or `fix(program, keep=["hypernet.*"])` to freeze
        every decision of a known program except those whose names match a `keep` pattern."""
        if isinstance(values, Program):
            encoded = self.assignment_of(values)
            encoded = {k: v for k, v in encoded.items() if not any(fnmatch.fnmatchcase(k, pat) for pat in keep)}
        else:
            if keep:
                raise HypError("keep= goes with a program: fix(program, keep=[...])")
            unknown = [k for k in values if k not in self._by_name]
            if unknown:
                raise HypError(f"no decision named `{unknown[0]}`{suggest(unknown[0], self._by_name)}")
            encoded = {k: self._encode_one(self._by_name[k].decision, v) for k, v in values.items()}
        root, ids, instances = fix_tree(self.root, encoded, self.instances)
        shared = {ids[k]: name for k, name in self.shared_names.items() if k in ids}
        # Only the open repeats' copy records go along: everything else prints expanded.
        return Space(root, shared, self.path, [i for i in instances if i.template is None], named=True)

    # -- pyglove at the API boundary ------------------------------------------------------------
    def dna_spec(self) -> pg.DNASpec:
        """A flat pyglove DNASpec whose decision points are this table's decisions."""
        if self._dna_spec is None:
            self._dna_spec = dna_codec.dna_spec(self.decisions)
        return self._dna_spec

    def to_dna(self, assignment: Mapping[str, Any], spec: Optional[pg.DNASpec] = None) -> pg.DNA:
        """The pyglove DNA of an encoded assignment, under `dna_spec()` or the given spec (that
        of `pg.dna_spec(space.to_pyglove())`, say)."""
        return dna_codec.to_dna(self.decisions, assignment, spec if spec is not None else self.dna_spec())

    def from_dna(self, dna: pg.DNA) -> Dict[str, Any]:
        """The encoded assignment in a DNA of `dna_spec()` or, when the DNA carries its spec, of
        `to_pyglove()`'s."""
        spec = getattr(dna, "spec", None)
        try:
            return dna_codec.from_dna(self.decisions, dna, spec if spec is not None else self.dna_spec())
        except ValueError as e:
            raise HypError(f"not a DNA of this space: {e}") from None

    def to_pyglove(self) -> Any:
        """The space as a pyglove symbolic value with `pg.oneof`/`pg.floatv`/... hyper values;
        its decision points are named after this space's decisions (see `hypsearch.dsl.pyglove_space`)."""
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
            out[n.keyword] = out.get(n.keyword, 0) + 1
        return out

    def __repr__(self) -> str:
        size = "infinite" if self.size is None else self.size
        return f"Space({self.path or '<string>'}: {len(self.decisions)} decisions, size {size})"


def _condition(n: DecisionN) -> Optional[Condition]:
    if n.condition is None:
        return None
    holder, values = n.condition
    return Condition(holder[0].name, values)


class _Decisions(DecisionVisitor):
    """The `Decision` (name, kind, domain, condition) of a named decision node."""

    def _choices(self, node, kind: Kind, **extra) -> Decision:
        texts = tuple(node_text(c) for c in node.candidates)
        lits = tuple(c.value for c in node.candidates) if all(type(c) is Const for c in node.candidates) else None
        return Decision(node.name, kind, texts, condition=_condition(node), literals=lits, **extra)

    def visit_choice(self, node):
        return self._choices(node, Kind.CHOICE)

    def visit_subset(self, node):
        return self._choices(node, Kind.SUBSET, k=node.k, distinct=node.distinct, sorted=node.sorted)

    def visit_optional(self, node):
        return Decision(node.name, Kind.CHOICE, ("none", node_text(node.item)), condition=_condition(node), literals=None)

    def visit_int(self, node):
        return Decision(node.name, Kind.INT, low=node.low, high=node.high, log=node.log, condition=_condition(node))

    def visit_float(self, node):
        return Decision(node.name, Kind.FLOAT, low=node.low, high=node.high, log=node.log, condition=_condition(node))


_DECISION = _Decisions()
