"""The benchmark scripts run: each in a real subprocess at its smallest configuration.

They are not timed here (figures belong to the scripts' own runs); these tests keep the scripts
from rotting as the library changes under them, and check that what they print is what their
docstrings promise.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args: str, cwd: str = ROOT) -> str:
    done = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_bench_packed_prints_every_layout_and_the_matmul_floor():
    out = _run("benchmarks/bench_packed.py", "--ks", "2", "--steps", "2", "--rounds", "1", "--skip-e2e",
               "--threads", "1")
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    step = [r for r in rows if "K" in r]
    assert [r["K"] for r in step] == [2]
    for name in ("naive", "vmap", "chain", "matmul_floor"):
        assert step[0][f"{name}_x"] > 0
    # The matmuls alone are a part of the chain step: never slower than the whole of it.
    assert step[0]["matmul_floor_steps_per_s"] > step[0]["chain_steps_per_s"]
    assert step[0]["params_per_member"] == 64 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10
    whole = [r["whole_trainings"] for r in rows if "whole_trainings" in r]
    assert whole and whole[0]["x"] > 0


def test_bench_regimes_report_merges_the_committed_results():
    here = os.path.join(ROOT, "benchmarks", "results", "regimes")
    files = sorted(f for f in os.listdir(here) if f.startswith("ens_") and f.endswith(".json"))
    out = _run(os.path.join(ROOT, "benchmarks", "bench_regimes.py"), "--report", *files, cwd=here)
    for name in ("wine", "iris", "breast_cancer"):
        assert f"### {name}" in out
    for column in ("| default |", "| LogReg", "| SVC", "| hypertab"):
        assert column in out
