"""Random search: each active decision uniform over its domain, no program proposed twice."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .base import Algorithm


class RandomSearch(Algorithm):
    """Uniform sampling of the conditional space (the baseline every other algorithm must beat)."""

    name = "random"
    OPTIONS = {}

    def _propose(self) -> Optional[np.ndarray]:
        return self.random_unseen()
