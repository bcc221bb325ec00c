"""From syntax to the space tree: names, templates, shared decisions, conditions and checks.

One pass over the statements evaluates every expression in a context that says under which
condition its decisions are active and which `def` use or `repeat` copy (a `naming.Instance`) it
belongs to. `let` values are evaluated once and shared by reference; each `def` use evaluates the
body afresh, with its arguments passed by value (already-evaluated nodes). Decisions are named
afterwards, from the finished tree (dsl/naming.py).

Limits on what a text expands to, each a located error (the parser limits the text itself):
MAX_EVAL_DEPTH levels of nesting counting `def` expansions, MAX_EXPANSION expressions evaluated in
all (`def` uses and `repeat` copies evaluate their body again), MAX_REPEAT copies per `repeat`,
MAX_TREE_NODES nodes in the program with every shared `let` counted at each use (`let`
doubling: forty levels would be 2**40 nodes) and MAX_TREE_DEPTH levels of the finished tree
(lets wrapping lets), and MAX_TREE_WORK for the sum of the nodes' depths (what building the
program costs); `check_size` checks the last three.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import pyglove as pg

from . import pyref
from .errors import HypError, Location, suggest
from .naming import Instance
from .registry import Component, components, lookup, lookup_objective, names as component_names
from .syntax import Assign, Call, Def, Expr, ImportFile, ImportModule, Kwarg, Let, ListExpr, Lit, Ref, parse
from .tree import (PRIMITIVE_TYPES, ChoiceN, CompN, Const, DecisionN, DictN, FloatN, IntN, ListN, OptionalN, RepeatN,
                   SNode, SubsetN, TreeVisitor)
from .vocabulary.program import RESERVED_FIELDS

MAX_EVAL_DEPTH = 100
MAX_EXPANSION = 50_000
MAX_REPEAT = 1_000
MAX_TREE_NODES = 25_000
MAX_TREE_DEPTH = MAX_EVAL_DEPTH  # what a concrete program prints as: its brackets nest as deep
# Building a program costs about the sum of its nodes' depths (pyglove sets every descendant's path
# when a parent is made): 250,000 is a few seconds; a 4,096-copy doubling def 12 deep took 17 s.
MAX_TREE_WORK = 250_000

# The decision primitives by name; `Evaluator.prim_<name>` evaluates each.
PRIMITIVES = tuple(t.keyword for t in PRIMITIVE_TYPES)

# Which component families each reserved field takes.
FIELD_KINDS = {
    "target": ("layer",),
    "hypernet": ("hypernet",),
    "data": ("data", "python"),
    "train": ("train",),
    "objective": ("objective",),
    "search": ("search",),
    "constraints": ("constraint",),
    "augment": ("augment",),
}
# Reserved fields that take a list of components as well (`objective = [maximize(...), ...]`).
LIST_FIELDS = ("objective", "constraints", "augment")
# Reserved fields that take only a list, and the example their error shows.
ONLY_LISTS = {"constraints": "constraints = [at_most(\"params\", 50000)]",
              "augment": "augment = [random_crop(padding = 4), optional(flip())]"}


class Ctx:
    """Where an expression is evaluated."""

    __slots__ = ("condition", "instance", "params", "expanding")

    def __init__(self, condition: Optional[Tuple[list, frozenset]] = None, instance: Optional[Instance] = None,
                 params: Optional[Dict[str, "_Lazy"]] = None, expanding: Tuple[str, ...] = ()):
        self.condition = condition  # (holder of the parent node, values)
        self.instance = instance  # the enclosing def use or repeat copy
        self.params = params if params is not None else {}
        self.expanding = expanding  # defs being expanded (recursion check)

    def under(self, condition: Optional[Tuple[list, frozenset]]) -> "Ctx":
        return Ctx(condition, self.instance, self.params, self.expanding)


class _Lazy:
    """A `def` argument: evaluated once, at its first use, in the context of the call site."""

    __slots__ = ("expr", "ctx", "node")

    def __init__(self, expr: Expr, ctx: "Ctx"):
        self.expr, self.ctx, self.node = expr, ctx, None

    def get(self, ev: "Evaluator") -> SNode:
        if self.node is None:
            self.node = ev.eval(self.expr, self.ctx)
        return self.node


@dataclass
class Module:
    """What a `.hyp` file defines: lets, defs and field assignments, plus imports."""

    lets: Dict[str, SNode] = field(default_factory=dict)
    let_syntax: Dict[str, Let] = field(default_factory=dict)
    defs: Dict[str, Def] = field(default_factory=dict)
    imports: List[str] = field(default_factory=list)


class Evaluator:
    """Evaluates the statements of one file (and the `.hyp` files it imports)."""

    def __init__(self, filename: str, text: str, import_stack: Tuple[str, ...] = ()):
        self.filename = filename
        self.text = text
        self.lines = text.split("\n")
        self.base_dir = os.path.dirname(os.path.abspath(filename)) if not filename.startswith("<") else os.getcwd()
        self.module = Module()
        self.shared_names: Dict[int, str] = {}  # id(node) -> let name, for printing spaces back
        self.instances: List[Instance] = []  # every def use and repeat copy, in the order they began
        self.import_stack = import_stack
        self._types = _Types(self)
        self._kinds = _Kinds(self)
        self._depth = 0  # expressions being evaluated, nested (def expansions included)
        self._evaluated = 0  # expressions evaluated so far

    # -- errors ---------------------------------------------------------------------------------
    def error(self, message: str, loc: Optional[Location]) -> HypError:
        line = None
        if loc is not None and loc.file == self.filename and 1 <= loc.line <= len(self.lines):
            line = self.lines[loc.line - 1]
        return HypError(message, loc, line)

    # -- statements -----------------------------------------------------------------------------
    def run(self, statements) -> Tuple[Dict[str, SNode], Dict[str, SNode]]:
        fields: Dict[str, SNode] = {}
        params: Dict[str, SNode] = {}
        seen: Dict[str, Location] = {}
        for st in statements:
            if isinstance(st, ImportFile):
                self.import_file(st)
            elif isinstance(st, ImportModule):
                pyref.load_module(st.module, st.loc, self._line(st.loc))
                self.module.imports.append(st.module)
            elif isinstance(st, Let):
                self._check_new_name(st.name, st.loc)
                node = self.eval(st.value, Ctx())
                self.module.lets[st.name] = node
                self.module.let_syntax[st.name] = st
                self.shared_names.setdefault(id(node), st.name)
            elif isinstance(st, Def):
                self._check_new_name(st.name, st.loc)
                if len(set(st.params)) != len(st.params):
                    raise self.error(f"def `{st.name}` names a parameter twice", st.loc)
                self.module.defs[st.name] = st
            elif isinstance(st, Assign):
                if st.name in seen:
                    first = seen[st.name]
                    raise self.error(f"`{st.name}` is assigned twice (first at line {first.line})", st.loc)
                seen[st.name] = st.loc
                node = self.eval(st.value, Ctx())
                if st.name in RESERVED_FIELDS and st.name in LIST_FIELDS and isinstance(node, ListN):
                    for item in node.items:
                        for el in item.element_nodes():
                            self.check_kind(el, FIELD_KINDS[st.name], f"`{st.name}`", st.value.loc)
                    fields[st.name] = node
                elif st.name in ONLY_LISTS:
                    raise self.error(f"`{st.name}` takes a list: `{ONLY_LISTS[st.name]}`", st.value.loc)
                elif st.name in RESERVED_FIELDS:
                    self.check_kind(node, FIELD_KINDS[st.name], f"`{st.name}`", st.value.loc)
                    fields[st.name] = node
                else:
                    if st.name in ("params", "imports", "source"):
                        raise self.error(f"`{st.name}` is reserved; pick another name", st.loc)
                    params[st.name] = node
        return fields, params

    def _line(self, loc: Optional[Location]) -> Optional[str]:
        return self.lines[loc.line - 1] if loc and 1 <= loc.line <= len(self.lines) else None

    def _check_new_name(self, name: str, loc: Location) -> None:
        if name in PRIMITIVES or lookup(name) is not None:
            raise self.error(f"`{name}` is a built-in name and cannot be redefined", loc)
        if name in self.module.lets or name in self.module.defs:
            raise self.error(f"`{name}` is defined twice", loc)

    def import_file(self, st: ImportFile) -> None:
        path = pyref.absolute(st.path, self.base_dir)
        if path.endswith(".hyp"):
            here = os.path.abspath(self.filename)
            if path in self.import_stack or path == here:
                chain = " -> ".join(os.path.basename(p) for p in self.import_stack + (here, path))
                raise self.error(f"cyclic import: {chain}", st.loc)
            try:
                with open(path, "rb") as f:
                    raw = f.read()
            except OSError as e:
                raise self.error(f"cannot import {st.path!r}: {e.strerror}", st.loc) from None
            text = decode_source(raw, path)
            sub = Evaluator(path, text, self.import_stack + (os.path.abspath(self.filename),))
            fields, params = sub.run(parse(text, path))
            if fields or params:
                raise self.error(f"{st.path} assigns fields; an imported .hyp file may only hold import, let and def", st.loc)
            for name, node in sub.module.lets.items():
                self._check_new_name(name, st.loc)
                self.module.lets[name] = node
                self.shared_names.setdefault(id(node), name)
            for name, d in sub.module.defs.items():
                self._check_new_name(name, st.loc)
                self.module.defs[name] = d
            self.module.imports.extend(i for i in sub.module.imports if i not in self.module.imports)
            self.shared_names.update(sub.shared_names)
            self.instances.extend(sub.instances)
            return
        pyref.load_file(path, st.loc, self._line(st.loc))
        if path not in self.module.imports:
            self.module.imports.append(path)

    # -- expressions ----------------------------------------------------------------------------
    def eval(self, e: Expr, ctx: Ctx) -> SNode:
        self._evaluated += 1
        if self._evaluated > MAX_EXPANSION:
            raise self.error(f"the program expands to more than {MAX_EXPANSION:,} expressions (def uses and repeat "
                             f"copies each evaluate their body again): the expansion limit of .hyp files", e.loc)
        self._depth += 1
        try:
            if self._depth > MAX_EVAL_DEPTH:
                raise self.error(f"the program nests more than {MAX_EVAL_DEPTH} levels deep here, counting def "
                                 f"expansions: the nesting limit of .hyp files", e.loc)
            if isinstance(e, Lit):
                return Const(e.value, e.loc)
            if isinstance(e, ListExpr):
                return ListN([self.eval(item, ctx) for item in e.items], e.loc)
            if isinstance(e, Ref):
                return self.ref(e, ctx)
            return self.call(e, ctx)
        finally:
            self._depth -= 1

    def ref(self, e: Ref, ctx: Ctx) -> SNode:
        if e.name in ctx.params:
            return ctx.params[e.name].get(self)
        if e.name in self.module.lets:
            return self.module.lets[e.name]
        if e.name in self.module.defs:
            raise self.error(f"`{e.name}` is a template: use it as `{e.name}(...)`", e.loc)
        if e.name in PRIMITIVES or lookup(e.name) is not None:
            raise self.error(f"`{e.name}` is a component: call it as `{e.name}()`", e.loc)
        known = list(ctx.params) + list(self.module.lets) + list(self.module.defs)
        raise self.error(f"unknown name `{e.name}`{suggest(e.name, known)}", e.loc)

    def call(self, e: Call, ctx: Ctx) -> SNode:
        if e.name in PRIMITIVES:
            return getattr(self, "prim_" + e.name)(e, ctx)
        if e.name in self.module.defs:
            return self.expand(self.module.defs[e.name], e, ctx)
        if e.name in ctx.params or e.name in self.module.lets:
            raise self.error(f"`{e.name}` is a value, not a component: write `{e.name}` without parentheses", e.loc)
        cls = lookup(e.name)
        if cls is None:
            known = list(component_names()) + list(PRIMITIVES) + list(self.module.defs)
            raise self.error(f"unknown component `{e.name}`{suggest(e.name, known)}", e.loc)
        return self.component(cls, e, ctx)

    def expand(self, d: Def, e: Call, ctx: Ctx) -> SNode:
        if d.name in ctx.expanding:
            chain = " -> ".join(ctx.expanding[ctx.expanding.index(d.name):] + (d.name,))
            raise self.error(f"def `{d.name}` recurses ({chain})", e.loc)
        if len(e.args) > len(d.params):
            raise self.error(f"`{d.name}` takes {len(d.params)} argument(s), got {len(e.args)}", e.loc)
        bound: Dict[str, _Lazy] = {}
        for p, a in zip(d.params, e.args):
            bound[p] = _Lazy(a, ctx)
        for kw in e.kwargs:
            if kw.name not in d.params:
                raise self.error(f"`{d.name}` has no parameter `{kw.name}`{suggest(kw.name, d.params)}", kw.loc)
            if kw.name in bound:
                raise self.error(f"parameter `{kw.name}` of `{d.name}` given twice", kw.loc)
            bound[kw.name] = _Lazy(kw.value, ctx)
        missing = [p for p in d.params if p not in bound]
        if missing:
            raise self.error(f"`{d.name}` is missing argument `{missing[0]}`", e.loc)
        inst = self._begin(d.name, ctx)
        node = self.eval(d.body, Ctx(ctx.condition, inst, bound, ctx.expanding + (d.name,)))
        self._end(inst, node, bound)
        inst.args = tuple((p, bound[p].node) for p in d.params if bound[p].node is not None)
        return node

    def _begin(self, template: Optional[str], ctx: Ctx) -> Instance:
        inst = Instance(template, ctx.instance)
        self.instances.append(inst)
        return inst

    def _end(self, inst: Instance, node: SNode, params: Dict[str, "_Lazy"]) -> None:
        # A body that is only a reference (`def pick(x) = x`, `repeat(2, act)`) made no node, so the
        # instance owns nothing and printing leaves it out.
        if id(node) not in self.shared_names and not any(node is lz.node for lz in params.values()):
            inst.root = node

    def component(self, cls: type, e: Call, ctx: Ctx) -> SNode:
        fields = cls.hyp_fields()
        order = list(fields)
        varargs = cls.__hyp_varargs__
        extra = cls.__hyp_extra_kwargs__
        name = e.name
        given: Dict[str, SNode] = {}
        given_loc: Dict[str, Location] = {}
        if varargs:
            before = order[: order.index(varargs)]
            positional_fields = before
        else:
            positional_fields = [f for f in order if f != extra]
        pos_args = list(e.args)
        for f in positional_fields:
            if not pos_args:
                break
            a = pos_args.pop(0)
            given[f] = self.eval(a, ctx)
            given_loc[f] = a.loc
        if pos_args:
            if varargs:
                items = [self.eval(a, ctx) for a in pos_args]
                given[varargs] = ListN(items, pos_args[0].loc)
                given_loc[varargs] = pos_args[0].loc
            else:
                raise self.error(f"`{name}` takes at most {len(positional_fields)} positional argument(s), got {len(e.args)}", pos_args[0].loc)
        extras: Dict[str, SNode] = {}
        for kw in e.kwargs:
            if kw.name in given or kw.name in extras:
                raise self.error(f"argument `{kw.name}` of `{name}` given twice", kw.loc)
            if kw.name not in fields or kw.name == extra:
                if extra is not None:
                    extras[kw.name] = self.eval(kw.value, ctx)
                    continue
                listing = ", ".join(f for f in order) or "no arguments"
                raise self.error(f"`{name}` has no argument `{kw.name}`{suggest(kw.name, order)}; it takes: {listing}", kw.loc)
            given[kw.name] = self.eval(kw.value, ctx)
            given_loc[kw.name] = kw.value.loc
        if extra is not None and extras:
            given[extra] = DictN(extras, e.loc)
        for f, spec in fields.items():
            if f not in given and spec.value.default == pg.MISSING_VALUE:
                raise self.error(f"`{name}` is missing argument `{f}` ({spec.description or _describe_spec(spec.value)})", e.loc)
        float_fields = set()
        for f, node in given.items():
            spec = fields[f].value
            self.check_type(spec, node, f"argument `{f}` of `{name}`", given_loc.get(f, e.loc))
            if _is_float_spec(spec):
                float_fields.add(f)
        path_fields = getattr(cls, "__hyp_path_fields__", ())
        for f in path_fields:
            node = given.get(f)
            if isinstance(node, Const) and isinstance(node.value, str):
                given[f] = Const(pyref.absolute(node.value, self.base_dir), node.loc)
        if cls.__hyp_name__ == "python":
            node = given.get("ref")
            if isinstance(node, Const) and isinstance(node.value, str) and ":" not in node.value:
                if lookup_objective(node.value) is None:
                    raise self.error(f"no objective registered as `{node.value}` (register it with @hypsearch.objective "
                                     f"in an imported file, or write \"file.py:{node.value}\")", node.loc)
            elif isinstance(node, Const) and isinstance(node.value, str):
                try:
                    target, fn = pyref.split_ref(node.value)
                except ValueError as err:
                    raise self.error(str(err), node.loc) from None
                if pyref.is_file_ref(target):
                    given["ref"] = Const(pyref.absolute(target, self.base_dir) + ":" + fn, node.loc)
        return CompN(cls, given, e.loc, frozenset(float_fields), name)

    # -- type checks ----------------------------------------------------------------------------
    def check_type(self, spec: Any, node: SNode, what: str, loc: Location) -> None:
        """Raise if some value `node` can take does not fit the field `spec`."""
        self._types.check(spec, node, what, loc)

    def check_kind(self, node: SNode, kinds: Tuple[str, ...], what: str, loc: Location) -> None:
        """Raise unless every component `node` can take belongs to one of `kinds`."""
        self._kinds.visit(node, kinds, what, loc)

    # -- decision primitives --------------------------------------------------------------------
    def _prim_args(self, e: Call, allowed: Tuple[str, ...]) -> Dict[str, Kwarg]:
        out = {}
        for kw in e.kwargs:
            if kw.name not in allowed:
                raise self.error(f"`{e.name}` has no argument `{kw.name}`{suggest(kw.name, allowed)}; it takes: {', '.join(allowed)}", kw.loc)
            if kw.name in out:
                raise self.error(f"argument `{kw.name}` of `{e.name}` given twice", kw.loc)
            out[kw.name] = kw
        return out

    def _literal(self, kw_or_expr, types, what: str, e: Call):
        expr = kw_or_expr.value if isinstance(kw_or_expr, Kwarg) else kw_or_expr
        if not isinstance(expr, Lit) or isinstance(expr.value, bool) and bool not in types or not isinstance(expr.value, types):
            tname = " or ".join({int: "an int", float: "a number", bool: "true or false", str: "a string"}[t] for t in types if t in (int, float, bool, str))
            raise self.error(f"{what} of `{e.name}` must be {tname} written in place", expr.loc)
        return expr.value

    def _name(self, e: Call, kws: Dict[str, Kwarg]) -> Optional[str]:
        """The user name given with `name = "..."`, or None (the space names it by its path)."""
        if "name" in kws:
            user = self._literal(kws["name"], (str,), "`name`", e)
            if not user:
                raise self.error("a decision name cannot be empty", kws["name"].value.loc)
            return user
        return None

    def prim_oneof(self, e: Call, ctx: Ctx) -> SNode:
        kws = self._prim_args(e, ("name",))
        if not e.args:
            raise self.error("`oneof` needs at least one choice", e.loc)
        user = self._name(e, kws)
        holder: list = []
        cands = [self.eval(c, ctx.under((holder, frozenset([j])))) for j, c in enumerate(e.args)]
        node = ChoiceN(e.loc, user or "", user, ctx.instance, ctx.condition, cands)
        holder.append(node)
        return node

    def prim_manyof(self, e: Call, ctx: Ctx) -> SNode:
        kws = self._prim_args(e, ("name", "distinct", "sorted"))
        if not e.args:
            raise self.error("`manyof` needs k and the choices: manyof(k, a, b, ...)", e.loc)
        k = self._literal(e.args[0], (int,), "k (the first argument)", e)
        cands_syntax = e.args[1:]
        if not cands_syntax:
            raise self.error("`manyof` needs at least one choice after k", e.loc)
        distinct = self._literal(kws["distinct"], (bool,), "`distinct`", e) if "distinct" in kws else True
        sorted_ = self._literal(kws["sorted"], (bool,), "`sorted`", e) if "sorted" in kws else False
        if k < 1:
            raise self.error(f"`manyof` needs k >= 1, got {k}", e.args[0].loc)
        if distinct and k > len(cands_syntax):
            raise self.error(f"`manyof` picks k = {k} distinct choices out of only {len(cands_syntax)}", e.args[0].loc)
        user = self._name(e, kws)
        holder: list = []
        cands = [self.eval(c, ctx.under((holder, frozenset([j])))) for j, c in enumerate(cands_syntax)]
        node = SubsetN(e.loc, user or "", user, ctx.instance, ctx.condition, k, cands, distinct, sorted_)
        holder.append(node)
        return node

    def _bounds(self, e: Call, kws, types, what: str):
        if len(e.args) != 2:
            raise self.error(f"`{what}` takes two bounds: {what}(lo, hi)", e.loc)
        lo = self._literal(e.args[0], types, "the lower bound", e)
        hi = self._literal(e.args[1], types, "the upper bound", e)
        log = self._literal(kws["log"], (bool,), "`log`", e) if "log" in kws else False
        if lo > hi:
            raise self.error(f"`{what}` has lo > hi ({lo} > {hi})", e.args[0].loc)
        if log and lo <= 0:
            raise self.error(f"`{what}` with log = true needs lo > 0, got {lo}", e.args[0].loc)
        if what == "floatv" and not math.isfinite(float(hi) - float(lo)):
            raise self.error(f"`floatv` bounds {lo:g} and {hi:g} are too far apart: their distance must be a finite "
                             f"float (below about 1.8e308)", e.args[0].loc)
        return lo, hi, log

    def prim_intv(self, e: Call, ctx: Ctx) -> SNode:
        kws = self._prim_args(e, ("name", "log"))
        lo, hi, log = self._bounds(e, kws, (int,), "intv")
        user = self._name(e, kws)
        return IntN(e.loc, user or "", user, ctx.instance, ctx.condition, lo, hi, log)

    def prim_floatv(self, e: Call, ctx: Ctx) -> SNode:
        kws = self._prim_args(e, ("name", "log"))
        lo, hi, log = self._bounds(e, kws, (int, float), "floatv")
        user = self._name(e, kws)
        return FloatN(e.loc, user or "", user, ctx.instance, ctx.condition, float(lo), float(hi), log)

    def prim_optional(self, e: Call, ctx: Ctx) -> SNode:
        kws = self._prim_args(e, ("name",))
        if len(e.args) != 1:
            raise self.error("`optional` takes one value: optional(x)", e.loc)
        user = self._name(e, kws)
        holder: list = []
        item = self.eval(e.args[0], ctx.under((holder, frozenset([1]))))
        node = OptionalN(e.loc, user or "", user, ctx.instance, ctx.condition, item)
        holder.append(node)
        return node

    def prim_repeat(self, e: Call, ctx: Ctx) -> SNode:
        kws = self._prim_args(e, ("name",))
        if len(e.args) != 2:
            raise self.error("`repeat` takes a count and a value: repeat(n, x)", e.loc)
        count_expr = e.args[0]
        if "name" in kws and isinstance(count_expr, Call) and count_expr.name in PRIMITIVES:
            # `repeat(intv(1, 3), x, name = "depth")` names the count decision.
            count_expr = Call(count_expr.loc, count_expr.name, count_expr.args, count_expr.kwargs + [kws["name"]])
        count = self.eval(count_expr, ctx)
        if isinstance(count, IntN) and count.high > MAX_REPEAT:  # before listing its lengths one by one
            raise self.error(f"`repeat` makes at most {MAX_REPEAT:,} copies, this count allows {count.high:,}",
                             count_expr.loc)
        lengths = _LENGTHS.visit(count)
        if lengths is None:
            raise self.error("the count of `repeat` must be an int >= 0, an intv, or a oneof of ints", count_expr.loc)
        if lengths and max(lengths.values()) > MAX_REPEAT:
            raise self.error(f"`repeat` makes at most {MAX_REPEAT:,} copies, this count allows {max(lengths.values()):,}",
                             count_expr.loc)
        copies = []
        for i in range(max(lengths.values())):
            cond = ctx.condition
            if isinstance(count, DecisionN):
                cond = ([count], frozenset(v for v, n in lengths.items() if n > i))
            inst = self._begin(None, ctx)
            copy = self.eval(e.args[1], Ctx(cond, inst, ctx.params, ctx.expanding))
            self._end(inst, copy, ctx.params)
            copies.append(copy)
        return RepeatN(e.loc, count, copies, lengths)


class _Types(TreeVisitor):
    """`check(spec, node, ...)` raises if some value `node` can take does not fit the field `spec`."""

    def __init__(self, ev: Evaluator):
        self.ev = ev

    def check(self, spec: Any, node: SNode, what: str, loc: Location) -> None:
        if not isinstance(spec, pg.typing.Any):
            self.visit(node, spec, what, node.loc or loc)

    def visit_const(self, node, spec, what, loc):
        value = node.value
        if _is_float_spec(spec):
            value = _ints_to_float(value)
        try:
            spec.apply(value)
        except (TypeError, ValueError, KeyError):
            raise self.ev.error(f"{what} takes {_describe_spec(spec)}, got {_show(node.value)}", loc) from None

    def visit_component(self, node, spec, what, loc):
        if not _accepts_class(spec, node.cls):
            raise self.ev.error(f"{what} takes {_describe_spec(spec)}, got a `{node.call_name}` component", loc)

    def _elements(self, items, spec, what, loc):
        element = _list_element(spec)
        if element is None:
            raise self.ev.error(f"{what} takes {_describe_spec(spec)}, got a list", loc)
        for item in items:
            for el in item.element_nodes():
                self.check(element, el, what, loc)

    def visit_list(self, node, spec, what, loc):
        self._elements(node.items, spec, what, loc)

    def visit_repeat(self, node, spec, what, loc):
        self._elements(node.copies, spec, what, loc)

    def visit_choice(self, node, spec, what, loc):
        for c in node.candidates:
            self.check(spec, c, what, loc)

    def visit_subset(self, node, spec, what, loc):
        element = _list_element(spec)
        if element is None:
            raise self.ev.error(f"{what} takes {_describe_spec(spec)}, but manyof gives a list", loc)
        for c in node.candidates:
            self.check(element, c, what, loc)

    def visit_float(self, node, spec, what, loc):
        self._range(node, spec, float, "a float", what, loc)

    def visit_int(self, node, spec, what, loc):
        self._range(node, spec, float if _is_float_spec(spec) else int, "an int", what, loc)

    def _range(self, node, spec, convert, gives, what, loc):
        # Both ends of the range must fit: a bounded argument (`flip(p = ...)` in [0, 1]) too.
        for end in (node.low, node.high):
            try:
                spec.apply(convert(end))
            except TypeError:
                raise self.ev.error(f"{what} takes {_describe_spec(spec)}, but {node.keyword} gives {gives}",
                                    loc) from None
            except ValueError:
                raise self.ev.error(f"{what} takes {_describe_spec(spec)}, but {node.keyword} reaches "
                                    f"{_show(end)}", loc) from None

    def visit_optional(self, node, spec, what, loc):
        if not getattr(spec, "is_noneable", False):
            raise self.ev.error(f"{what} cannot be absent: use optional(...) inside a list, or give a value", loc)
        self.check(spec, node.item, what, loc)

    def visit_dict(self, node, spec, what, loc):
        pass


class _Kinds(TreeVisitor):
    """`visit(node, kinds, ...)` raises unless every component `node` can take is of one of `kinds`."""

    def __init__(self, ev: Evaluator):
        self.ev = ev

    def visit_component(self, node, kinds, what, loc):
        if node.cls.__hyp_kind__ not in kinds:
            raise self.ev.error(f"{what} takes {_a(' or '.join(kinds))} component, got `{node.call_name}` "
                                f"(a {node.cls.__hyp_kind__}){_allowed(kinds)}", node.loc or loc)

    def visit_choice(self, node, kinds, what, loc):
        for c in node.candidates:
            self.visit(c, kinds, what, loc)

    def visit_optional(self, node, kinds, what, loc):
        self.visit(node.item, kinds, what, loc)

    def visit_const(self, node, kinds, what, loc):
        if node.value is not None:
            self.not_a_component(node, kinds, what, loc)

    def not_a_component(self, node, kinds, what, loc):
        raise self.ev.error(f"{what} takes {_a(' or '.join(kinds))} component{_allowed(kinds)}", node.loc or loc)

    visit_list = visit_dict = visit_subset = visit_int = visit_float = visit_repeat = not_a_component


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _allowed(kinds: Tuple[str, ...], most: int = 12) -> str:
    """`; allowed: random_crop, flip, ...` naming a small family's components (a long one is left to completion)."""
    names = [n for n, c in components().items() if c.__hyp_kind__ in kinds]
    return f"; allowed: {', '.join(names)}" if 0 < len(names) <= most else ""


