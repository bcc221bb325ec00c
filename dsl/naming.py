"""How decisions are named: the one place the evaluator, the space and the printer take names from.

A decision is named by its `name = "..."`, or else by its path in the program
(`target.layers[1].out`): the path of its first use in the tree, walking the `let`s, then the user
parameters, then the fields in `FIELD_ORDER`. Paths come from the tree, not from how the text
spelled it, so a `def` call and its expansion give the same paths.

A user name written once in a `def` body or a `repeat` item is repeated by each use or copy, each
an `Instance`. When every decision sharing a user name belongs to an instance, each gets the path
of its instance's root as a suffix, `width@target.layers[1]`; any other repeated name is an error.
The suffix depends on where the instances are, which the expanded tree cannot tell, so the printer
writes the `def` uses and `repeat`s back (dsl/printer.py) and the loader suffixes the same way.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set, Tuple

from .errors import HypError
from .tree import CompN, DecisionN, ProgramN, SNode, TreeVisitor

# The order a program's reserved fields are named and printed in (after `let`s and parameters).
FIELD_ORDER = ("data", "augment", "target", "hypernet", "train", "objective", "constraints", "search")


class Instance:
    """One use of a `def` (`template` is its name) or one copy of a `repeat` (`template` is None).

    `parent` is the instance the use or copy was written in; `root` is the node it evaluated to,
    set by the evaluator once that node was made by this instance (a body that only refers to a
    parameter or a `let` makes nothing and leaves it None); `args` holds the `def` parameters the
    body used, as (name, node), in declaration order.
    """

    __slots__ = ("template", "parent", "root", "args")

    def __init__(self, template: Optional[str], parent: Optional["Instance"]):
        self.template = template
        self.parent = parent
        self.root: Optional[SNode] = None
        self.args: Tuple[Tuple[str, SNode], ...] = ()


# -- paths --------------------------------------------------------------------------------------
def field_path(path: str, field: str) -> str:
    """Path of a component's argument or a keyword option."""
    return f"{path}.{field}"


def item_path(path: str, i: int) -> str:
    """Path of item i of a list, or of copy i of a `repeat`."""
    return f"{path}[{i}]"


def count_path(path: str) -> str:
    """Path of the count of a `repeat`."""
    return f"{path}.n"


def candidate_path(cands: Sequence[SNode], path: str, j: int) -> str:
    """Path of candidate j of a oneof/manyof: `.kind` for a component unique among them, else `#j`."""
    c = cands[j]
    if type(c) is CompN:
        name = c.cls.__hyp_name__
        if sum(1 for x in cands if type(x) is CompN and x.cls.__hyp_name__ == name) == 1:
            return f"{path}.{name}"
    return f"{path}#{j}"


def optional_item_path(item: SNode, path: str) -> str:
    """Path of the value of an `optional` at `path`."""
    # The item shares the optional's path (`x.layers[1].out` reads better than `...value.out`),
    # except when it is a decision itself, which needs a name of its own.
    return f"{path}.value" if isinstance(item, DecisionN) else path


def suffixed(user_name: str, instance_path: str) -> str:
    """The name of a user-named decision repeated by instances, in the instance at `instance_path`."""
    return f"{user_name}@{instance_path}"


def written_name(node: DecisionN, path: str) -> Optional[str]:
    """The `name = "..."` to print for `node` printed at `path`, or None when its path names it.

    A user name is printed as written, without its `@instance` suffix: the printer writes the
    instances back as `def` uses and `repeat`s, so loading suffixes it again with the same paths.
    (Printing the suffixed name instead would not survive a `repeat`, whose one printed item
    stands for every copy.)
    """
    if node.user_name:
        return node.user_name
    return node.name if node.name != path else None


# -- naming a space -----------------------------------------------------------------------------
class _PathNamer(TreeVisitor):
    """Names each decision without a user name by the path of its first visit; records the paths
    of the nodes in `wanted` (instance roots)."""

    def __init__(self, wanted: Set[int]):
        self.seen: Set[int] = set()
        self.wanted = wanted
        self.paths: Dict[int, str] = {}

    def walk(self, node: SNode, path: str) -> None:
        k = id(node)
        if k in self.seen:
            return
        self.seen.add(k)
        if k in self.wanted:
            self.paths[k] = path
        self.visit(node, path)

    def visit_const(self, node, path):
        pass

    def visit_list(self, node, path):
        for i, item in enumerate(node.items):
            self.walk(item, item_path(path, i))

    def visit_dict(self, node, path):
        for key, item in node.items.items():
            self.walk(item, field_path(path, key))

    def visit_component(self, node, path):
        fields = node.fields
        for f in node.cls.hyp_fields():
            if f in fields:
                self.walk(fields[f], field_path(path, f))

    def visit_choice(self, node, path):
        node.name = node.user_name or path
        cands = node.candidates
        for j, c in enumerate(cands):
            self.walk(c, candidate_path(cands, path, j))

    visit_subset = visit_choice

    def visit_int(self, node, path):
        node.name = node.user_name or path

    visit_float = visit_int

    def visit_optional(self, node, path):
        node.name = node.user_name or path
        self.walk(node.item, optional_item_path(node.item, path))

    def visit_repeat(self, node, path):
        self.walk(node.count, count_path(path))
        for i, c in enumerate(node.copies):
            self.walk(c, item_path(path, i))


def name_decisions(root: ProgramN, shared_names: Dict[int, str]) -> List[DecisionN]:
    """Name every decision of the tree and return them, parents before children, each once.

    Raises HypError for a name given to two decisions that are not instances of one template.
    """
    nodes: List[DecisionN] = []
    lets: Dict[int, SNode] = {}
    seen: Set[int] = set()
    stack: List[SNode] = [root]
    while stack:
        node = stack.pop()
        k = id(node)
        if k in seen:
            continue
        seen.add(k)
        if k in shared_names:
            lets[k] = node
        if isinstance(node, DecisionN):
            nodes.append(node)
        stack.extend(reversed(node.children()))

    namer = _PathNamer({id(n.instance.root) for n in nodes if n.user_name and n.instance is not None})
    for k, name in shared_names.items():
        if k in lets:
            namer.walk(lets[k], name)
    for name, node in root.params.items():
        namer.walk(node, name)
    for f in FIELD_ORDER:
        if f in root.fields:
            namer.walk(root.fields[f], f)

    groups: Dict[str, List[DecisionN]] = {}
    for n in nodes:
        groups.setdefault(n.name, []).append(n)
    for group in groups.values():
        if len(group) > 1 and all(n.user_name and n.instance is not None for n in group):
            for n in group:
                n.name = suffixed(n.user_name, namer.paths[id(n.instance.root)])
    named: Dict[str, DecisionN] = {}
    for n in nodes:
        if n.name in named:
            first = named[n.name].loc
            where = f" (first at line {first.line})" if first else ""
            raise HypError(f"duplicate decision name `{n.name}`{where}", n.loc)
        named[n.name] = n
    return nodes
