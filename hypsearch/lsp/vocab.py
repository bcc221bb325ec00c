"""What the vocabulary says about a position: which components fit a slot, and the documentation
of components, their arguments and the decision primitives, all read from the registry (so user
components registered with `@hypsearch.component` are documented like built-in ones).

A slot's components come from the field's declared type: `Optimizer` admits the optimizers; a
field typed with the base `Component` admits the family `<kind>_<field>` when one exists
(`hypernet(head = ...)` takes `hypernet_head`), else the family of the component holding it
(`sequential(...)` takes layers). Top-level fields take the families of `FIELD_KINDS`.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set

from hypsearch.dsl import api  # noqa: F401  (registers the built-in vocabulary)
from hypsearch.dsl.registry import Component, components, lookup
# Which component families each reserved top-level field takes: the language's own table, so
# completion offers exactly what `hypsearch check` accepts.
from hypsearch.dsl.semantics import FIELD_KINDS
from hypsearch.dsl.vocabulary import Program

from .document import PRIMITIVES, Frame


PRIMITIVE_DOCS = {
    "oneof": ("oneof(a, b, ..., name = \"...\")", "a choice of one of its arguments (values or components)"),
    "manyof": ("manyof(k, a, b, ..., distinct = true, sorted = false, name = \"...\")",
               "a choice of k of its candidates"),
    "intv": ("intv(low, high, log = false, name = \"...\")", "an integer in [low, high]"),
    "floatv": ("floatv(low, high, log = false, name = \"...\")", "a float in [low, high]"),
    "optional": ("optional(x, name = \"...\")", "either x or none"),
    "repeat": ("repeat(count, item)", "count copies of item, each with decisions of its own; count is an int, "
                                       "an intv or a oneof of ints"),
}
LITERALS = ("true", "false", "none")

ANY = None  # a slot that takes anything: user parameters, `let` and `def` bodies


def _classes(spec) -> List[type]:
    """The component classes a pyglove value spec admits (through List, Union and Optional)."""
    name = type(spec).__name__
    if name == "Object":
        return [spec.cls] if isinstance(spec.cls, type) and issubclass(spec.cls, Component) else []
    if name == "List":
        return _classes(spec.element.value)
    if name == "Union":
        return [c for cand in spec.candidates for c in _classes(cand)]
    if name == "Any":
        return [Component]
    return []


def field_names(cls: type) -> List[str]:
    """The argument names of a component class, in declaration order."""
    return list(cls.hyp_fields())


def positional_field(cls: type, index: int) -> Optional[str]:
    """The argument a positional argument number `index` fills."""
    if cls.__hyp_varargs__:
        return cls.__hyp_varargs__
    names = field_names(cls)
    return names[index] if index < len(names) else None


def field_components(cls: type, field: str) -> Optional[Set[str]]:
    """Names of the components the argument `field` of `cls` takes (empty: only values)."""
    f = cls.hyp_fields().get(field)
    if f is None:
        return ANY if cls.__hyp_extra_kwargs__ else set()
    classes = _classes(f.value)
    reg = components()
    out: Set[str] = set()
    for base in classes:
        if base is Component:
            family = f"{cls.__hyp_kind__}_{field}"
            if not any(c.__hyp_kind__ == family for c in reg.values()):
                family = cls.__hyp_kind__
            out |= {n for n, c in reg.items() if c.__hyp_kind__ == family}
        else:
            out |= {n for n, c in reg.items() if issubclass(c, base)}
    return out


def slot(statement_kind: str, statement_name: str, frames: Sequence[Frame]) -> Optional[Set[str]]:
    """Components valid where an expression starts under `frames` (ANY, or a set of names)."""
    allowed: Optional[Set[str]]
    if statement_kind == "field" and statement_name in FIELD_KINDS:
        kinds = FIELD_KINDS[statement_name]
        allowed = {n for n, c in components().items() if c.__hyp_kind__ in kinds}
    elif statement_kind in ("field", "let", "def"):
        allowed = ANY
    else:
        return set()
    for f in frames:
        if f.callee is None:  # a list: its items fill the same slot
            continue
        if f.callee in PRIMITIVES:
            if f.keyword is not None:
                allowed = set()  # name = "...", log = true, k = 2, ...
            elif f.callee in ("intv", "floatv"):
                allowed = set()
            elif f.callee == "repeat" and f.positional == 0:
                allowed = set()  # the count
            elif f.callee == "manyof" and f.positional == 0:
                allowed = set()  # k
            continue
        cls = lookup(f.callee)
        if cls is None:  # a `def` or a misspelt name: anything may go there
            allowed = ANY
            continue
        name = f.keyword or positional_field(cls, f.positional)
        allowed = field_components(cls, name) if name is not None else set()
    return allowed


def _default_text(f) -> str:
    d = f.default_value
    if type(d).__name__ == "MissingValue" or repr(d) == "MISSING_VALUE":
        return ""
    if d is None:
        return " = none"
    if isinstance(d, bool):
        return f" = {'true' if d else 'false'}"
    if isinstance(d, str):
        return f' = "{d}"'
    if isinstance(d, Component):
        return f" = {type(d).__hyp_name__}(...)"
    return f" = {d!r}".replace("'", '"')


def type_text(spec) -> str:
    """A short type name for a pyglove value spec: int, float, list[float], optimizer, ..."""
    name = type(spec).__name__
    base = {"Int": "int", "Float": "float", "Bool": "bool", "Str": "str", "Dict": "dict", "Any": "any"}.get(name)
    if base is None:
        if name == "List":
            base = f"list[{type_text(spec.element.value)}]"
        elif name == "Union":
            base = " | ".join(type_text(c) for c in spec.candidates)
        elif name == "Object":
            base = getattr(spec.cls, "__hyp_name__", "") or spec.cls.__name__.lower()
            if spec.cls is Component:
                base = "component"
        else:
            base = name.lower()
    return f"{base} | none" if spec.is_noneable and "none" not in base else base


def one_line_doc(cls: type) -> str:
    """The first line of a component's docstring."""
    return ((cls.__doc__ or "").strip().splitlines() or [""])[0]


