"""Data sets of the runner: `load_data(component, base_dir)` -> `Dataset` (numpy, torch on demand).

Built-in sets work offline (scikit-learn's bundled digits, wine, breast_cancer, iris; split and
permuted digits for multi-task work; a synthetic regression set); `npz(path)` and
`python("f.py:load")` bring the user's own. Every set has a fixed, seeded train / validation split.
Every module of this folder is imported here, so a new data set's loader (`@data_loader`) is one
module, listed nowhere else. Importing this package does not import torch.
"""

import importlib
import pkgutil

from hypsearch.dsl.vocabulary.data import DataInfo

from .dataset import Dataset
from .load import clear_cache, load_data
from .registry import LOADERS, data_loader

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["DataInfo", "Dataset", "LOADERS", "clear_cache", "data_loader", "load_data"]
