"""Which target tensors the hypernetwork generates: the `generate` field resolved against the nodes.

An entry is `"all"`, an exact component kind (`"linear"` selects linear layers, never
`phm_linear`; a kind selects the component's own tensors), or a pattern over the components'
readable paths in which only `*` is special (it matches any run of characters, brackets are
literal): `"target.layers[0]"`, `"target.layers[*]"`. A pattern selects the matched components and
everything inside them. Weights, biases, norm scales and PHM factors are all generatable; buffers
such as batch-norm running statistics never are.
"""

from __future__ import annotations

import re
from typing import List, Sequence, Tuple

from hypsearch.dsl.errors import suggest
from hypsearch.dsl.registry import lookup, names

from ..lowering import Node, error


def _entries(generate) -> List[str]:
    if isinstance(generate, str):
        return [generate]
    return [str(g) for g in generate]


def _is_pattern(entry: str) -> bool:
    return entry == "target" or any(c in entry for c in "*.[")


def _pattern(entry: str) -> "re.Pattern[str]":
    return re.compile(".*".join(re.escape(part) for part in entry.split("*")))


def _inside(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r + ".") or path.startswith(r + "[") for r in roots)


def select(nodes: Sequence[Node], generate, hyp_comp, hyp_path: str = "hypernet") -> List[Tuple[Node, str]]:
    """(node, tensor name) pairs to generate, in target order; raises when nothing is selected."""
    entries = _entries(generate)
    if not entries:
        raise error(hyp_comp, hyp_path, "generate is empty: give \"all\", component kinds or path patterns")
    chosen = set()
    for entry in entries:
        if entry == "all":
            chosen.update(range(len(nodes)))
        elif _is_pattern(entry):
            rx = _pattern(entry)
            roots = [n.path for n in nodes if rx.fullmatch(n.path)]
            chosen.update(i for i, n in enumerate(nodes) if _inside(n.path, roots))
        else:
            if lookup(entry) is None:
                raise error(hyp_comp, f"{hyp_path}.generate", f"`{entry}` is neither a component kind nor a path "
                            f"pattern (patterns start with `target`){suggest(entry, names())}")
            chosen.update(i for i, n in enumerate(nodes) if n.kind == entry)
    picked = [(nodes[i], name) for i in sorted(chosen) for name in getattr(nodes[i].module, "specs", {})]
    if not picked:
        with_params = [f"{n.kind} ({n.path})" for n in nodes if getattr(n.module, "specs", None)]
        listing = ", ".join(with_params[:8]) + (", ..." if len(with_params) > 8 else "")
        raise error(hyp_comp, f"{hyp_path}.generate", f"generate = {entries} selects no parameters of the target; "
                    f"its components with parameters are: {listing or 'none'}")
    return picked