def _is_count(node: SNode) -> bool:
    return type(node) is Const and isinstance(node.value, int) and not isinstance(node.value, bool) and node.value >= 0


class _Lengths(TreeVisitor):
    """The lengths a `repeat` count can give, as {encoded value: copies}, or None for a bad count."""

    def visit_const(self, node):
        return {None: node.value} if _is_count(node) else None

    def visit_int(self, node):
        return {v: v for v in range(node.low, node.high + 1)} if node.low >= 0 else None

    def visit_choice(self, node):
        if not all(_is_count(c) for c in node.candidates):
            return None
        return {j: c.value for j, c in enumerate(node.candidates)}

    def not_a_count(self, node):
        return None

    visit_list = visit_dict = visit_component = visit_subset = visit_float = visit_optional = visit_repeat = not_a_count


_LENGTHS = _Lengths()


def _is_float_spec(spec: Any) -> bool:
    if isinstance(spec, pg.typing.Float):
        return True
    if isinstance(spec, pg.typing.List):
        return isinstance(spec.element.value, pg.typing.Float)
    return False


def _ints_to_float(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, list):
        return [_ints_to_float(x) for x in v]
    return v


def _list_element(spec: Any) -> Optional[Any]:
    if isinstance(spec, pg.typing.List):
        return spec.element.value
    if isinstance(spec, pg.typing.Union):
        for c in spec.candidates:
            if isinstance(c, pg.typing.List):
                return c.element.value
    if isinstance(spec, pg.typing.Any):
        return spec
    return None


