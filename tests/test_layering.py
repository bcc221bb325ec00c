"""The layering of DESIGN.md holds: as import contracts (import-linter, direct and indirect
imports, external packages included) and at import time in a fresh interpreter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTRACTS = 4


def _installed_layout(dest: str) -> str:
    """The package as it is installed, copied under `dest`: `pyproject.toml` maps the top-level
    folders (dsl/, search/, ...) onto subpackages, and import-linter walks only the root package's
    own folder, so it must see them where the install puts them."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        mapping = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    top = os.path.join(dest, "hypsearch")
    shutil.copytree(os.path.join(ROOT, mapping["hypsearch"]), top, ignore=ignore)
    for package, folder in mapping.items():
        if package != "hypsearch":
            shutil.copytree(os.path.join(ROOT, folder), os.path.join(top, *package.split(".")[1:]), ignore=ignore)
    return dest


def _lint(layout: str) -> subprocess.CompletedProcess:
    # Run from the copy (import-linter puts its working directory first on sys.path) and point it
    # at the real configuration.
    env = {**os.environ, "PYTHONPATH": layout}
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, os.path.join(ROOT, "pyproject.toml"), "--no-cache"],
                          cwd=layout, env=env, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_of_every_layer_are_kept(tmp_path):
    result = _lint(_installed_layout(str(tmp_path)))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert f"Contracts: {CONTRACTS} kept, 0 broken." in result.stdout


def test_an_indirect_import_of_torch_from_the_algorithms_breaks_a_contract(tmp_path):
    layout = _installed_layout(str(tmp_path))
    helper = os.path.join(layout, "hypsearch", "decisions", "helper.py")
    with open(helper, "w") as f:
        f.write("import torch\n")
    with open(os.path.join(layout, "hypsearch", "search", "uses_helper.py"), "w") as f:
        f.write("from hypsearch.decisions import helper\n")
    result = _lint(layout)
    assert result.returncode != 0
    assert "broken" in result.stdout and "hypsearch.search.uses_helper" in result.stdout


PROBE = """
import sys
import {module}
{then}
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & {{"lark", "torch", "ray"}})
layers = sorted({{m for m in sys.modules if m.startswith("hypsearch.")}} & set({watch!r}))
print(",".join(loaded) + "|" + ",".join(layers))
"""

UPPER = ["hypsearch.dsl", "hypsearch.search", "hypsearch.compile", "hypsearch.runner", "hypsearch.optimize",
         "hypsearch.dsl.syntax"]


def _probe(module: str, then: str = "") -> tuple:
    code = PROBE.format(module=module, then=then, watch=UPPER)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    loaded, layers = out.stdout.strip().split("|")
    return set(filter(None, loaded.split(","))), set(filter(None, layers.split(",")))


def test_importing_the_package_loads_no_layer_and_no_heavy_dependency():
    assert _probe("hypsearch") == (set(), set())


def test_the_algorithms_load_without_lark_torch_ray_or_the_language():
    loaded, layers = _probe("hypsearch.search", then=(
        "from hypsearch.decisions import Decision\n"
        "a = hypsearch.search.algorithm('smbo', [Decision('x', 'choice', ('a', 'b'))], seed=0)\n"
        "a.tell(a.propose(), 1.0); a.as_dna_generator()"))
    assert loaded == set()
    assert layers == {"hypsearch.search"}


def test_loading_and_sampling_a_space_loads_no_torch_or_ray():
    loaded, layers = _probe("hypsearch.dsl", then=(
        "import hypsearch\n"
        f"hypsearch.load({os.path.join(ROOT, 'examples', 'digits_hypernet.hyp')!r}).sample(seed=0)"))
    assert loaded == {"lark"}
    assert "hypsearch.runner" not in layers and "hypsearch.compile" not in layers


@pytest.mark.parametrize("module", ["hypsearch.compile"])
def test_the_compiler_loads_no_ray_lark_or_parser(module):
    loaded, layers = _probe(module)
    assert loaded == {"torch"}
    assert "hypsearch.dsl.syntax" not in layers and "hypsearch.runner" not in layers and "hypsearch.search" not in layers
