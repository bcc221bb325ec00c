"""`load_data`: a data component of a program -> its loaded `Dataset`, cached in-process.

Trials of one experiment share a data set, so each is loaded once per process. The cache key is
the component's value plus, for files, the resolved path and its size and modification time, so an
edited file is read again.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple

from hypsearch.dsl.errors import HypError, suggest
from hypsearch.dsl.pyref import absolute, is_file_ref, split_ref

from .builtin import LOADERS
from .dataset import Dataset
from .files import load_npz, load_python, npz_path

_CACHE: Dict[Tuple[Any, ...], Dataset] = {}
FILE_LOADERS = {"npz": load_npz, "python": load_python}


def load_data(data_component: Any, base_dir: Optional[str] = None) -> Dataset:
    """The `Dataset` a data component (`digits()`, `npz("f.npz")`, `python("f.py:load")`, ...) names."""
    name = getattr(data_component, "__hyp_name__", None)
    if name not in LOADERS and name not in FILE_LOADERS:
        known = sorted(LOADERS) + sorted(FILE_LOADERS)
        raise HypError(f"`{name or type(data_component).__name__}` is not a data set; use one of "
                       f"{', '.join(known)}{suggest(str(name), known)}")
    key = _cache_key(name, data_component, base_dir)
    if key not in _CACHE:
        if name in LOADERS:
            _CACHE[key] = LOADERS[name](data_component)
        else:
            _CACHE[key] = FILE_LOADERS[name](data_component, base_dir)
    return _CACHE[key]


def clear_cache() -> None:
    """Forget every loaded data set (the next `load_data` reads again)."""
    _CACHE.clear()


def _cache_key(name: str, comp: Any, base_dir: Optional[str]) -> Tuple[Any, ...]:
    if name == "npz":
        return (repr(comp),) + _file_stamp(npz_path(comp, base_dir))
    if name == "python":
        try:
            target, _ = split_ref(comp.ref)
        except ValueError:
            return (repr(comp), base_dir)  # the loader reports the malformed reference
        return (repr(comp),) + (_file_stamp(absolute(target, base_dir)) if is_file_ref(target) else (target,))
    return (repr(comp),)


def _file_stamp(path: str) -> Tuple[Any, ...]:
    try:
        st = os.stat(path)
        return (path, st.st_size, st.st_mtime_ns)
    except OSError:
        return (path, None, None)
