"""Narrowing a space: some decisions fixed to values, the rest still open.

`fix_tree(root, values)` copies the space tree with each fixed decision replaced by what it
stands for under its value (the chosen candidate's subtree, the literal number, the chosen items,
the first n copies of a `repeat`), so the narrowed space materializes, samples and prints like any
other. A decision that was active only under a fixed parent's value inherits that parent's own
condition; decisions under other values of a fixed decision are gone with their branch. Every
other decision keeps its node's name, so the narrowed table is exactly the old table minus the
fixed and unreachable decisions.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .errors import HypError
from .naming import Instance
from .tree import (ABSENT, ChoiceN, CompN, Const, DecisionN, DictN, ListN, OptionalN, ProgramN,
                   RepeatN, SNode, SubsetN, TreeVisitor, decision_nodes)

Condition = Optional[Tuple[list, frozenset]]


def fix_tree(root: ProgramN, values: Mapping[str, Any],
             instances: Sequence[Instance] = ()) -> Tuple[ProgramN, Dict[int, int], List[Instance]]:
    """A copy of `root` with the decisions named in `values` (encoded) fixed; also the map from
    old node ids to the copies (for `let` names) and the `def` uses and `repeat` copies over the
    copied nodes (so the narrowed space prints its `def`s again)."""
    fixer = _Fixer(values)
    new_root = ProgramN(root.program_cls, {k: fixer.visit(n) for k, n in root.fields.items()},
                        {k: fixer.visit(n) for k, n in root.params.items()}, list(root.imports), root.source)
    fixer.relink()
    return new_root, {old: id(new) for old, new in fixer.copies.items()}, fixer.instances(instances)


def _holds(values: frozenset, value: Any) -> bool:
    if isinstance(value, tuple):
        return any(v in values for v in value)
    return value in values


class _Fixer(TreeVisitor):
    """Copies nodes once each (shared `let` nodes stay shared), replacing fixed decisions."""

    def __init__(self, values: Mapping[str, Any]):
        self.values = values
        self.copies: Dict[int, SNode] = {}  # id(old node) -> its copy (or its replacement)
        self.decisions: Dict[int, Tuple[DecisionN, DecisionN]] = {}  # id(copy) -> (old, copy)
        self._instances: Dict[int, Tuple[Instance, Instance]] = {}  # id(old instance) -> (old, copy)
        self._in_repeat = 0  # inside the copies of a repeat whose depth stays open

    def visit(self, node: SNode, *args: Any) -> SNode:
        k = id(node)
        if k not in self.copies:
            self.copies[k] = super().visit(node, *args)
        return self.copies[k]

    def instance(self, old: Optional[Instance]) -> Optional[Instance]:
        """The copy of an instance record (one per old record; its nodes are set by `instances`)."""
        if old is None:
            return None
        key = id(old)
        if key not in self._instances:
            self._instances[key] = (old, Instance(old.template, self.instance(old.parent)))
        return self._instances[key][1]

    def instances(self, old: Sequence[Instance]) -> List[Instance]:
        """Copies of the instance records whose nodes survived the narrowing, pointing at the
        copied nodes (set after the copy, since a use's root is copied after what it holds)."""
        out = []
        for inst in old:
            if inst.root is not None and id(inst.root) not in self.copies:
                continue  # its branch was cut off by a fixed decision
            out.append(self.instance(inst))
        for original, new in self._instances.values():
            new.root = self.copies.get(id(original.root)) if original.root is not None else None
            new.args = tuple((name, self.copies[id(node)]) for name, node in original.args if id(node) in self.copies)
        return out

    def relink(self) -> None:
        """Point each copied decision's condition at the copy of its parent, walking up through
        fixed parents (whose values, by construction, switched the branch on)."""
        for old, new in self.decisions.values():
            new.condition = self._condition(old.condition)

    def _condition(self, condition: Condition) -> Condition:
        while condition is not None:
            holder, values = condition
            parent = holder[0]
            if parent.name not in self.values:
                copy = self.copies.get(id(parent))
                return ([copy], values) if isinstance(copy, DecisionN) else condition
            condition = parent.condition  # fixed: active exactly when that parent is
        return None

    def _keep(self, old: DecisionN, new: DecisionN) -> DecisionN:
        inst = old.instance
        if self._in_repeat and inst is not None and inst.template is None:
            new.instance = self.instance(inst)  # a repeat copy's own decision: named per copy again
        else:
            # Printed as an expanded tree, a decision keeps its name only by writing it out: the
            # paths that named it may have moved (a fixed `oneof` above it is gone).
            new.user_name, new.instance = new.name, None
        self.decisions[id(new)] = (old, new)
        return new

    # -- plain nodes ----------------------------------------------------------------------------
    def visit_const(self, node):
        return Const(node.value, node.loc)

    def visit_list(self, node):
        items = []
        for item in node.items:
            copy = self.visit(item)
            if isinstance(copy, Const) and copy.value is ABSENT:
                continue  # a fixed-absent optional drops out of its list
            if isinstance(copy, ListN) and type(item) is RepeatN:
                items.extend(copy.items)  # a repeat of fixed depth: its copies, spliced in
                continue
            items.append(copy)
        return ListN(items, node.loc)

    def visit_dict(self, node):
        return DictN({k: self.visit(v) for k, v in node.items.items()}, node.loc)

    def visit_component(self, node):
        fields = {}
        for k, v in node.fields.items():
            copy = self.visit(v)
            fields[k] = Const(None, copy.loc) if isinstance(copy, Const) and copy.value is ABSENT else copy
        return CompN(node.cls, fields, node.loc, node.float_fields, node.call_name)

    def visit_repeat(self, node):
        count = node.count
        fixed = [d for c in node.copies for d in decision_nodes(c) if d.name in self.values]
        if isinstance(count, DecisionN) and count.name in self.values:
            n = node.lengths[self.values[count.name]]
        elif not isinstance(count, DecisionN) and fixed:
            n = node.lengths[None]
        else:
            if fixed:
                # Copies of one repeat print as one item; with the depth open they must stay alike.
                raise HypError(f"cannot fix `{fixed[0].name}` while the depth of its `repeat` (`{count.name}`) "
                               "is open: fix the depth too", node.loc)
            # Decisions in the copies keep their copy records: the printer writes one item for
            # all copies, and loading it back names them per copy again.
            self._in_repeat += 1
            try:
                return RepeatN(node.loc, self.visit(count), [self.visit(c) for c in node.copies], dict(node.lengths))
            finally:
                self._in_repeat -= 1
        # A fixed depth: the first n copies, each now free to differ, as a list (spliced into
        # the enclosing list, as the repeat was).
        return ListN([self.visit(c) for c in node.copies[:n]], node.loc)

    # -- decisions ------------------------------------------------------------------------------
    def visit_choice(self, node):
        if node.name in self.values:
            return self.visit(node.candidates[self.values[node.name]])
        return self._keep(node, ChoiceN(node.loc, node.name, node.user_name, node.instance, None,
                                        [self.visit(c) for c in node.candidates]))

    def visit_subset(self, node):
        if node.name in self.values:
            return ListN([self.visit(node.candidates[i]) for i in self.values[node.name]], node.loc)
        return self._keep(node, SubsetN(node.loc, node.name, node.user_name, node.instance, None, node.k,
                                        [self.visit(c) for c in node.candidates], node.distinct, node.sorted))

    def visit_int(self, node):
        if node.name in self.values:
            return Const(self.values[node.name], node.loc)
        return self._keep(node, type(node)(node.loc, node.name, node.user_name, node.instance, None,
                                           node.low, node.high, node.log))

    visit_float = visit_int

    def visit_optional(self, node):
        if node.name in self.values:
            return self.visit(node.item) if self.values[node.name] else Const(ABSENT, node.loc)
        return self._keep(node, OptionalN(node.loc, node.name, node.user_name, node.instance, None,
                                          self.visit(node.item)))