def _accepts_class(spec: Any, cls: type) -> bool:
    if isinstance(spec, pg.typing.Union):
        return any(_accepts_class(c, cls) for c in spec.candidates)
    if isinstance(spec, pg.typing.Object):
        return issubclass(cls, spec.cls)
    if isinstance(spec, pg.typing.Any):
        return True
    return False


def _describe_spec(spec: Any) -> str:
    if isinstance(spec, pg.typing.Union):
        words = [_describe_spec(c) for c in spec.candidates]
        text = " or ".join(dict.fromkeys(words))
    elif isinstance(spec, pg.typing.Bool):
        text = "true or false"
    elif isinstance(spec, pg.typing.Int):
        text = "an int" + _bounds(spec)
    elif isinstance(spec, pg.typing.Float):
        text = "a number" + _bounds(spec)
    elif isinstance(spec, pg.typing.Str):
        text = "a string"
    elif isinstance(spec, pg.typing.List):
        text = f"a list of {_plural(_describe_spec(spec.element.value))}"
    elif isinstance(spec, pg.typing.Dict):
        text = "keyword options"
    elif isinstance(spec, pg.typing.Object):
        text = _component_family(spec.cls)
    else:
        text = "a value"
    if getattr(spec, "is_noneable", False) and "none" not in text:
        text += " or none"
    return text


