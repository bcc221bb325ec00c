"""The search package stands alone: numpy and pyglove, never torch, Ray, lark or the language."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

SEARCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "search")

PROBE = r"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("standalone_search", {init!r}, submodule_search_locations=[{folder!r}])
module = importlib.util.module_from_spec(spec)
sys.modules["standalone_search"] = module
spec.loader.exec_module(module)
from standalone_search.algorithms import ALGORITHMS
class D:
    def __init__(self, name):
        self.name, self.kind, self.choices, self.condition = name, "choice", ("a", "b"), None
        self.low = self.high = None; self.log = False; self.k = 0; self.distinct = True; self.sorted = False
algo = module.algorithm("smbo", [D("x"), D("y")], seed=0)
algo.tell(algo.propose(), 1.0)
algo.as_dna_generator()
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "ray", "lark", "hypsearch"))
print(",".join(bad) or "clean")
"""


def test_search_runs_without_importing_torch_ray_lark_or_the_language():
    code = PROBE.format(init=os.path.join(SEARCH, "__init__.py"), folder=SEARCH)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"


def test_search_modules_import_only_numpy_pyglove_and_the_standard_library():
    allowed = {"numpy", "pyglove", "__future__", "bisect", "collections", "dataclasses", "itertools", "math", "typing"}
    for folder, _, files in os.walk(SEARCH):
        for name in files:
            if not name.endswith(".py"):
                continue
            tree = ast.parse(open(os.path.join(folder, name)).read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    roots = {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    roots = {node.module.split(".")[0]}
                else:
                    continue
                assert roots <= allowed, f"{name} imports {roots - allowed}"


def test_importing_hypsearch_search_loads_neither_torch_nor_ray():
    code = "import sys, hypsearch.search; print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'ray')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
