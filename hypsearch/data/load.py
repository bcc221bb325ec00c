"""`load_data`: a data component of a program -> its loaded `Dataset`, cached in-process.

The loader comes from the registry (`registry.LOADERS`, filled by the modules of this package).
Trials of one experiment share a data set, so each is loaded once per process. The cache key is
the component's value plus, for loaders that read files, the resolved paths with their size and
modification time, so an edited file is read again.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple

from hypsearch.dsl.errors import HypError, suggest

from .dataset import Dataset
from .registry import LOADERS, DataLoader

_CACHE: Dict[Tuple[Any, ...], Dataset] = {}


def load_data(data_component: Any, base_dir: Optional[str] = None) -> Dataset:
    """The `Dataset` a data component (`digits()`, `npz("f.npz")`, `python("f.py:load")`, ...) names."""
    name = getattr(data_component, "__hyp_name__", None)
    loader = LOADERS.get(name) if isinstance(name, str) else None
    if loader is None:
        builtin = sorted(n for n, e in LOADERS.items() if not e.reads_files)
        known = builtin + sorted(n for n, e in LOADERS.items() if e.reads_files)
        raise HypError(f"`{name or type(data_component).__name__}` is not a data set; use one of "
                       f"{', '.join(known)}{suggest(str(name), known)}")
    key = _cache_key(loader, data_component, base_dir)
    if key not in _CACHE:
        _CACHE[key] = loader(data_component, base_dir)
    return _CACHE[key]


def clear_cache() -> None:
    """Forget every loaded data set (the next `load_data` reads again)."""
    _CACHE.clear()


def _cache_key(loader: DataLoader, comp: Any, base_dir: Optional[str]) -> Tuple[Any, ...]:
    if not loader.reads_files:
        return (repr(comp),)
    if loader.files is None:  # what it reads is unknown: at least tell relative paths apart
        return (repr(comp), base_dir)
    return (repr(comp),) + tuple(part for path in loader.files(comp, base_dir) for part in _file_stamp(path))


def _file_stamp(path: str) -> Tuple[Any, ...]:
    try:
        st = os.stat(path)
        return (path, st.st_size, st.st_mtime_ns)
    except OSError:
        return (path, None, None)
