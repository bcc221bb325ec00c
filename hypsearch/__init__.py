"""hypsearch: search neural architectures and hypernetworks described in the `.hyp` language.

The public API. Importing it loads neither torch nor Ray: `build`, `load_model` and `run` import
them on first use.
"""

from __future__ import annotations

from typing import Any

from .dsl.errors import HypError
from .dsl.registry import component, objective
from .dsl.api import Space, dumps, load, loads
# Bound eagerly: importing a submodule named like a function would otherwise rebind the package
# attribute (`hypsearch.run`) to the module. Neither imports torch or Ray at import time.
from .optimize import optimize
from .run import run

__version__ = "0.1.0"

__all__ = [
    "HypError", "Space", "component", "objective", "load", "loads", "dumps",
    "build", "optimize", "run", "load_model", "__version__",
]


def build(program: Any, input_shape: Any = None, tasks: Any = None):
    """Lower a concrete program to a torch `nn.Module` (imports torch)."""
    from .compile import build as _build
    return _build(program, input_shape=input_shape, tasks=tasks)


def load_model(path: str):
    """Rebuild the `nn.Module` saved by `hypsearch export` (imports torch)."""
    from .run.export import load_model as _load_model
    return _load_model(path)
