"""Print programs and spaces back as `.hyp` text, in one canonical format.

Canonical means: imports first, then (for a space) `let`s, each after the `def`s it calls, and the
other `def`s, then user parameters, then data, target, hypernet, train, objective, search; keyword arguments only where they differ from the component's default;
positional arguments only for sequences (`sequential(a, b)`) and decision primitives; a call that
does not fit in one line puts one argument per line with a trailing comma. Paths of imports,
`python(...)` refs and data files are written relative to the file being written.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Callable, Dict, List, Optional, Sequence

import pyglove as pg

from .naming import (FIELD_ORDER, Instance, candidate_path, count_path, field_path, item_path, optional_item_path,
                     written_name)
from .registry import Component, lookup
from .tree import PRIMITIVE_TYPES, Const, DecisionN, DictN, ListN, ProgramN, SNode, TreeVisitor
from .vocabulary.program import RESERVED_FIELDS

WIDTH = 100


# -- layout -------------------------------------------------------------------------------------
def _call(name: str, args: List[str], indent: int) -> str:
    one = f"{name}({', '.join(args)})"
    if "\n" not in one and indent + len(one) <= WIDTH:
        return one
    body = "".join(f"  {_reindent(a, 2)},\n" for a in args)
    return f"{name}(\n{body})"


def _list(items: List[str], indent: int) -> str:
    one = f"[{', '.join(items)}]"
    if "\n" not in one and indent + len(one) <= WIDTH:
        return one
    body = "".join(f"  {_reindent(a, 2)},\n" for a in items)
    return f"[\n{body}]"


def _reindent(text: str, by: int) -> str:
    return text.replace("\n", "\n" + " " * by)


def literal(v: Any) -> str:
    """A Python literal as `.hyp` text."""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "none"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            raise ValueError(f"{v} cannot be written in .hyp text")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(literal(x) for x in v) + "]"
    raise ValueError(f"{v!r} cannot be written in .hyp text")


class _Paths:
    """Writes absolute paths relative to the folder of the file being written."""

    def __init__(self, dest: Optional[str]):
        self.base = os.path.dirname(os.path.abspath(dest)) if dest else os.getcwd()

    def rel(self, path: str) -> str:
        if not os.path.isabs(path):
            return path
        try:
            return os.path.relpath(path, self.base)
        except ValueError:  # another drive on Windows
            return path

    def ref(self, ref: str) -> str:
        target, _, fn = ref.rpartition(":")
        return f"{self.rel(target)}:{fn}" if os.path.isabs(target) else ref


# -- concrete programs --------------------------------------------------------------------------
def _is_default(field: Any, value: Any) -> bool:
    default = field.value.default
    if default == pg.MISSING_VALUE:
        return False
    try:
        return pg.eq(value, default) and type(value) is type(default)
    except Exception:
        return False


def value_text(v: Any, paths: _Paths, indent: int = 0, explicit: bool = False) -> str:
    """A concrete value (component, list, literal) as `.hyp` text (`explicit`: every argument,
    also those equal to their defaults)."""
    if isinstance(v, Component):
        return _component_text(v, paths, indent, explicit)
    if isinstance(v, (list, tuple)):
        return _list([value_text(x, paths, indent + 2, explicit) for x in v], indent)
    return literal(v)


def _component_text(c: Component, paths: _Paths, indent: int, explicit: bool = False) -> str:
    cls = type(c)
    args: List[str] = []
    varargs = cls.__hyp_varargs__
    extra = cls.__hyp_extra_kwargs__
    path_fields = getattr(cls, "__hyp_path_fields__", ())
    for i, (name, field) in enumerate(cls.hyp_fields().items()):
        value = c.sym_getattr(name)
        if name == varargs:
            args.extend(value_text(x, paths, indent + 2, explicit) for x in value)
            continue
        if name == extra:
            args.extend(f"{k} = {value_text(x, paths, indent + 2, explicit)}" for k, x in value.items())
            continue
        positional = i == 0 and cls.__hyp_positional__
        if _is_default(field, value) and not positional and not (explicit and value is not None):
            continue
        if name in path_fields and isinstance(value, str):
            value = paths.rel(value)
        if cls.__hyp_name__ == "python" and name == "ref":
            value = paths.ref(value)
        text = value_text(value, paths, indent + 2, explicit)
        args.append(text if positional else f"{name} = {text}")
    return _call(cls.__hyp_name__, args, indent)


def program_text(p: Any, dest: Optional[str] = None, explicit: bool = True) -> str:
    """A concrete `Program` as canonical `.hyp` text; `explicit`: every argument written, also
    one equal to its default (a best.hyp says what ran, whatever later defaults become)."""
    paths = _Paths(dest)
    blocks: List[str] = []
    imports = [f"import {literal(paths.rel(i))}" if os.path.isabs(i) or i.endswith(".py") else f"import {i}" for i in p.imports]
    if imports:
        blocks.append("\n".join(imports))
    params = [f"{k} = {value_text(v, paths, 0, explicit)}" for k, v in p.params.items()]
    if params:
        blocks.append("\n".join(params))
    for f in FIELD_ORDER:
        v = p.sym_getattr(f)
        if v is not None:
            blocks.append(f"{f} = {value_text(v, paths, 0, explicit)}")
    return "\n\n".join(blocks) + "\n"


# -- spaces -------------------------------------------------------------------------------------
class _SpacePrinter(TreeVisitor):
    """Prints a space tree as the text it was written as, as far as the decisions can tell: nodes
    shared by several uses print once, as `let`s and `def` parameters, and each `def` use whose
    result holds decisions prints as a call of that `def` again.

    Writing the `def` uses back is what keeps the decisions' names, sharing and conditions: a
    `name = "width"` in a `def` used twice names `width@<path of each use>`, which only the uses
    reproduce (dsl/naming.py); a parameter is one node shared by its uses, and is evaluated where
    the call is, under the call's condition. A `def` whose result holds no decision expands in
    place: nothing about it shows in the decisions. Each use prints its body with its own paths,
    so uses whose bodies print alike share one `def`, and the others get one each.
    """

    def __init__(self, paths: _Paths, lets: Optional[Dict[int, str]] = None, instances: Sequence[Instance] = (),
                 names: bool = True, fresh: Optional[Callable[[str], str]] = None):
        self.names = names
        self.paths = paths
        self.lets = lets if lets is not None else {}  # id(node) -> let name
        self.let_names = set(self.lets.values())
        self.fresh = fresh
        self.by_root: Dict[int, List[Instance]] = {}  # id(node) -> instances that made it, outermost first
        for inst in instances:
            if inst.root is not None:
                self.by_root.setdefault(id(inst.root), []).append(inst)
        self.scope: Optional[Instance] = None  # the def use or repeat copy being printed
        self.args: Dict[int, list] = {}  # id(node) -> [parameter, path of first use] of the def being printed
        self.defs: Dict[tuple, str] = {}  # (template, parameters, body) -> def name
        self.def_lines: List[str] = []
        self.memo: Dict[int, bool] = {}

    def text(self, node: SNode, path: str, indent: int = 0, top: bool = False) -> str:
        arg = self.args.get(id(node))
        if arg is not None:
            if arg[1] is None:
                arg[1] = path
            return arg[0]
        if not top and id(node) in self.lets:
            return self.lets[id(node)]
        inst = self._use_at(node)
        if inst is not None:
            return self.use(inst, node, path, indent)
        return self.visit(node, path, indent)

    def _use_at(self, node: SNode) -> Optional[Instance]:
        """The `def` use written here that made `node`, if it is to print as a call."""
        for inst in self.by_root.get(id(node), ()):
            if inst.parent is self.scope and inst.template is not None and _has_decision(node, self.memo):
                return inst
        return None

    def _plain(self, node: SNode) -> bool:
        """Whether `node` prints as its content (not as a parameter, a `let` or a call)."""
        return id(node) not in self.args and id(node) not in self.lets and self._use_at(node) is None

    def use(self, inst: Instance, node: SNode, path: str, indent: int) -> str:
        """`node` as a call of the `def` of `inst`, defining the `def` when it is new."""
        saved = self.scope, self.args
        self.scope, self.args = inst, {}
        taken = set(self.let_names)
        for name, arg in inst.args:
            if id(arg) not in self.args:
                while name in taken:  # a parameter must not hide a `let` the body refers to
                    name += "_"
                taken.add(name)
                self.args[id(arg)] = [name, None]
        body = self.text(node, path, 0, top=True)
        params, args = [], []
        for _, arg in inst.args:
            entry = self.args.pop(id(arg), None)
            if entry is not None and entry[1] is not None:  # a parameter the body does not use is left out
                params.append(entry[0])
                args.append((arg, entry[1]))
        self.scope, self.args = saved
        key = (inst.template, tuple(params), body)
        def_name = self.defs.get(key)
        if def_name is None:
            def_name = self.defs[key] = self.fresh(inst.template)
            self.def_lines.append(f"def {def_name}({', '.join(params)}) = {body}")
        return _call(def_name, [self.text(arg, first, indent + 2) for arg, first in args], indent)

    def take_defs(self) -> List[str]:
        """The `def` lines written since the last call."""
        out, self.def_lines = self.def_lines, []
        return out

    def _name_arg(self, node: DecisionN, path: str) -> List[str]:
        name = written_name(node, path) if self.names else None
        return [] if name is None else [f"name = {literal(name)}"]

    def visit_const(self, node, path, indent):
        return literal(node.value)

    def visit_list(self, node, path, indent):
        return _list([self.text(x, item_path(path, i), indent + 2) for i, x in enumerate(node.items)], indent)

    def visit_dict(self, node, path, indent):
        return ", ".join(f"{k} = {self.text(v, field_path(path, k), indent)}" for k, v in node.items.items())

    def visit_repeat(self, node, path, indent):
        count = self.text(node.count, count_path(path), indent + 2)
        if not node.copies:
            return "[]"
        first = node.copies[0]
        saved = self.scope
        for inst in self.by_root.get(id(first), ()):
            if inst.template is None and inst.parent is saved:
                self.scope = inst  # the printed item stands for every copy
                break
        item = self.text(first, item_path(path, 0), indent + 2)
        self.scope = saved
        return _call(node.keyword, [count, item], indent)

    def _candidates(self, node, path, indent) -> List[str]:
        cands = node.candidates
        return [self.text(c, candidate_path(cands, path, j), indent + 2) for j, c in enumerate(cands)]

    def visit_choice(self, node, path, indent):
        return _call(node.keyword, self._candidates(node, path, indent) + self._name_arg(node, path), indent)

    def visit_subset(self, node, path, indent):
        opts = ([] if node.distinct else ["distinct = false"]) + (["sorted = true"] if node.sorted else [])
        args = [str(node.k)] + self._candidates(node, path, indent) + opts + self._name_arg(node, path)
        return _call(node.keyword, args, indent)

    def visit_optional(self, node, path, indent):
        item = self.text(node.item, optional_item_path(node.item, path), indent + 2)
        return _call(node.keyword, [item] + self._name_arg(node, path), indent)

    def visit_float(self, node, path, indent):
        args = [literal(float(node.low)), literal(float(node.high))] + (["log = true"] if node.log else [])
        return _call(node.keyword, args + self._name_arg(node, path), indent)

    def visit_int(self, node, path, indent):
        args = [str(node.low), str(node.high)] + (["log = true"] if node.log else [])
        return _call(node.keyword, args + self._name_arg(node, path), indent)

    def visit_component(self, node, path, indent):
        cls = node.cls
        fields = cls.hyp_fields()
        varargs, extra = cls.__hyp_varargs__, cls.__hyp_extra_kwargs__
        path_fields = getattr(cls, "__hyp_path_fields__", ())
        args: List[str] = []
        for i, (name, field) in enumerate(fields.items()):
            positional = i == 0 and cls.__hyp_positional__
            if name not in node.fields:
                if positional and field.value.default != pg.MISSING_VALUE:
                    args.append(literal(field.value.default))
                continue
            sub = node.fields[name]
            at = field_path(path, name)
            if name == varargs and type(sub) is ListN and self._plain(sub):
                args.extend(self.text(x, item_path(at, j), indent + 2) for j, x in enumerate(sub.items))
                continue
            if name == extra and type(sub) is DictN:
                args.extend(f"{k} = {self.text(v, field_path(at, k), indent + 2)}" for k, v in sub.items.items())
                continue
            if type(sub) is Const and self._plain(sub):
                value = sub.value
                if name in path_fields and isinstance(value, str):
                    value = self.paths.rel(value)
                elif cls.__hyp_name__ == "python" and name == "ref":
                    value = self.paths.ref(value)
                if _is_default(field, _coerce(field, value)) and not positional:
                    continue
                args.append(literal(value) if positional else f"{name} = {literal(value)}")
                continue
            text = self.text(sub, at, indent + 2)
            args.append(text if positional else f"{name} = {text}")
        return _call(node.call_name, args, indent)


def _coerce(field: Any, value: Any) -> Any:
    if isinstance(field.value, pg.typing.Float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _has_decision(node: SNode, memo: Dict[int, bool]) -> bool:
    k = id(node)
    if k not in memo:
        memo[k] = isinstance(node, DecisionN) or any(_has_decision(c, memo) for c in node.children())
    return memo[k]


def _identifier(name: str) -> str:
    out = "".join(c if c.isalnum() else "_" for c in name).strip("_") or "shared"
    return out if not out[0].isdigit() else "_" + out


def _count_uses(roots: List[SNode]) -> tuple:
    """Reference counts of every node reachable from `roots`, and the nodes in post-order."""
    uses: Dict[int, int] = {}
    nodes: Dict[int, SNode] = {}
    order: List[int] = []
    stack: List[tuple] = [(r, False) for r in reversed(roots)]
    while stack:
        n, done = stack.pop()
        k = id(n)
        if done:
            order.append(k)  # post-order: a shared node's own shared parts come first
            continue
        uses[k] = uses.get(k, 0) + 1
        if uses[k] > 1:
            continue
        nodes[k] = n
        stack.append((n, True))
        stack.extend((c, False) for c in reversed(n.children()))
    return uses, nodes, order


_PRIMITIVES = frozenset(t.keyword for t in PRIMITIVE_TYPES)


def space_text(root: ProgramN, shared_names: Dict[int, str], dest: Optional[str] = None,
               instances: Sequence[Instance] = ()) -> str:
    """A space as canonical `.hyp` text: shared decisions as `let`s, and the `def` uses (from
    `instances`, as the evaluator recorded them) whose results hold decisions as calls."""
    paths = _Paths(dest)
    uses, nodes, order = _count_uses(list(root.fields.values()) + list(root.params.values()))
    memo: Dict[int, bool] = {}
    taken = set(root.params) | set(RESERVED_FIELDS)

    def fresh(base: str) -> str:
        name, i = base, 2
        while name in taken or name in _PRIMITIVES or lookup(name) is not None:
            name, i = f"{base}_{i}", i + 1
        taken.add(name)
        return name

    # A `let` keeps its name: decisions inside it are named by it, and the file it came from
    # already showed the name free.
    lets: Dict[int, str] = {k: shared_names[k] for k in order if k in shared_names and _has_decision(nodes[k], memo)}
    taken.update(lets.values())
    params_of_defs = {id(a) for inst in instances if inst.root is not None for _, a in inst.args}
    for k in order:
        n = nodes[k]
        if k in lets or type(n) is Const or not _has_decision(n, memo):
            continue
        if uses[k] > 1 and k not in params_of_defs:
            # Only `let`s and `def` parameters share nodes in loaded text; a tree shared some other
            # way still prints loadable, its shared part as a `let`.
            lets[k] = fresh(_identifier(n.name if isinstance(n, DecisionN) else "shared"))
    printer = _SpacePrinter(paths, lets, instances, fresh=fresh)
    printer.memo = memo
    statements: List[str] = []
    for k in order:
        if k in lets:
            line = f"let {lets[k]} = {printer.text(nodes[k], lets[k], 0, top=True)}"
            statements.extend(printer.take_defs())  # the defs a let calls come before it
            statements.append(line)
    params = [f"{k} = {printer.text(v, k, 0)}" for k, v in root.params.items()]
    fields = [f"{f} = {printer.text(root.fields[f], f, 0)}" for f in FIELD_ORDER if f in root.fields]
    blocks: List[str] = []
    imports = [f"import {literal(paths.rel(i))}" if os.path.isabs(i) or i.endswith(".py") else f"import {i}" for i in root.imports]
    for block in (imports, statements, printer.take_defs(), params):
        if block:
            blocks.append("\n".join(block))
    blocks.extend(fields)
    return "\n\n".join(blocks) + "\n"


def node_text(node: SNode) -> str:
    """One node inline (for listings of a decision's choices)."""
    text = _SpacePrinter(_Paths(None), names=False).visit(node, "", 0)
    return " ".join(line.strip() for line in text.split("\n")).replace("( ", "(").replace(", )", ")").replace(",)", ")")
