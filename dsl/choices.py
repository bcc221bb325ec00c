"""Reading a concrete program's decisions back: the inverse of `Space.materialize`.

`assignment_of(root, program)` walks the space tree beside the concrete program and finds the
encoded value of every active decision, so a program built by `space.program(...)`, edited with
pyglove's `rebind`, or written by hand gets its choices back. Where the tree offers alternatives
(a `oneof`'s candidates, a `repeat`'s depths, an `optional` item that may be absent in a list) the
match backtracks: each visit yields every assignment under which that part of the tree produces
that part of the program. A program the space cannot produce is a `HypError` that names the
deepest field where no alternative fits and what the space allows there.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Mapping, Optional, Tuple

import pyglove as pg

from .errors import HypError
from .tree import ABSENT, ChoiceN, DecisionN, ProgramN, RepeatN, SNode, TreeVisitor

Assignment = Dict[str, Any]
# A path into the program: (text, position) per step, the position being the step's place in the
# order the match visits things (field index, list index ...).
Path = Tuple[Tuple[str, int], ...]
# What a program carries besides its decisions: parameters are matched apart, and the search
# settings (which hold no decisions) are the run's business, not the program's.
_NOT_FIELDS = ("params", "imports", "source", "search")


def _default(cls: type, name: str) -> Any:
    for key, field in cls.__schema__.fields.items():
        if str(key) == name:
            default = field.value.default
            return None if default == pg.MISSING_VALUE else default
    return None


def assignment_of(root: ProgramN, program: Any) -> Assignment:
    """The encoded assignment of the active decisions under which `root` materializes to
    `program`; HypError naming the first field that does not fit."""
    matcher = _Matcher()
    for a in matcher.program(root, program):
        return a
    path, message = matcher.failure[1:] if matcher.failure else ((), "the program does not fit the space")
    where = _path_text(path)
    raise HypError(f"the program is not in the space: {where + ': ' if where else ''}{message}")


def _path_text(path: Path) -> str:
    out = ""
    for part, _ in path:
        out += part if part.startswith("[") or not out else f".{part}"
    return out


def _same(x: Any, y: Any) -> bool:
    """Literal equality that keeps bools apart from numbers (`oneof(true, 1)` has two values)."""
    if isinstance(x, bool) or isinstance(y, bool):
        return type(x) is type(y) and x == y
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(_same(a, b) for a, b in zip(x, y))
    if isinstance(x, pg.Symbolic) or isinstance(y, pg.Symbolic):
        return pg.eq(x, y)
    return type(x) is type(y) and x == y if not _number(x) or not _number(y) else x == y


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _with(a: Assignment, node: DecisionN, value: Any) -> Optional[Assignment]:
    """`a` plus the decision's value, or None when `a` already gave it another (a shared `let`)."""
    if node.name in a:
        return a if a[node.name] == value else None
    return {**a, node.name: value}


