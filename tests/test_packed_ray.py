"""Packs outside the driver: a Ray Tune trial per pack (a journal line per member, per-member ASHA),
inline packs in the sandbox (a member that kills the process fails alone), and resume after a
SIGKILL in the middle of a pack losing and repeating nothing."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import hypsearch
from hypsearch.search.trial import Status

MLP = textwrap.dedent("""\
    data = digits()
    target = sequential(linear(out = 16), relu(), linear(out = 10))
    train = train(epochs = {epochs}, batch_size = 64, optimizer = adam(lr = floatv(1e-4, 3e-2, log = true)),
                  seed = intv(0, 1000))
    objective = maximize("val_accuracy")
""")


def _lines(directory):
    with open(os.path.join(directory, "trials.jsonl")) as f:
        return [json.loads(line) for line in f]


def _finished(directory):
    return [r for r in _lines(directory) if r["status"] != "pending"]


def test_a_ray_trial_per_pack_journals_each_member_and_asha_stops_members_alone(ray_local, tmp_path):
    space = tmp_path / "space.hyp"
    space.write_text(MLP.format(epochs=3))
    common = dict(algo="random", trials=8, seed=5, pack=8)
    inline = {t.id: t for t in hypsearch.run(str(space), executor="inline", out=str(tmp_path / "inline"),
                                             **common).trials}
    asha = hypsearch.run(str(space), executor="ray", out=str(tmp_path / "ray"), scheduler="asha", **common)
    lines = _lines(tmp_path / "ray")
    assert sorted(r["id"] for r in lines if r["status"] == "pending") == list(range(8))  # a line per proposal
    assert sorted(r["id"] for r in lines if r["status"] != "pending") == list(range(8))  # a line per member
    assert [d for d in os.listdir(tmp_path / "ray" / "ray" / "tune") if d.startswith("pack_")] != []
    stopped = [t for t in asha.trials if t.status is Status.STOPPED]
    assert stopped and any(t.status is Status.OK for t in asha.trials)
    for t in stopped:
        assert len(t.metrics) < 3 and t.budget == pytest.approx(len(t.metrics) / 3)
    # The same members as the inline pack, trained the same way in a Ray worker; stopping a member
    # masks it alone: every member's epochs are those of the run without stopping.
    for t in asha.trials:
        assert t.program == inline[t.id].program
        for mine, full in zip(t.metrics, inline[t.id].metrics):
            assert mine["val_accuracy"] == pytest.approx(full["val_accuracy"], abs=1e-4)
    # ASHA's rule at the first rung (epoch 1): a member below the median of the rung's values stops.
    first = sorted(inline[t.id].metrics[0]["val_accuracy"] for t in asha.trials)
    median = (first[3] + first[4]) / 2
    assert {t.id for t in asha.trials if len(t.metrics) == 1} == \
        {t.id for t in asha.trials if inline[t.id].metrics[0]["val_accuracy"] < median}
    weights = tmp_path / "ray" / "weights"
    assert os.path.exists(tmp_path / "ray" / "best.pt") and (not weights.exists() or not os.listdir(weights))


CRASH = textwrap.dedent("""\
    import os

    def score(program):
        if program.params["x"] == 2:
            os._exit(3)  # the whole process, as a segfault or an OOM kill would
        return float(program.params["x"])
