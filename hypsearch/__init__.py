"""hypsearch: search neural architectures and hypernetworks described in the `.hyp` language.

The public API. Importing it loads neither torch nor Ray: `build`, `load_model` and `run` import
them on first use.
"""

from __future__ import annotations

from typing import Any

from .dsl.errors import HypError
from .dsl.registry import component, objective
from .dsl.api import Space, dumps, load, loads

__version__ = "0.1.0"

__all__ = [
    "HypError", "Space", "component", "objective", "load", "loads", "dumps",
    "build", "optimize", "run", "load_model", "__version__",
]


def build(program: Any, input_shape: Any = None):
    """Lower a concrete program to a torch `nn.Module` (imports torch)."""
    from .compile import build as _build
    return _build(program, input_shape=input_shape)


def optimize(space: Any, fn: Any = None, **kwargs: Any):
    """Run an in-process search: `fn(program) -> number` for each proposed program."""
    from .optimize import optimize as _optimize
    return _optimize(space, fn, **kwargs)


def run(path_or_space: Any, **kwargs: Any):
    """Run an experiment (train and score each proposed program), as `hypsearch run` does."""
    from .run import run as _run
    return _run(path_or_space, **kwargs)


def load_model(path: str):
    """Rebuild the `nn.Module` saved by `hypsearch export` (imports torch)."""
    from .run.export import load_model as _load_model
    return _load_model(path)
