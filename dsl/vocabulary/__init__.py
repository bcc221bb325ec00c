"""The built-in vocabulary: pure symbolic declarations (no torch), one module per family.

Importing this package registers every built-in component.
"""

from . import structure, layers, hypernet, data, training, objective  # noqa: F401  (registers)
from .program import Program  # noqa: F401
