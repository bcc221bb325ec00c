"""Print programs and spaces back as `.hyp` text, in one canonical format.

Canonical means: imports first, then user parameters, then data, target, hypernet, train,
objective, search; keyword arguments only where they differ from the component's default;
positional arguments only for sequences (`sequential(a, b)`) and decision primitives; a call that
does not fit in one line puts one argument per line with a trailing comma. Paths of imports,
`python(...)` refs and data files are written relative to the file being written.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, List, Optional

import pyglove as pg

from .registry import Component
from .tree import (ChoiceN, CompN, Const, DecisionN, DictN, FloatN, ListN, OptionalN, ProgramN,
                   RepeatN, SNode, SubsetN)
from .vocabulary.program import RESERVED_FIELDS

WIDTH = 100
FIELD_ORDER = ("data", "target", "hypernet", "train", "objective", "search")


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


def value_text(v: Any, paths: _Paths, indent: int = 0) -> str:
    """A concrete value (component, list, literal) as `.hyp` text."""
    if isinstance(v, Component):
        return _component_text(v, paths, indent)
    if isinstance(v, (list, tuple)):
        return _list([value_text(x, paths, indent + 2) for x in v], indent)
    return literal(v)


def _component_text(c: Component, paths: _Paths, indent: int) -> str:
    cls = type(c)
    args: List[str] = []
    varargs = cls.__hyp_varargs__
    extra = cls.__hyp_extra_kwargs__
    path_fields = getattr(cls, "__hyp_path_fields__", ())
    for i, (name, field) in enumerate(cls.hyp_fields().items()):
        value = c.sym_getattr(name)
        if name == varargs:
            args.extend(value_text(x, paths, indent + 2) for x in value)
            continue
        if name == extra:
            args.extend(f"{k} = {value_text(x, paths, indent + 2)}" for k, x in value.items())
            continue
        positional = i == 0 and cls.__hyp_positional__
        if _is_default(field, value) and not positional:
            continue
        if name in path_fields and isinstance(value, str):
            value = paths.rel(value)
        if cls.__hyp_name__ == "python" and name == "ref":
            value = paths.ref(value)
        text = value_text(value, paths, indent + 2)
        args.append(text if positional else f"{name} = {text}")
    return _call(cls.__hyp_name__, args, indent)


def program_text(p: Any, dest: Optional[str] = None) -> str:
    """A concrete `Program` as canonical `.hyp` text."""
    paths = _Paths(dest)
    blocks: List[str] = []
    imports = [f"import {literal(paths.rel(i))}" if os.path.isabs(i) or i.endswith(".py") else f"import {i}" for i in p.imports]
    if imports:
        blocks.append("\n".join(imports))
    params = [f"{k} = {value_text(v, paths, 0)}" for k, v in p.params.items()]
    if params:
        blocks.append("\n".join(params))
    for f in FIELD_ORDER:
        v = p.sym_getattr(f)
        if v is not None:
            blocks.append(f"{f} = {value_text(v, paths, 0)}")
    return "\n\n".join(blocks) + "\n"


# -- spaces -------------------------------------------------------------------------------------
class _SpacePrinter:
    """Prints a space tree; nodes shared by several uses print once, as `let`."""

    def __init__(self, paths: _Paths, lets: Optional[Dict[int, str]] = None, names: bool = True):
        self.names = names
        self.paths = paths
        self.lets = lets if lets is not None else {}  # id(node) -> let name
        self.templates: Dict[int, tuple] = {}  # id(repeat node) -> (def name, [param node ids])
        self.params: Dict[int, tuple] = {}  # id(node) -> (param name, path of first use), inside a def body
        self.def_lines: List[str] = []
        self.defining: set = set()

    def text(self, node: SNode, path: str, indent: int = 0, top: bool = False) -> str:
        if not top and id(node) in self.lets:
            return self.lets[id(node)]
        if id(node) in self.params:
            name, first = self.params[id(node)]
            if first is None:
                self.params[id(node)] = (name, path)
            return name
        if id(node) in self.templates and id(node) not in self.defining:
            return self.template_call(node, path, indent)
        if isinstance(node, Const):
            return literal(node.value)
        if isinstance(node, ListN):
            return _list([self.text(x, f"{path}[{i}]", indent + 2) for i, x in enumerate(node.items)], indent)
        if isinstance(node, DictN):
            return ", ".join(f"{k} = {self.text(v, f'{path}.{k}', indent)}" for k, v in node.items.items())
        if isinstance(node, CompN):
            return self.component(node, path, indent)
        if isinstance(node, RepeatN):
            count = self.text(node.count, f"{path}.n", indent + 2)
            if not node.copies:
                return "[]"
            return _call("repeat", [count, self.text(node.copies[0], f"{path}[0]", indent + 2)], indent)
        if isinstance(node, DecisionN):
            return self.decision(node, path, indent)
        raise TypeError(f"cannot print {type(node).__name__}")

    def template_call(self, node: SNode, path: str, indent: int) -> str:
        """Print `node` as a call of a generated `def` whose parameters are its shared parts."""
        def_name, param_ids = self.templates[id(node)]
        names = [f"p{i}" for i in range(len(param_ids))]
        saved = dict(self.params)
        for k, name in zip(param_ids, names):
            self.params[k] = (name, None)
        self.defining.add(id(node))
        body = self.text(node, path, 0)
        self.defining.discard(id(node))
        firsts = [self.params[k][1] for k in param_ids]
        self.params = saved
        self.def_lines.append(f"def {def_name}({', '.join(names)}) = {body}")
        args = [self.text(_find(node, k), first or path, indent + 2) for k, first in zip(param_ids, firsts)]
        return _call(def_name, args, indent)

    def _name_arg(self, node: DecisionN, path: str) -> List[str]:
        if not self.names:
            return []
        if node.user_name:
            return [f"name = {literal(node.user_name)}"]
        if node.name != path:
            return [f"name = {literal(node.name)}"]
        return []

    def decision(self, node: DecisionN, path: str, indent: int) -> str:
        if isinstance(node, ChoiceN):
            cands = [self.text(c, self._cand_path(node.candidates, path, j), indent + 2) for j, c in enumerate(node.candidates)]
            return _call("oneof", cands + self._name_arg(node, path), indent)
        if isinstance(node, SubsetN):
            cands = [self.text(c, self._cand_path(node.candidates, path, j), indent + 2) for j, c in enumerate(node.candidates)]
            opts = ([] if node.distinct else ["distinct = false"]) + (["sorted = true"] if node.sorted else [])
            return _call("manyof", [str(node.k)] + cands + opts + self._name_arg(node, path), indent)
        if isinstance(node, OptionalN):
            inner = f"{path}.value" if isinstance(node.item, DecisionN) else path
            return _call("optional", [self.text(node.item, inner, indent + 2)] + self._name_arg(node, path), indent)
        if isinstance(node, FloatN):
            args = [literal(float(node.low)), literal(float(node.high))] + (["log = true"] if node.log else [])
            return _call("floatv", args + self._name_arg(node, path), indent)
        args = [str(node.low), str(node.high)] + (["log = true"] if node.log else [])
        return _call("intv", args + self._name_arg(node, path), indent)

    def _cand_path(self, cands: List[SNode], path: str, j: int) -> str:
        return candidate_path(cands, path, j)

    def component(self, node: CompN, path: str, indent: int) -> str:
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
            if name == varargs and isinstance(sub, ListN) and id(sub) not in self.lets:
                args.extend(self.text(x, f"{path}.{name}[{i}]", indent + 2) for i, x in enumerate(sub.items))
                continue
            if name == extra and isinstance(sub, DictN):
                args.extend(f"{k} = {self.text(v, f'{path}.{k}', indent + 2)}" for k, v in sub.items.items())
                continue
            if isinstance(sub, Const):
                value = sub.value
                if name in path_fields and isinstance(value, str):
                    value = self.paths.rel(value)
                elif cls.__hyp_name__ == "python" and name == "ref":
                    value = self.paths.ref(value)
                if _is_default(field, _coerce(field, value)) and not positional:
                    continue
                args.append(literal(value) if positional else f"{name} = {literal(value)}")
                continue
            text = self.text(sub, f'{path}.{name}', indent + 2)
            args.append(text if positional else f"{name} = {text}")
        return _call(node.call_name, args, indent)


def _occurrence_counter(target: SNode):
    """A function: uses of `target` inside a node, shared subtrees counted once per use."""
    memo: Dict[int, int] = {}

    def occ(n: SNode) -> int:
        if n is target:
            return 1
        k = id(n)
        if k not in memo:
            memo[k] = sum(occ(c) for c in n.children())
        return memo[k]

    return occ


def _occurrences(root: SNode, target: SNode) -> int:
    """Uses of `target` inside `root`."""
    return _occurrence_counter(target)(root)


def _lowest_common_owner(roots: List[SNode], target: SNode) -> Optional[SNode]:
    """The smallest subtree (other than `target`) that holds every use of `target`."""
    occ = _occurrence_counter(target)
    total = sum(occ(r) for r in roots)
    holders = [r for r in roots if occ(r) == total]
    if not holders:
        return None
    node, parent = holders[0], None
    while True:
        inner = [c for c in node.children() if c is not target and occ(c) == total]
        if not inner:
            # A list or option block prints inside its component's call: own the component.
            return parent if isinstance(node, (ListN, DictN)) and parent is not None else node
        node, parent = inner[0], node


def candidate_path(cands: List[SNode], path: str, j: int) -> str:
    """Path of candidate j of a oneof/manyof: `.kind` for a component unique among them, else `#j`."""
    c = cands[j]
    if isinstance(c, CompN):
        name = c.cls.__hyp_name__
        if sum(1 for x in cands if isinstance(x, CompN) and x.cls.__hyp_name__ == name) == 1:
            return f"{path}.{name}"
    return f"{path}#{j}"


def _find(root: SNode, key: int) -> SNode:
    stack = [root]
    while stack:
        n = stack.pop()
        if id(n) == key:
            return n
        stack.extend(n.children())
    raise KeyError(key)


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


def space_text(root: ProgramN, shared_names: Dict[int, str], dest: Optional[str] = None) -> str:
    """A space as canonical `.hyp` text: shared decisions as `let`s, templates expanded (a repeated
    body whose own decisions are shared inside it prints as a `def` taking them)."""
    from .registry import lookup
    from .semantics import PRIMITIVES
    paths = _Paths(dest)
    uses, nodes, order = _count_uses(list(root.fields.values()) + list(root.params.values()))
    memo: Dict[int, bool] = {}
    taken = set(root.params) | set(RESERVED_FIELDS)

    def fresh(base: str) -> str:
        name, i = base, 2
        while name in taken or name in PRIMITIVES or lookup(name) is not None:
            name, i = f"{base}_{i}", i + 1
        taken.add(name)
        return name

    # A node that `let` did not bind but that several places share (a `def` argument used twice)
    # prints as an argument of a generated `def` for the smallest subtree holding all its uses:
    # a top-level `let` would share it across repeat copies, drop its activation condition and
    # rename its decisions.
    templates: Dict[int, tuple] = {}  # id(subtree root) -> (def name, [param node ids])
    local: set = set()
    for k in order:
        n = nodes[k]
        if isinstance(n, RepeatN) and n.copies:
            for i, copy in enumerate(n.copies):
                sub_uses, _, sub_order = _count_uses([copy])
                params = [j for j in sub_order if sub_uses[j] > 1 and sub_uses[j] == uses[j]
                          and j not in shared_names and _has_decision(nodes[j], memo) and not isinstance(nodes[j], Const)]
                local.update(params)
                if i == 0 and params:
                    templates[id(copy)] = (fresh("template"), params)
    roots = list(root.fields.values()) + list(root.params.values())
    assigned: List[SNode] = []
    for k in reversed(order):  # outer shared nodes first: an inner one may live inside them
        n = nodes[k]
        if k in local or k in shared_names or uses[k] < 2 or isinstance(n, Const) or not _has_decision(n, memo):
            continue
        total = sum(_occurrences(r, n) for r in roots)
        within = [p for p in assigned if _occurrences(p, n) * sum(_occurrences(r, p) for r in roots) == total]
        owner = _lowest_common_owner(within[-1:] or roots, n)
        if owner is None:
            continue
        assigned.append(n)
        name, params = templates.get(id(owner), (None, []))
        templates[id(owner)] = (name or fresh("template"), params + [k])
        local.add(k)
    lets: Dict[int, str] = {}
    for k in order:
        n = nodes[k]
        if k in local or isinstance(n, Const) or not _has_decision(n, memo):
            continue
        if k in shared_names or uses[k] > 1:
            lets[k] = fresh(shared_names.get(k) or _identifier(n.name if isinstance(n, DecisionN) else "shared"))
    printer = _SpacePrinter(paths, lets)
    printer.templates = {k: (name, params) for k, (name, params) in templates.items()}
    let_lines = [f"let {lets[k]} = {printer.text(nodes[k], lets[k], 0, top=True)}" for k in order if k in lets]
    params = [f"{k} = {printer.text(v, k, 0)}" for k, v in root.params.items()]
    fields = [f"{f} = {printer.text(root.fields[f], f, 0)}" for f in FIELD_ORDER if f in root.fields]
    blocks: List[str] = []
    imports = [f"import {literal(paths.rel(i))}" if os.path.isabs(i) or i.endswith(".py") else f"import {i}" for i in root.imports]
    for block in (imports, let_lines, printer.def_lines, params):
        if block:
            blocks.append("\n".join(block))
    blocks.extend(fields)
    return "\n\n".join(blocks) + "\n"


def node_text(node: SNode) -> str:
    """One node inline (for listings of a decision's choices)."""
    text = _SpacePrinter(_Paths(None), names=False).text(node, "", 0)
    return " ".join(line.strip() for line in text.split("\n")).replace("( ", "(").replace(", )", ")").replace(",)", ")")