""")


def _crash_run(tmp_path, executor: str, n: int, out: str) -> dict:
    """A pack of n trials x = 0..n-1 in which x = 2 kills its process: the trials by x."""
    (tmp_path / "crash.py").write_text(CRASH)
    space = tmp_path / "space.hyp"
    space.write_text(f'x = oneof({", ".join(map(str, range(n)))})\nobjective = maximize(python("crash.py:score"))\n')
    exp = hypsearch.run(str(space), executor=executor, algo="random", trials=n, seed=0, pack=n, max_failures=1,
                        out=str(tmp_path / out))
    return {t.choices["x"]: t for t in exp.trials}


def test_a_member_that_kills_its_packs_process_fails_alone(tmp_path):
    by_x = _crash_run(tmp_path, "inline", 6, "exp")
    assert len(by_x) == 6
    assert by_x[2].status is Status.FAILED and "died (exit code 3)" in by_x[2].error
    assert by_x[2].attempts == 2  # the pack, then alone once more (--max-failures 1)
    assert all(by_x[x].status is Status.OK and by_x[x].value == x for x in (0, 1, 3, 4, 5))
    finished = _finished(tmp_path / "exp")
    assert sorted(r["choices"]["x"] for r in finished) == list(range(6))  # one finished line each


def test_on_ray_a_diverging_member_and_one_that_kills_the_process_fail_alone(ray_local, tmp_path):
    diverging = tmp_path / "nan.hyp"
    diverging.write_text(textwrap.dedent("""\
        data = digits()
        target = sequential(linear(out = 16), relu(), linear(out = 10))
        train = train(epochs = 2, batch_size = 64, optimizer = sgd(lr = oneof(0.05, 1e30), momentum = 0.9))
        objective = maximize("val_accuracy")
    """))
    exp = hypsearch.run(str(diverging), executor="ray", algo="random", trials=2, seed=0, pack=2,
                        out=str(tmp_path / "nan"))
    by_lr = {t.choices["train.optimizer.lr"]: t for t in exp.trials}
    assert by_lr[0.05].status is Status.OK
    assert by_lr[1e30].status is Status.FAILED and ("is nan" in by_lr[1e30].error or "is inf" in by_lr[1e30].error)

    by_x = _crash_run(tmp_path, "ray", 4, "crash")
    assert by_x[2].status is Status.FAILED and "died (exit code 3) in each of 2 attempts" in by_x[2].error
    assert all(by_x[x].status is Status.OK and by_x[x].value == x for x in (0, 1, 3))


SLOW = textwrap.dedent("""\
    import time

    def score(program):
        time.sleep(0.25)
        p = program.params
        return float(p["x"]) - (p["y"] - 0.3) ** 2
""")

SPACE = textwrap.dedent("""\
    x = intv(1, 6)
    y = floatv(0.0, 1.0)
    objective = maximize(python("slow.py:score"))
    search = search(algo = "random", trials = 6, seed = 5, pack = 3)
""")


def test_resume_after_sigkill_mid_pack_neither_loses_nor_reruns_members(ray_local, tmp_path):
    (tmp_path / "slow.py").write_text(SLOW)
    space = tmp_path / "space.hyp"
    space.write_text(SPACE)
    out = str(tmp_path / "killed")
    proc = subprocess.Popen([sys.executable, "-m", "hypsearch.cli", "run", str(space), "--executor", "inline",
                             "--out", out, "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    try:
        while time.time() < deadline:  # into the second pack: one of its members done, two to go
            if os.path.exists(os.path.join(out, "trials.jsonl")) and len(_finished(out)) >= 4:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    before = _finished(out)
    pending = {r["id"] for r in _lines(out) if r["status"] == "pending"} - {r["id"] for r in before}
    assert 4 <= len(before) < 6 and pending  # members of the killed pack that had not finished

    exp = hypsearch.run(resume=out, executor="ray", max_concurrent=1)  # its packs on Ray now
    after = _finished(out)
    assert after[:len(before)] == before  # finished members kept as they were
    assert len(after) == 6 and len({r["id"] for r in after}) == 6  # none re-run, the budget counts them
    whole = hypsearch.run(str(space), executor="inline", out=str(tmp_path / "whole"))
    keys = ("id", "program", "value", "status")
    assert sorted(({k: r[k] for k in keys} for r in after), key=lambda r: r["id"]) == \
        [{k: getattr(r, k) for k in keys} for r in sorted(whole.trials, key=lambda t: t.id)]
    assert exp.best.id == whole.best.id
