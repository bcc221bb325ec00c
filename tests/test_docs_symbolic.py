"""Every Python block of docs/symbolic.md runs as written, in order, from the repository root;
the shell blocks name only options `hypsearch run` has."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "symbolic.md")


def _blocks(kind: str) -> list:
    return re.findall(rf"```{kind}\n(.*?)```", open(DOC, encoding="utf-8").read(), flags=re.S)


def test_the_python_blocks_of_the_symbolic_tutorial_run_as_written():
    code = "\n".join(_blocks("python"))
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "train.batch_size: 48 is not one of" in result.stdout
    assert "True" in result.stdout


def test_the_shell_blocks_use_options_hypsearch_run_has():
    help_text = subprocess.run([sys.executable, "-m", "hypsearch.cli", "run", "--help"], cwd=ROOT,
                               capture_output=True, text=True, timeout=120).stdout
    for block in _blocks("sh"):
        for option in re.findall(r"--[a-z-]+", block):
            assert option in help_text, option
