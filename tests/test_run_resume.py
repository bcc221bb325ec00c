"""`hypsearch run --resume DIR` after the run was killed (SIGKILL) in the middle of a trial."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import hypsearch

SLOW = textwrap.dedent("""\
    import time

    def score(program):
        time.sleep(0.4)
        p = program.params
        return float(p["x"]) - (p["y"] - 0.3) ** 2
""")

SPACE = textwrap.dedent("""\
    x = intv(1, 6)
    y = floatv(0.0, 1.0)
    objective = maximize(python("slow.py:score"))
    search = search(algo = "mcts", trials = 9, seed = 5)
""")


def _journal(directory):
    """The finished trials' lines, in order (the journal also has a line per proposal)."""
    with open(os.path.join(directory, "trials.jsonl")) as f:
        return [r for r in map(json.loads, f) if r["status"] != "pending"]


def _kill_mid_run(space, out, after_lines):
    """Start `hypsearch run` in a subprocess and SIGKILL it once the journal has `after_lines` lines."""
    proc = subprocess.Popen([sys.executable, "-m", "hypsearch.cli", "run", space, "--executor", "inline",
                             "--out", out, "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    journal = os.path.join(out, "trials.jsonl")
    deadline = time.time() + 60
    try:
        while time.time() < deadline:
            if os.path.exists(journal) and len(_journal(out)) >= after_lines:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
        time.sleep(0.15)  # into the next trial, so one is in flight when the process dies
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def test_resume_after_sigkill_neither_loses_nor_reruns_finished_trials(ray_local, tmp_path):
    (tmp_path / "slow.py").write_text(SLOW)
    space = tmp_path / "space.hyp"
    space.write_text(SPACE)
    out = str(tmp_path / "killed")
    _kill_mid_run(str(space), out, after_lines=3)
    before = _journal(out)
    assert 3 <= len(before) < 9

    # Resume on Ray (one trial at a time, so the order matches the uninterrupted run below).
    exp = hypsearch.run(resume=out, executor="ray", max_concurrent=1)
    after = _journal(out)
    assert after[:len(before)] == before  # finished trials kept as they were
    assert len(after) == 9 and len({r["id"] for r in after}) == 9  # none re-run, budget counts them

    # Same programs and values as a run that was never interrupted.
    whole = hypsearch.run(str(space), executor="inline", out=str(tmp_path / "whole"))
    keys = ("id", "program", "value", "status")
    assert [{k: r[k] for k in keys} for r in after] == [{k: getattr(r, k) for k in keys} for r in whole.trials]
    assert exp.best.id == whole.best.id
    resumes = json.load(open(os.path.join(out, "run.json")))["resumes"]
    assert resumes[0]["finished_trials"] == len(before)
