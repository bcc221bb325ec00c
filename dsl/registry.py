"""The registry of components: every name a `.hyp` call can use, built-in or user-defined.

A component is a pyglove symbolic class (`pg.Object` subclass of `Component`) whose fields are its
arguments, with types, defaults and one-line docs in one place. The registry maps the name used in
`.hyp` text to that class. Built-in components carry no lowering here (the compiler maps them to
torch); user components registered with `@component` carry their own lowering callable, which this
module stores without calling, so registering never imports torch.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any, Callable, Dict, Optional

import pyglove as pg

from .errors import HypError


class Component(pg.Object):
    """Base class of every component of the language."""

    # Set by `register`: the name in `.hyp` text, the family ("layer", "data", ...), the field that
    # takes surplus positional arguments (`sequential(a, b, c)`), the field that takes unknown
    # keyword arguments (`search(..., population = 20)`), and a user lowering.
    __hyp_name__: str = ""
    __hyp_kind__: str = "layer"
    __hyp_varargs__: Optional[str] = None
    __hyp_extra_kwargs__: Optional[str] = None
    __hyp_lowering__: Optional[Callable[..., Any]] = None
    # Printed with its first argument positional and always written: `maximize("val_accuracy")`.
    __hyp_positional__: bool = False

    @classmethod
    def hyp_fields(cls) -> Dict[str, Any]:
        """The component's arguments in declaration order: name -> pyglove field."""
        # Cached per class: walking a pyglove schema costs ~50 us, and the parser asks per call.
        cached = cls.__dict__.get("_hyp_fields_cache")
        if cached is None or cached[0] is not cls.__schema__:
            cached = (cls.__schema__, {str(k): f for k, f in cls.__schema__.fields.items()})
            cls._hyp_fields_cache = cached
        return cached[1]


_REGISTRY: Dict[str, type] = {}
_OBJECTIVES: Dict[str, Callable[..., Any]] = {}
_BUILTIN_NAMES: set = set()  # registered with @builtin: a user component may not take them


def register(cls: type, name: Optional[str] = None, kind: Optional[str] = None,
             varargs: Optional[str] = None, extra_kwargs: Optional[str] = None,
             replace: bool = False) -> type:
    """Register a `Component` subclass under its `.hyp` name."""
    name = name or cls.__name__
    if name in _REGISTRY and _REGISTRY[name] is not cls and not replace:
        existing = _REGISTRY[name]
        if existing.__module__ != cls.__module__ or existing.__qualname__ != cls.__qualname__:
            raise HypError(f"component `{name}` is already defined (by {existing.__module__})")
    cls.__hyp_name__ = name
    if kind is not None:
        cls.__hyp_kind__ = kind
    if varargs is not None:
        cls.__hyp_varargs__ = varargs
    if extra_kwargs is not None:
        cls.__hyp_extra_kwargs__ = extra_kwargs
    _REGISTRY[name] = cls
    return cls


def builtin(kind: str, varargs: Optional[str] = None, extra_kwargs: Optional[str] = None):
    """Class decorator for the built-in vocabulary."""
    def deco(cls: type) -> type:
        register(cls, kind=kind, varargs=varargs, extra_kwargs=extra_kwargs)
        _BUILTIN_NAMES.add(cls.__hyp_name__)
        return cls
    return deco


def lookup(name: str) -> Optional[type]:
    """The component class registered under `name`, or None."""
    return _REGISTRY.get(name)


def names() -> list:
    """Every registered component name."""
    return sorted(_REGISTRY)


def components() -> Dict[str, type]:
    """A copy of the registry: name -> component class."""
    return dict(_REGISTRY)


def _schema_class_from_signature(name: str, fn: Callable[..., Any], doc: str, base: type) -> type:
    """A `Component` subclass whose fields are the parameters of `fn` (annotations and defaults)."""
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolved forward references: fall back to Any
        hints = {}
    annotations: Dict[str, Any] = {}
    defaults: Dict[str, Any] = {}
    varargs = None
    for p in sig.parameters.values():
        if p.name in ("self", "in_shape") or p.kind == p.VAR_KEYWORD:
            continue
        if p.kind == p.VAR_POSITIONAL:
            annotations[p.name] = list
            defaults[p.name] = []
            varargs = p.name
            continue
        annotations[p.name] = hints.get(p.name, Any)
        if p.default is not p.empty:
            defaults[p.name] = p.default
    ns: Dict[str, Any] = {"__annotations__": annotations, "__doc__": doc, "__module__": getattr(fn, "__module__", __name__)}
    ns.update(defaults)
    cls = type(name, (base,), ns)
    if varargs:
        cls.__hyp_varargs__ = varargs
    return cls


def component(obj: Any = None, *, name: Optional[str] = None, kind: str = "layer"):
    """Register a user component from a class or a function: its signature is the schema, the
    class or function itself is the lowering (called by the compiler with the concrete arguments,
    plus `in_shape` when it accepts one)."""
    def deco(target: Any) -> Any:
        comp_name = name or target.__name__
        _check_user_name(comp_name)
        doc = (inspect.getdoc(target) or "").split("\n")[0]
        if isinstance(target, type) and issubclass(target, Component):
            register(target, name=comp_name, kind=kind, replace=True)
            return target
        init = target.__init__ if isinstance(target, type) else target
        cls = _schema_class_from_signature(comp_name, init, doc, Component)
        cls.__hyp_lowering__ = target
        register(cls, name=comp_name, kind=kind, replace=True)
        try:
            target.__hyp_component__ = cls  # lets Python code find the schema from the callable
        except (AttributeError, TypeError):  # a builtin or slotted callable: the registry still has it
            pass
        return target
    return deco(obj) if obj is not None else deco


def _check_user_name(name: str) -> None:
    """A user component may not silently replace a built-in one (`linear`) or shadow a decision
    primitive (`oneof`): every file using the name would change meaning."""
    from . import vocabulary  # noqa: F401  (the built-ins, registered before any user component)
    from .tree import PRIMITIVE_TYPES  # imported here: both modules import this one

    if name in _BUILTIN_NAMES or name in {t.keyword for t in PRIMITIVE_TYPES}:
        what = "a decision primitive" if name not in _BUILTIN_NAMES else f"a built-in {_REGISTRY[name].__hyp_kind__}"
        raise HypError(f"cannot register a component named `{name}`: `{name}` is {what} of the language; "
                       f"give yours another name, e.g. @hypsearch.component(name=\"my_{name}\")")


def objective(fn: Optional[Callable[..., Any]] = None, *, name: Optional[str] = None):
    """Register a scoring function: it gets a concrete program and returns a number or a dict."""
    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        _OBJECTIVES[name or f.__name__] = f
        return f
    return deco(fn) if fn is not None else deco


def lookup_objective(name: str) -> Optional[Callable[..., Any]]:
    """The scoring function registered under `name`, or None."""
    return _OBJECTIVES.get(name)
