"""The search algorithms, one module each behind `base.Algorithm`; `ALGORITHMS` is the registry
(a new algorithm is one module and one line here)."""

from .base import Algorithm, Proposal
from .evolution import RegularizedEvolution
from .mcts import MCTS
from .random import RandomSearch
from .smbo import SMBO

ALGORITHMS = {cls.name: cls for cls in (RandomSearch, RegularizedEvolution, MCTS, SMBO)}

__all__ = ["ALGORITHMS", "Algorithm", "Proposal", "RandomSearch", "RegularizedEvolution", "MCTS", "SMBO"]
