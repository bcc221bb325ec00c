"""The hypernetwork: selection of generated tensors, inputs, bodies, heads, MIP and the generator.

Every module of this folder is imported here, so a new input, body or head is one module with its
`@hypernet_input` / `@hypernet_body` / `@hypernet_head` builder, listed nowhere else.
"""

from ..discover import import_all
from .registry import BODIES, HEADS, INPUTS, hypernet_body, hypernet_head, hypernet_input

import_all(__name__, __path__)

__all__ = ["BODIES", "HEADS", "INPUTS", "hypernet_body", "hypernet_head", "hypernet_input"]
