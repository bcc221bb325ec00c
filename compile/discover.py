"""Imports every module of a package, so that a module registering a lowering is listed nowhere else.

The layer and hypernetwork packages call `import_all` from their `__init__`: adding a layer or a
hypernetwork head is then one new module with its decorator, found here by its file alone.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Iterable, List


def import_all(package: str, path: Iterable[str]) -> List[str]:
    """Import every module found on `path` (a package's `__path__`) as `package.<name>`; their names."""
    names = sorted(m.name for m in pkgutil.iter_modules(list(path)) if m.name.isidentifier())
    for name in names:
        importlib.import_module(f"{package}.{name}")
    return names
