"""The registry of data set loaders: data component name -> its loader and what the loader reads.

Each entry is one function registered with `@data_loader("name")`. A loader of a built-in set takes
the component alone; one declared `reads_files = True` also takes the folder that relative paths
resolve against (the `.hyp` file's) and may give `files`, the absolute paths it reads for a
component, so that the in-process cache reads an edited file again. The modules of this
package are all imported by the package, so a new data set is one loader module here (plus its
declaration in `dsl/vocabulary/data.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Protocol, Tuple, TypeVar, Union

from .dataset import Dataset


class BuiltinLoader(Protocol):
    """Loads a data set from its component alone."""

    def __call__(self, comp: Any, /) -> Dataset:
        ...


class FileLoader(Protocol):
    """Loads a data set from its component, resolving relative paths against `base_dir`."""

    def __call__(self, comp: Any, base_dir: Optional[str], /) -> Dataset:
        ...


# The absolute paths a file-reading loader reads for a component (and base_dir).
FilesOf = Callable[[Any, Optional[str]], Tuple[str, ...]]


@dataclass(frozen=True)
class DataLoader:
    """A registered loader: its function, whether it reads files, and which files for a component."""

    name: str
    load: Union[BuiltinLoader, FileLoader]
    reads_files: bool = False  # relative to the .hyp file; `load` then takes base_dir too
    files: Optional[FilesOf] = None

    def __call__(self, comp: Any, base_dir: Optional[str] = None) -> Dataset:
        """The loaded data set of `comp`."""
        if self.reads_files:
            return self.load(comp, base_dir)  # type: ignore[call-arg]
        return self.load(comp)  # type: ignore[call-arg]


LOADERS: Dict[str, DataLoader] = {}

L = TypeVar("L", bound=Callable[..., Dataset])


def data_loader(name: str, *, reads_files: bool = False, files: Optional[FilesOf] = None) -> Callable[[L], L]:
    """Register the decorated function as the loader of the data component `name`."""
    if files is not None and not reads_files:
        raise ValueError(f"data set {name}: `files` is for loaders that read files (reads_files = True)")

    def deco(fn: L) -> L:
        old = LOADERS.get(name)
        if old is not None and _qualname(old.load) != _qualname(fn):
            raise ValueError(f"data set `{name}` already has a loader ({_qualname(old.load)})")
        LOADERS[name] = DataLoader(name, fn, reads_files, files)
        return fn
    return deco


def _qualname(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
