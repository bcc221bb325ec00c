"""The vocabulary reference (`docs/vocabulary.md`) generated from the registry.

Each built-in component with its family, doc line and arguments (type, default, doc), grouped by
family in registration order's families and alphabetical names. User components (registered from
Python at import time) are left out: the reference describes what every installation has.
`hypsearch docs` writes it; `tests/test_docs.py` fails when the committed file is stale.
"""

from __future__ import annotations

import typing
from typing import Any, Dict, List

import pyglove as pg

from . import registry
from . import vocabulary  # noqa: F401  (registers the built-in vocabulary)
from .printer import literal

HEADER = """# The `.hyp` vocabulary

Generated from the registry by `hypsearch docs` (do not edit by hand; `tests/test_docs.py` fails
when this file is stale). Each component lists its arguments: type, default (— when required)
and what it means. Components you register from Python (`@hypsearch.component`) are not listed.
"""


def _type_text(field: Any) -> str:
    annotation = getattr(field.value, "annotation", None)
    if annotation is None or annotation is typing.Any:
        return "any"
    text = getattr(annotation, "__name__", None) if not typing.get_args(annotation) else None
    if text is None:
        text = str(annotation).replace("typing.", "").replace("hypsearch.dsl.registry.", "")
        text = text.replace("hypsearch.dsl.vocabulary.", "")
    return text


def _default_text(field: Any) -> str:
    default = field.value.default
    if default == pg.MISSING_VALUE:
        return "—"
    if isinstance(default, registry.Component):
        from .printer import value_text, _Paths
        return f"`{value_text(default, _Paths(None))}`"
    try:
        return f"`{literal(default)}`"
    except Exception:
        return f"`{default!r}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def vocabulary_markdown() -> str:
    """The whole reference as Markdown."""
    by_kind: Dict[str, List[type]] = {}
    for name in sorted(registry._BUILTIN_NAMES):
        cls = registry.lookup(name)
        if cls is not None:
            by_kind.setdefault(cls.__hyp_kind__, []).append(cls)
    out = [HEADER]
    for kind in sorted(by_kind):
        out.append(f"## {kind}\n")
        for cls in by_kind[kind]:
            doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
            out.append(f"### `{cls.__hyp_name__}`\n\n{doc}\n")
            fields = cls.hyp_fields()
            if not fields:
                out.append("No arguments.\n")
                continue
            rows = ["| argument | type | default | meaning |", "|---|---|---|---|"]
            for fname, field in fields.items():
                extra = " (more positional arguments)" if fname == cls.__hyp_varargs__ else (
                    " (any other keyword arguments)" if fname == cls.__hyp_extra_kwargs__ else "")
                rows.append(f"| `{fname}` | {_cell(_type_text(field))} | {_cell(_default_text(field))} | "
                            f"{_cell((field.description or '') + extra)} |")
            out.append("\n".join(rows) + "\n")
    return "\n".join(out)