def _bounds(spec: Any) -> str:
    """` >= 0`, ` in [0, 1]`: the range a bounded number argument declares (empty: none)."""
    low, high = getattr(spec, "min_value", None), getattr(spec, "max_value", None)
    if low is not None and high is not None:
        return f" in [{_show(low)}, {_show(high)}]"
    if low is not None:
        return f" >= {_show(low)}"
    return f" <= {_show(high)}" if high is not None else ""


def _component_family(cls: type) -> str:
    if cls is Component:
        return "a component"
    name = getattr(cls, "__hyp_name__", "") or cls.__name__
    if getattr(cls, "__hyp_name__", "") and lookup(name) is cls:
        return f"a `{name}` component"
    return f"a{'n' if name[:1].lower() in 'aeiou' else ''} {name.lower()} component"


def _plural(text: str) -> str:
    for a in ("an ", "a "):
        if text.startswith(a):
            return text[len(a):] + "s"
    return text


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "none"
    return str(value)


def decode_source(raw: bytes, filename: str) -> str:
    """File bytes as text, or HypError for binary or non-UTF-8 content."""
    if b"\x00" in raw[:4096]:
        raise HypError("this is a binary file, not .hyp text", Location(filename, 1, 1))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise HypError(f"the file is not UTF-8 text (byte 0x{raw[e.start]:02x})", Location(filename, line, col)) from None


