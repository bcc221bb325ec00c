"""The experiment directory under misuse: one run at a time, damaged records skipped and reported
(the damaged file kept), an edited space copy refused, resume without the checkpoint exact."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import hypsearch
from hypsearch.cli import main as cli
from hypsearch.dsl.errors import HypError

OBJECTIVE = "def score(program):\n    return float(program.params['x'])\n"


@pytest.fixture
def experiment(tmp_path):
    (tmp_path / "obj.py").write_text(OBJECTIVE)
    (tmp_path / "space.hyp").write_text(textwrap.dedent("""\
        x = intv(1, 50)
        objective = maximize(python("obj.py:score"))
    """))
    out = str(tmp_path / "exp")
    hypsearch.run(str(tmp_path / "space.hyp"), executor="inline", algo="evolution", trials=4, seed=1, out=out)
    return out


def _ids(out):
    with open(os.path.join(out, "trials.jsonl"), "rb") as f:
        rows = [json.loads(line) for line in f if line.startswith(b"{") and b'"status": "pending"' not in line]
    return [r["id"] for r in rows if isinstance(r.get("id"), int)]


def test_a_second_run_on_a_directory_in_use_is_refused_naming_the_holder_and_a_killed_holder_frees_it(experiment):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""\
        import sys, time
        from hypsearch.runner.lock import DirectoryLock
        DirectoryLock({experiment!r}).acquire()
        print("held", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(HypError, match=rf"in use by another run \(pid {holder.pid} on host"):
            hypsearch.run(resume=experiment, trials=6)
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    exp = hypsearch.run(resume=experiment, trials=6)  # the kernel dropped the dead holder's lock
    assert len(exp.trials) == 6 and len(set(_ids(experiment))) == 6


def test_damaged_journal_lines_are_reported_by_line_and_skipped_by_show_and_resume(experiment, capsys):
    journal = os.path.join(experiment, "trials.jsonl")
    with open(journal, "ab") as f:
        f.write(b'garbage\n{"id": "x"}\n\xff\xfe\n{"id": 9, "assignment": {}, "status": "ok", "started": "soon"}\n')
    with open(journal, "rb") as f:
        damaged = f.read()
    first = damaged.count(b"\n") - 3
    assert cli(["show", experiment]) == 0
    err = capsys.readouterr().err
    for n in range(first, first + 4):
        assert f"line {n}:" in err
    exp = hypsearch.run(resume=experiment, trials=6)
    assert "line" in capsys.readouterr().err
    assert len(exp.trials) == 6 and len(set(t.id for t in exp.trials)) == 6
    with open(journal, "rb") as f:
        assert f.read().startswith(damaged)  # the damaged lines are kept as they were


def test_a_corrupt_run_json_is_reported_and_show_and_resume_go_on(experiment, capsys):
    run_json = os.path.join(experiment, "run.json")
    with open(run_json, "w") as f:
        f.write('{"settings": [')
    assert cli(["show", experiment]) == 0
    out = capsys.readouterr()
    assert "run.json is damaged" in out.err and "4 ok" in out.out
    exp = hypsearch.run(resume=experiment, trials=6)
    assert "run.json.damaged" in capsys.readouterr().err
    assert len(exp.trials) == 6 and exp.settings.algo == "evolution"
    with open(run_json + ".damaged") as f:
        assert f.read() == '{"settings": ['


def test_resume_after_the_space_copy_was_edited_exits_2_without_a_traceback(experiment, capsys):
    copy = os.path.join(experiment, "space", "space.hyp")
    with open(copy) as f:
        text = f.read()
    with open(copy, "w") as f:
        f.write(text.replace("intv(1, 50)", "floatv(0, 1)"))
    assert cli(["run", "--resume", experiment, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "was edited after the experiment started" in err and "Traceback" not in err


def test_resume_without_the_searcher_checkpoint_rebuilds_from_the_journal_without_rerunning(experiment):
    for name in os.listdir(experiment):
        if name.startswith("searcher"):
            os.remove(os.path.join(experiment, name))
    exp = hypsearch.run(resume=experiment, trials=7)
    ids = _ids(experiment)
    assert len(exp.trials) == 7 and len(ids) == len(set(ids)) == 7
    programs = [t.program for t in exp.trials]
    assert len(set(programs)) == 7  # evolution proposed no finished program again


@pytest.mark.parametrize("argv, message", [
    (["run", "SPACE", "--cpus-per-trial", "nan"], "--cpus-per-trial takes a number >= 0"),
    (["run", "SPACE", "--gpus-per-trial", "nan"], "--gpus-per-trial takes a number >= 0"),
    (["run", "SPACE", "--trial-timeout", "0"], "--trial-timeout (seconds) takes a number > 0"),
    (["run", "SPACE", "--algo", "mcts", "--algo-opt", "rollouts=1000000000"], "rollouts` (default"),
    (["run", "SPACE", "--algo", "mcts", "--algo-opt", "exploration=Infinity"], "exploration` (default"),
    (["run", "SPACE", "--max-failures", "-1"], "--max-failures takes a whole number >= 0"),
    (["run", "SPACE", "--out", "FILE"], "a file is there, not a directory"),
    (["run", "SPACE", "--out", "/proc/hyp/x"], "cannot write in /proc"),
    (["run", "SPACE", "--executor", "ray", "--address", "127.0.0.1:1"], "no Ray cluster answers there"),
    (["run", "SPACE", "--executor", "ray", "--address", "nowhere"], "expected HOST:PORT"),
    (["sample", "SPACE", "--out", "FILE"], "a file is there, not a directory"),
    (["sample", "SPACE", "-n", "1000000000"], "-n takes a whole number from 1 to"),
    (["plot", "EXP", "--out", "c.xyz"], "must end in .png, .pdf, .svg"),
    (["show", "EXP", "--top", "-1"], "--top takes a whole number"),
    (["show", "FILE"], "is a file, not an experiment directory"),
])
def test_every_bad_option_is_a_clear_error_with_exit_2(experiment, tmp_path, capsys, argv, message):
    afile = tmp_path / "afile"
    afile.write_text("x")
    swap = {"SPACE": str(tmp_path / "space.hyp"), "EXP": experiment, "FILE": str(afile)}
    started = time.monotonic()
    assert cli([swap.get(a, a) for a in argv] + (["--quiet"] if argv[0] == "run" else [])) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert time.monotonic() - started < 30  # the address probe gives up in seconds


def test_check_summary_of_a_huge_layer_describes_it_without_allocating(tmp_path, capsys):
    path = tmp_path / "big.hyp"
    path.write_text("target = sequential(linear(out = 1000000000), linear(out = 10))\ndata = digits()\n")
    assert cli(["check", "--summary", str(path)]) == 0
    assert "75,000,000,010" in capsys.readouterr().out
