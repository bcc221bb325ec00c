"""`hypsearch run --address` joins an existing Ray cluster (a `ray start --head` on loopback)."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

OBJECTIVE = textwrap.dedent("""\
    import os

    def score(program):
        return {"value": float(program.params["x"]), "pid": os.getpid()}
""")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def head_node(tmp_path):
    """A one-CPU Ray head on 127.0.0.1, in its own process group, stopped after the test."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    ray_cli = os.path.join(os.path.dirname(sys.executable), "ray")
    proc = subprocess.Popen([ray_cli, "start", "--head", "--block", "--node-ip-address=127.0.0.1",
                             f"--port={port}", "--num-cpus=1", "--include-dashboard=false", "--disable-usage-stats"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, "ray start --head exited"
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the head and every process it started
        try:
            proc.wait(timeout=3)  # `ray start --block` drains for 30 s; its children are gone by now
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_run_with_address_runs_its_trials_on_the_existing_cluster(head_node, tmp_path):
    (tmp_path / "objective.py").write_text(OBJECTIVE)
    (tmp_path / "space.hyp").write_text('x = intv(1, 9)\nobjective = maximize(python("objective.py:score"))\n')
    out = tmp_path / "exp"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = subprocess.run([sys.executable, "-m", "hypsearch.cli", "run", str(tmp_path / "space.hyp"),
                             "--address", head_node, "--trials", "2", "--seed", "0", "--out", str(out), "--quiet"],
                            env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [r for r in map(json.loads, open(out / "trials.jsonl")) if r["status"] != "pending"]
    assert [line["status"] for line in lines] == ["ok", "ok"]
    # The trials ran in the cluster's worker (one CPU: one reused actor), not in the driver.
    assert len({line["metrics"][0]["pid"] for line in lines}) == 1
