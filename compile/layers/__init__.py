"""Lowerings of target components, one module per family; importing this package registers them.

Every module of this folder is imported here, so a new lowering needs no line outside its module.
"""

from ..discover import import_all
from .registry import LOWERINGS, USER, Lowering, lowering_for, lowers

import_all(__name__, __path__)

__all__ = ["LOWERINGS", "USER", "Lowering", "lowering_for", "lowers"]
