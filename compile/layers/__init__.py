"""Lowerings of target components, one module per family; importing this package registers them."""

from . import basic, conv, structure, attention, moe, phm, user  # noqa: F401  (registers)
from .registry import LOWERINGS  # noqa: F401