def signature(cls: type) -> str:
    """`name(arg: type = default, ...)` of a component."""
    args = []
    for k, f in cls.hyp_fields().items():
        star = "..." if k == cls.__hyp_varargs__ else ""
        args.append(f"{star}{k}: {type_text(f.value)}{_default_text(f)}")
    if cls.__hyp_extra_kwargs__:
        args.append(f"**{cls.__hyp_extra_kwargs__}")
    return f"{cls.__hyp_name__}({', '.join(args)})"


def component_markdown(cls: type) -> str:
    """Hover text of a component: signature, family, doc and one line per argument."""
    lines = [f"```hyp\n{signature(cls)}\n```", f"*{cls.__hyp_kind__}*: {one_line_doc(cls)}"]
    fields = cls.hyp_fields()
    if fields:
        lines.append("")
        for k, f in fields.items():
            lines.append(f"- `{k}`: {type_text(f.value)}{_default_text(f)}: {f.description or ''}".rstrip(": "))
    module = cls.__module__
    if not module.startswith("hypsearch."):
        lines.append(f"\nuser component from `{module}`")
    return "\n".join(lines)


def argument_markdown(cls: type, field: str) -> Optional[str]:
    """Hover text of one argument of a component."""
    f = cls.hyp_fields().get(field)
    if f is None:
        return None
    return (f"```hyp\n{cls.__hyp_name__}({field}: {type_text(f.value)}{_default_text(f)})\n```\n"
            f"{f.description or ''}")


def program_fields() -> Dict[str, str]:
    """The reserved top-level fields and their docs."""
    fields = {str(k): f for k, f in Program.__schema__.fields.items()}
    return {k: fields[k].description or "" for k in FIELD_KINDS if k in fields}
