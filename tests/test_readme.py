"""Every code block of README.md runs: the `.hyp` block loads, the Python blocks run as written
(in a folder holding the examples), and each `hypsearch` command of the shell blocks runs (a
`run` with one trial inline, so the suite stays fast; install and test commands are checked to
name files that exist)."""

import os
import re
import runpy
import shlex

import pytest

import hypsearch
from hypsearch.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", README, flags=re.S | re.M)


def blocks(lang):
    return [body for kind, body in BLOCKS if kind == lang]


def test_readme_has_the_blocks_this_test_runs():
    assert len(blocks("python")) >= 2 and len(blocks("sh")) >= 3 and len(blocks("")) >= 1


def test_the_language_block_loads():
    for body in blocks(""):
        assert hypsearch.loads(body).decisions


def test_python_blocks_run_as_written(tmp_path, monkeypatch):
    os.symlink(os.path.join(ROOT, "examples"), tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    for i, body in enumerate(blocks("python")):
        path = tmp_path / f"block{i}.py"
        path.write_text(body)
        runpy.run_path(str(path), run_name=f"readme_block{i}")


@pytest.mark.parametrize("line", [line for body in blocks("sh") for line in body.strip().splitlines()])
def test_shell_commands_run(line, tmp_path, capsys):
    for command in line.split("&&"):
        words = shlex.split(command.split("#")[0])
        if not words:
            continue
        if words[0] == "hypsearch":
            args = [w if not w.startswith("examples/") else os.path.join(ROOT, w) for w in words[1:]]
            if args[0] == "run":
                args += ["--trials", "1", "--executor", "inline", "--quiet", "--out", str(tmp_path / "exp")]
            assert main(args) == 0, capsys.readouterr().err
        elif words[0] == "pip":
            for w in words:  # `-c constraints/cpu.txt`, `-e .`: the files the install reads exist
                assert not w.startswith("constraints/") or os.path.isfile(os.path.join(ROOT, w))
            assert os.path.isfile(os.path.join(ROOT, "pyproject.toml"))
        else:
            assert words[0] in ("python3", "python", "."), f"a README command this test does not know: {command}"
