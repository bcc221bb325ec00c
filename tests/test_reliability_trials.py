"""Trials that kill or hang their worker: recorded failed with the exit code, signal or timeout,
retried at most --max-failures times, and never able to stop the run or every resume after it."""

import json
import os
import textwrap

import pytest

import hypsearch
from hypsearch.runner.journal import read_all

KILLERS = textwrap.dedent("""\
    import ctypes, os, time

    def score(program):
        x = program.params["x"]
        if x == 1:
            os._exit(3)
        if x == 2:
            raise SystemExit(4)
        if x == 3:
            raise KeyboardInterrupt()
        if x == 4:
            ctypes.string_at(0)  # segfault
        if x == 5:
            raise BaseException("bare")
        if x == 6:
            time.sleep(1000)
        return float(x)
""")


@pytest.fixture
def space(tmp_path):
    (tmp_path / "killers.py").write_text(KILLERS)

    def write(decision="intv(1, 7)", search=""):
        path = tmp_path / "space.hyp"
        path.write_text(f'x = {decision}\nobjective = maximize(python("killers.py:score"))\n{search}')
        return str(path)
    return write


def _by_x(exp):
    return {t.choices["x"]: t for t in exp.trials}


def test_exit_segfault_and_base_exceptions_in_a_trial_are_recorded_failed_and_the_run_goes_on(space, tmp_path):
    exp = hypsearch.run(space("oneof(1, 2, 3, 4, 5, 7)"), executor="inline", algo="random", trials=6, seed=0,
                        out=str(tmp_path / "exp"), max_failures=0)
    trials = _by_x(exp)
    assert sorted(trials) == [1, 2, 3, 4, 5, 7]
    assert trials[7].status == "ok" and trials[7].value == 7
    assert "exit code 3" in trials[1].error
    assert "SystemExit: 4" in trials[2].error
    assert "KeyboardInterrupt" in trials[3].error
    assert "SIGSEGV" in trials[4].error
    assert "BaseException: bare" in trials[5].error
    assert all(trials[x].status == "failed" for x in (1, 2, 3, 4, 5))


def test_a_trial_that_kills_its_worker_is_retried_max_failures_times_then_recorded_failed(space, tmp_path):
    out = str(tmp_path / "exp")
    exp = hypsearch.run(space("oneof(1, 7)"), executor="inline", algo="random", trials=2, seed=0, out=out,
                        max_failures=1)
    dead = _by_x(exp)[1]
    assert dead.status == "failed" and dead.attempts == 2 and "in each of 2 attempts" in dead.error
    pending = [t for t in read_all(os.path.join(out, "trials.jsonl")).events if t.id == dead.id and t.status == "pending"]
    assert [t.attempts for t in pending] == [1, 2]  # each attempt journaled before it ran


def test_trial_timeout_from_the_search_block_stops_a_hanging_trial_and_records_why(space, tmp_path):
    exp = hypsearch.run(space("oneof(6, 7)", "search = search(trial_timeout = 1)\n"), executor="inline",
                        algo="random", trials=2, seed=0, out=str(tmp_path / "exp"))
    assert exp.settings.trial_timeout == 1
    hung = _by_x(exp)[6]
    assert hung.status == "failed" and "timed out after 1 s" in hung.error
    assert hung.finished - hung.started < 30
    assert _by_x(exp)[7].status == "ok"


def test_resume_records_failed_a_trial_that_was_running_in_every_killed_attempt(space, tmp_path):
    out = str(tmp_path / "exp")
    hypsearch.run(space("oneof(7, 8, 9)"), executor="inline", algo="random", trials=1, seed=0, out=out)
    journal = os.path.join(out, "trials.jsonl")
    with open(journal) as f:
        first = json.loads(f.readline())
    # Three runs killed while trial 5 ran (a pending line each): it must not be run a fourth time.
    with open(journal, "a") as f:
        for attempt in (1, 2, 3):
            other = {"x": (first["assignment"]["x"] + 1) % 3}  # another program than trial 0's
            f.write(json.dumps({**first, "id": 5, "assignment": other, "status": "pending", "attempts": attempt}) + "\n")
    exp = hypsearch.run(resume=out, trials=3, max_failures=2)
    stuck = next(t for t in exp.trials if t.id == 5)
    assert stuck.status == "failed" and "not retried again" in stuck.error
    assert len(exp.trials) == 3 and len({t.id for t in exp.trials}) == 3
