"""hypsearch: search neural architectures and hypernetworks described in the `.hyp` language.

The public API, loaded lazily (PEP 562): `import hypsearch` imports nothing else, and each name
loads its own layer on first use, so `import hypsearch.search` or `import hypsearch.dsl` never
drags in the runner, torch or Ray. Internal modules import each other directly, never through
this facade.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> (module, attribute): where each public name lives.
_EXPORTS = {
    "HypError": ("hypsearch.dsl.errors", "HypError"),
    "Space": ("hypsearch.dsl.api", "Space"),
    "load": ("hypsearch.dsl.api", "load"),
    "loads": ("hypsearch.dsl.api", "loads"),
    "dumps": ("hypsearch.dsl.api", "dumps"),
    "component": ("hypsearch.dsl.registry", "component"),
    "objective": ("hypsearch.dsl.registry", "objective"),
    "Trial": ("hypsearch.search.trial", "Trial"),
    "Status": ("hypsearch.search.trial", "Status"),
    "optimize": ("hypsearch.optimize", "optimize"),
    "run": ("hypsearch.runner", "run"),
    "build": ("hypsearch.compile.build", "build"),
    "load_model": ("hypsearch.runner.export", "load_model"),
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:  # for type checkers and editors; at run time the names load on first use
    from hypsearch.compile.build import build
    from hypsearch.dsl.api import Space, dumps, load, loads
    from hypsearch.dsl.errors import HypError
    from hypsearch.dsl.registry import component, objective
    from hypsearch.optimize import optimize
    from hypsearch.search.trial import Status, Trial


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'hypsearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value  # cached: later lookups are plain attribute reads
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(_EXPORTS))
