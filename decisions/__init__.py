"""The decision model: decision points, activation conditions, counting, validation, the row
encoding the search algorithms work on, and the pyglove DNA codec.

This is the bottom layer. The language (`hypsearch.dsl`) compiles its tree down to a table of
these decisions, as pyglove's hyper values compile down to `geno.DNASpec`; the algorithms
(`hypsearch.search`) read the same table. It needs numpy and pyglove only: no lark, torch or Ray.
"""

from .model import Condition, Decision, Kind
from .rows import RowEncoding
from .table import active_names, check_table, count_completions, is_active, space_size

__all__ = ["Condition", "Decision", "Kind", "RowEncoding", "active_names", "check_table", "count_completions",
           "is_active", "space_size"]
