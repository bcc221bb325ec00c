"""Lowering of concrete programs to torch: `build(program, input_shape=None) -> Model`.

Imports torch and the symbolic vocabulary only (never the parser, Ray or the search code).
"""

from .build import build
from .model import Model

__all__ = ["build", "Model"]