def check_size(nodes: Dict[str, SNode], ev: "Evaluator") -> None:
    """HypError at the field whose tree, with every shared `let` counted at each use, passes
    MAX_TREE_NODES nodes or nests deeper than MAX_TREE_DEPTH (lets that wrap lets); linear in the
    shared tree (sizes and depths are memoised by node)."""
    sizes: Dict[int, Tuple[int, int, int]] = {}  # id(node) -> (size, depth, sum of the nodes' depths)

    def measure(root: SNode) -> Tuple[int, int, int]:
        # Iterative post-order: the tree may be deep, and shared nodes are measured once each.
        stack = [(root, False)]
        while stack:
            node, done = stack.pop()
            if id(node) in sizes:
                continue
            kids = node.children()
            if done:
                size = min(1 + sum(sizes[id(k)][0] for k in kids), MAX_TREE_NODES + 1)
                work = min(size + sum(sizes[id(k)][2] for k in kids), MAX_TREE_WORK + 1)
                sizes[id(node)] = (size, 1 + max((sizes[id(k)][1] for k in kids), default=0), work)
            else:
                stack.append((node, True))
                stack.extend((k, False) for k in kids if id(k) not in sizes)
        return sizes[id(root)]

    total = total_work = 0
    for name, node in nodes.items():
        size, depth, work = measure(node)
        total += size
        total_work += work
        if total > MAX_TREE_NODES:
            raise ev.error(f"`{name}` makes the program larger than {MAX_TREE_NODES:,} nodes (each use of a `let` "
                           f"counts its whole value): the size limit of .hyp programs", node.loc)
        if depth > MAX_TREE_DEPTH:
            raise ev.error(f"`{name}` nests {depth} levels deep (counting the values of lets it uses and the "
                           f"argument lists of components): the limit is {MAX_TREE_DEPTH}", node.loc)
        if total_work > MAX_TREE_WORK:
            raise ev.error(f"`{name}` makes the program too large for its depth ({size:,} nodes, up to {depth} levels: "
                           f"each node counts once per level above it, and the limit is {MAX_TREE_WORK:,})", node.loc)
