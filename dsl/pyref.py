"""Python files and functions that `.hyp` programs refer to: `import "f.py"` and `python("f.py:fn")`.

Files are executed once per absolute path (they register components and objectives); a ref
`"file.py:name"` is resolved relative to the `.hyp` file's folder, `"pkg.module:name"` by import.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import traceback
from typing import Any, Callable, Dict, Optional

from .errors import HypError, Location

_LOADED: Dict[str, Any] = {}


def is_file_ref(path: str) -> bool:
    """Whether an import or ref names a Python file (rather than a module)."""
    return path.endswith(".py") or "/" in path or os.sep in path


def absolute(path: str, base_dir: Optional[str]) -> str:
    """`path` resolved against `base_dir` (the folder of the `.hyp` file) or the working dir."""
    return os.path.normpath(os.path.join(base_dir or os.getcwd(), os.path.expanduser(path)))


def load_file(path: str, loc: Optional[Location] = None, source_line: Optional[str] = None) -> Any:
    """Execute a Python file once (by absolute path) and return its module."""
    path = os.path.abspath(path)
    if path in _LOADED:
        return _LOADED[path]
    if not os.path.isfile(path):
        raise HypError(f"cannot import {path!r}: no such file", loc, source_line)
    name = "hypsearch_user_" + hashlib.sha1(path.encode()).hexdigest()[:10] + "_" + _identifier(os.path.basename(path)[:-3])
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise HypError(f"cannot import {path!r}: not a Python file", loc, source_line)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    _LOADED[path] = module
    try:
        spec.loader.exec_module(module)
    except HypError:
        del _LOADED[path]
        raise
    except BaseException as e:  # the user's code: report, never crash the parser
        del _LOADED[path]
        sys.modules.pop(name, None)
        if isinstance(e, KeyboardInterrupt):
            raise
        where = _user_frame(e, path)
        raise HypError(f"importing {os.path.basename(path)} failed: {type(e).__name__}: {e}{where}", loc, source_line) from None
    return module


def load_module(module: str, loc: Optional[Location] = None, source_line: Optional[str] = None) -> Any:
    """Import a Python module by dotted name."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        raise HypError(f"cannot import module `{module}`: {e}", loc, source_line) from None
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            raise
        raise HypError(f"importing module `{module}` failed: {type(e).__name__}: {e}", loc, source_line) from None


def split_ref(ref: str) -> tuple:
    """`"file.py:fn"` -> ("file.py", "fn")."""
    target, sep, name = ref.rpartition(":")
    if not sep or not target or not name.isidentifier():
        raise ValueError(f"a python reference is \"file.py:function\" or \"module:function\", got {ref!r}")
    return target, name


def resolve(ref: str, base_dir: Optional[str] = None, loc: Optional[Location] = None) -> Callable[..., Any]:
    """The function a `python("...")` reference names."""
    if ":" not in ref:
        from .registry import lookup_objective
        fn = lookup_objective(ref)
        if fn is None:
            raise HypError(f"no objective registered as `{ref}` (use @hypsearch.objective, or write \"file.py:{ref}\")", loc)
        return fn
    try:
        target, name = split_ref(ref)
    except ValueError as e:
        raise HypError(str(e), loc) from None
    module = load_file(absolute(target, base_dir), loc) if is_file_ref(target) else load_module(target, loc)
    fn = getattr(module, name, None)
    if fn is None or not callable(fn):
        raise HypError(f"{target} has no function `{name}`", loc)
    return fn


def _identifier(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


def _user_frame(e: BaseException, path: str) -> str:
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        if os.path.abspath(frame.filename) == path:
            return f" (at {os.path.basename(path)}:{frame.lineno})"
    return ""
