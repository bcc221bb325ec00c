"""Data sets of the runner: `load_data(component, base_dir)` -> `Dataset` (numpy, torch on demand).

Built-in sets work offline (scikit-learn's bundled digits, wine, breast_cancer, iris; split and
permuted digits for multi-task work; a synthetic regression set); `npz(path)` and
`python("f.py:load")` bring the user's own. Every set has a fixed, seeded train / validation split.
Importing this package does not import torch.
"""

from hypsearch.dsl.vocabulary.data import DataInfo

from .dataset import Dataset
from .load import clear_cache, load_data

__all__ = ["DataInfo", "Dataset", "clear_cache", "load_data"]