class _Matcher(TreeVisitor):
    """`visit(node, value, path, a)` yields each extension of `a` under which node gives value."""

    def __init__(self) -> None:
        self.failure: Optional[Tuple[Tuple[int, ...], Path, str]] = None

    def fail(self, path: Path, message: str) -> None:
        """Keep the mismatch furthest into the program, as a parser reports the furthest token it
        could not take: every alternative before it fitted (a later one at the same place is
        the more general message)."""
        position = tuple(i for _, i in path)
        if self.failure is None or position >= self.failure[0]:
            self.failure = (position, path, message)

    # -- the program root -----------------------------------------------------------------------
    def program(self, root: ProgramN, program: Any) -> Iterator[Assignment]:
        if not isinstance(program, root.program_cls):
            self.fail((), f"expected a {root.program_cls.__name__}, got {type(program).__name__}")
            return iter(())
        names = [str(k) for k in root.program_cls.__schema__.fields if str(k) not in _NOT_FIELDS]
        return self._program_fields(root, program, names, 0, {})

    def _program_fields(self, root: ProgramN, program: Any, fields: list, i: int, a: Assignment) -> Iterator[Assignment]:
        if i == len(fields):
            yield from self._params(root, program, i, a)
            return
        name = fields[i]
        value = getattr(program, name, None)
        if name in root.fields:
            for a2 in self._field(root.fields[name], value, ((name, i),), a):
                yield from self._program_fields(root, program, fields, i + 1, a2)
        elif value is None or _same(value, _default(root.program_cls, name)):
            yield from self._program_fields(root, program, fields, i + 1, a)
        else:
            self.fail(((name, i),), f"the space has no `{name}`, the program sets it to {_show(value)}")

    def _params(self, root: ProgramN, program: Any, base: int, a: Assignment) -> Iterator[Assignment]:
        params = dict(program.params or {})
        extra = sorted(set(params) - set(root.params))
        if extra:
            self.fail(((extra[0], base + len(root.params)),), f"the space has no parameter `{extra[0]}`")
            return
        # Parameters come after the fields: their positions continue the fields' count.
        yield from self._params_from(list(root.params.items()), params, base, a)

    def _params_from(self, items: list, values: Mapping[str, Any], base: int, a: Assignment, k: int = 0) -> Iterator[Assignment]:
        if k == len(items):
            yield a
            return
        key, node = items[k]
        for a2 in self._field(node, values.get(key), ((key, base + k),), a):
            yield from self._params_from(items, values, base, a2, k + 1)

    def _dict_items(self, items: list, values: Mapping[str, Any], path: Path, a: Assignment, i: int = 0) -> Iterator[Assignment]:
        if i == len(items):
            yield a
            return
        key, node = items[i]
        if key not in values:
            self.fail(path + ((key, i),), "missing")
            return
        for a2 in self._field(node, values[key], path + ((key, i),), a):
            yield from self._dict_items(items, values, path, a2, i + 1)

    def _field(self, node: SNode, value: Any, path: Path, a: Assignment) -> Iterator[Assignment]:
        """A field's value: `none` there may also be an absent `optional`."""
        yield from self.visit(node, value, path, a)
        if value is None:
            yield from self.visit(node, ABSENT, path, a)

    # -- node types -----------------------------------------------------------------------------
    def visit_const(self, node, value, path, a):
        if value is not ABSENT and _same(node.value, value):
            yield a
        else:
            self.fail(path, f"{_show(value)} where the space has {_show(node.value)}")

    def visit_list(self, node, value, path, a):
        if not isinstance(value, (list, tuple)):
            self.fail(path, f"expected a list, got {_show(value)}")
            return
        yield from self._sequence(node.items, 0, list(value), 0, path, a)

    def _sequence(self, items, i, values, j, path, a) -> Iterator[Assignment]:
        """Items i.. of a list node against values j.. (a `repeat` splices its copies in, an
        absent `optional` drops out)."""
        if i == len(items):
            if j == len(values):
                yield a
            else:
                self.fail(path + ((f"[{j}]", j),), f"{_show(values[j])} is past the end of what the space allows")
            return
        item = items[i]
        if type(item) is RepeatN:
            for a2, n in self._counts(item, a):
                if j + n <= len(values):
                    for a3 in self._copies(item, values[j:j + n], path, j, a2):
                        yield from self._sequence(items, i + 1, values, j + n, path, a3)
            return
        for a2 in self.visit(item, ABSENT, path + ((f"[{j}]", j),), a):
            yield from self._sequence(items, i + 1, values, j, path, a2)
        if j < len(values):
            for a2 in self.visit(item, values[j], path + ((f"[{j}]", j),), a):
                yield from self._sequence(items, i + 1, values, j + 1, path, a2)
        else:
            self.fail(path + ((f"[{j}]", j),), "missing: the list is shorter than the space allows")

    def _counts(self, node: RepeatN, a: Assignment) -> Iterator[Tuple[Assignment, int]]:
        for encoded, n in node.lengths.items():
            if encoded is None:
                yield a, n
            else:
                a2 = _with(a, node.count, encoded)
                if a2 is not None:
                    yield a2, n

    def _copies(self, node: RepeatN, values, path, start, a, k: int = 0) -> Iterator[Assignment]:
        if k == len(values):
            yield a
            return
        for a2 in self.visit(node.copies[k], values[k], path + ((f"[{start + k}]", start + k),), a):
            yield from self._copies(node, values, path, start, a2, k + 1)

    def visit_dict(self, node, value, path, a):
        if not isinstance(value, dict) or set(value) != set(node.items):
            self.fail(path, f"expected the options {sorted(node.items)}, got {_show(value)}")
            return
        yield from self._dict_items(list(node.items.items()), value, path, a)

    def visit_component(self, node, value, path, a):
        if type(value) is not node.cls:
            self.fail(path, f"{_show(value)} where the space has {node.call_name}(...)")
            return
        for name, default, _ in node.defaults:
            if not _same(default, getattr(value, name, None)):
                self.fail(path + ((name, len(node.fields)),), f"{_show(getattr(value, name, None))} where the "
                                                              f"space fixes {_show(default)} (the default)")
                return
        yield from self._component_fields(node, value, list(node.fields.items()), path, a)

    def _component_fields(self, node, value, items, path, a, i: int = 0) -> Iterator[Assignment]:
        if i == len(items):
            yield a
            return
        name, child = items[i]
        v = getattr(value, name, None)
        for a2 in self._field(child, v, path + ((name, i),), a):
            yield from self._component_fields(node, value, items, path, a2, i + 1)

    def visit_choice(self, node: ChoiceN, value, path, a):
        indices = [a[node.name]] if node.name in a else range(len(node.candidates))
        found = False
        for j in indices:
            for a2 in self.visit(node.candidates[j], value, path, {**a, node.name: j}):
                found = True
                yield a2
        if not found and value is not ABSENT and all(not isinstance(c, (DecisionN, RepeatN)) and not c.children()
                                                     for c in node.candidates):
            self.fail(path, f"{_show(value)} is not one of {node.decision.describe()} (decision `{node.name}`)")

    def visit_subset(self, node, value, path, a):
        if not isinstance(value, (list, tuple)) or len(value) != node.k:
            self.fail(path, f"expected {node.k} items of {node.decision.describe()}, got {_show(value)}")
            return
        yield from self._subset(node, list(value), 0, (), path, a)

    def _subset(self, node, values, k, chosen, path, a) -> Iterator[Assignment]:
        if k == len(values):
            a2 = _with(a, node, tuple(chosen))
            if a2 is not None:
                yield a2
            return
        for j, candidate in enumerate(node.candidates):
            if node.distinct and j in chosen or node.sorted and chosen and j < chosen[-1]:
                continue
            for a2 in self.visit(candidate, values[k], path + ((f"[{k}]", k),), a):
                yield from self._subset(node, values, k + 1, chosen + (j,), path, a2)

    def visit_int(self, node, value, path, a):
        if isinstance(value, bool) or not isinstance(value, int) or not node.low <= value <= node.high:
            self.fail(path, f"{_show(value)} is outside {node.decision.describe()} (decision `{node.name}`)")
            return
        a2 = _with(a, node, int(value))
        if a2 is not None:
            yield a2

    def visit_float(self, node, value, path, a):
        if not _number(value) or not node.low <= value <= node.high:
            self.fail(path, f"{_show(value)} is outside {node.decision.describe()} (decision `{node.name}`)")
            return
        a2 = _with(a, node, float(value))
        if a2 is not None:
            yield a2

    def visit_optional(self, node, value, path, a):
        if value is ABSENT:
            a2 = _with(a, node, 0)
            if a2 is not None:
                yield a2
            return
        a2 = _with(a, node, 1)
        if a2 is not None:
            yield from self.visit(node.item, value, path, a2)

    def visit_repeat(self, node, value, path, a):
        if not isinstance(value, (list, tuple)):
            self.fail(path, f"expected the list of a repeat's copies, got {_show(value)}")
            return
        for a2, n in self._counts(node, a):
            if n == len(value):
                yield from self._copies(node, list(value), path, 0, a2)


def _show(value: Any) -> str:
    if value is ABSENT:
        return "nothing"
    if isinstance(value, pg.Symbolic):
        name = getattr(type(value), "__hyp_name__", "") or type(value).__name__
        return f"{name}(...)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

