"""`hypsearch run --executor inline`: trials in this process, recorded in the experiment directory."""

import json
import os
import textwrap

import pytest

import hypsearch
import hypsearch.search
from hypsearch.runner.journal import read_all
from hypsearch.cli import main as cli

OBJECTIVE = textwrap.dedent("""\
    def score(program):
        p = program.params
        if p["x"] == 2:
            raise RuntimeError("x = 2 breaks the objective")
        return {"value": p["x"] - (p["y"] - 0.25) ** 2, "x_seen": p["x"]}
""")

SPACE = textwrap.dedent("""\
    x = intv(1, 4)
    y = oneof(0.0, 0.25, 0.5)
    objective = maximize(python("lib/objective.py:score"))
    search = search(algo = "evolution", trials = 7, seed = 3)
""")


@pytest.fixture
def space_file(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "objective.py").write_text(OBJECTIVE)
    path = tmp_path / "space.hyp"
    path.write_text(SPACE)
    return str(path)


def _lines(directory):
    """The finished trials' journal lines (the journal also has a line per proposal)."""
    with open(os.path.join(directory, "trials.jsonl")) as f:
        return [r for r in map(json.loads, f) if r["status"] != "pending"]


def test_inline_run_journals_every_trial_with_its_program_choices_and_times(space_file, tmp_path):
    out = str(tmp_path / "exp")
    exp = hypsearch.run(space_file, executor="inline", algo="random", trials=6, seed=0, out=out)
    lines = _lines(out)
    assert len(lines) == len(exp.trials) == 6
    for line in lines:
        assert {"id", "status", "value", "metrics", "program", "choices", "started", "finished", "error"} <= set(line)
        assert line["finished"] >= line["started"] > 0
        program = hypsearch.loads(line["program"]).sample()  # the journal's text is a concrete program
        assert program.params["x"] == line["choices"]["x"]
    assert len({line["id"] for line in lines}) == 6


def test_failing_trials_are_recorded_failed_and_the_search_goes_on(space_file, tmp_path):
    out = str(tmp_path / "exp")
    exp = hypsearch.run(space_file, executor="inline", algo="random", trials=12, seed=1, out=out)
    failed = [r for r in exp.trials if r.status == "failed"]
    assert failed and all(r.choices["x"] == 2 for r in failed)
    assert all("x = 2 breaks the objective" in r.error for r in failed)
    assert len(exp.trials) == 12 and exp.counts()["ok"] == 12 - len(failed)
    # The journal is the run's record: an algorithm rebuilt from it has learned the same failures.
    algo = hypsearch.search.algorithm("random", hypsearch.load(space_file).decisions, seed=1)
    for record in read_all(os.path.join(out, "trials.jsonl")).events:
        algo.observe(record)
    assert sorted(t.id for t in algo.trials.values() if t.status == "failed") == sorted(r.id for r in failed)


def test_best_hyp_is_the_best_trial_as_a_program_that_loads(space_file, tmp_path):
    out = str(tmp_path / "exp")
    exp = hypsearch.run(space_file, executor="inline", algo="random", trials=8, seed=2, out=out)
    best = max((r for r in exp.trials if r.status == "ok"), key=lambda r: r.value)
    assert exp.best.id == best.id
    program = hypsearch.load(os.path.join(out, "best.hyp")).sample()
    assert program.params["x"] == best.choices["x"] and program.params["y"] == best.choices["y"]


def test_run_json_records_command_seed_versions_and_the_copies_run_from_them(space_file, tmp_path):
    out = str(tmp_path / "exp")
    hypsearch.run(space_file, executor="inline", trials=2, out=out, command=["hypsearch", "run", "space.hyp"])
    run = json.load(open(os.path.join(out, "run.json")))
    assert run["command"] == ["hypsearch", "run", "space.hyp"]
    assert run["seeds"]["algorithm"] == 3 and run["settings"]["algo"] == "evolution"
    assert set(run["versions"]) >= {"python", "torch", "ray", "pyglove", "hypsearch"}
    assert open(os.path.join(out, "space", "space.hyp")).read() == SPACE
    assert open(os.path.join(out, "space", "lib", "objective.py")).read() == OBJECTIVE
    os.remove(os.path.join(os.path.dirname(space_file), "lib", "objective.py"))
    # The trials' programs point at the copies: they still score with the original gone.
    exp = hypsearch.run(resume=out, trials=4)
    assert [r.status for r in exp.trials].count("ok") >= 1 and len(exp.trials) == 4


def test_cli_options_override_the_file_search_block(space_file, tmp_path, capsys):
    out = str(tmp_path / "exp")
    assert cli(["run", space_file, "--executor", "inline", "--algo", "random", "--trials", "3",
                "--seed", "9", "--out", out, "--quiet"]) == 0
    settings = json.load(open(os.path.join(out, "run.json")))["settings"]
    assert (settings["algo"], settings["trials"], settings["seed"]) == ("random", 3, 9)
    assert len(_lines(out)) == 3
    printed = capsys.readouterr().out
    assert os.path.join(out, "best.hyp") in printed and "status" in printed  # the top-trials table


def test_unknown_algorithm_option_is_an_error_naming_the_valid_ones(space_file, tmp_path, capsys):
    code = cli(["run", space_file, "--executor", "inline", "--algo", "mcts", "--algo-opt", "explore=2",
                "--out", str(tmp_path / "exp")])
    err = capsys.readouterr().err
    assert code == 2
    assert "explore" in err and "exploration" in err
    assert not os.path.exists(tmp_path / "exp" / "trials.jsonl")


def test_a_program_that_cannot_be_built_is_skipped_and_never_trained(tmp_path):
    space = tmp_path / "space.hyp"
    space.write_text(textwrap.dedent("""\
        data = iris()
        target = sequential(oneof(linear(out = 8), conv2d(out = 4, kernel = 3)), relu(), linear(out = 3))
        train = train(epochs = 1, batch_size = 64)
        search = search(trials = 2, seed = 0)
    """))
    exp = hypsearch.run(str(space), executor="inline", algo="random", out=str(tmp_path / "exp"))
    # The check before the run finds the conv2d branch unbuildable on iris's flat rows: such a
    # proposal is told to the algorithm as invalid without spending a trial, and the one program
    # left is the whole space.
    assert [r.status for r in exp.trials] == ["ok"]
    assert all("conv2d" not in r.program and r.metrics[-1]["epoch"] == 1 for r in exp.trials)


def test_a_mistake_that_breaks_every_trial_stops_the_run_with_the_reason(tmp_path, capsys):
    space = tmp_path / "space.hyp"
    space.write_text(textwrap.dedent("""\
        data = iris()
        target = sequential(linear(out = oneof(4, 8)), relu(), linear(out = 3))
        train = train(epochs = 1)
        objective = maximize("val_accurcy")
    """))
    code = cli(["run", str(space), "--executor", "inline", "--trials", "4", "--out", str(tmp_path / "exp"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "val_accurcy" in err and "val_accuracy" in err
    # Caught by the check before the run: no trial was started, nothing was written.
    assert not os.path.exists(tmp_path / "exp" / "trials.jsonl")


def test_run_and_show_summarise_the_errors_of_failed_trials(space_file, tmp_path, capsys):
    out = str(tmp_path / "exp")
    assert cli(["run", space_file, "--executor", "inline", "--trials", "12", "--seed", "0", "--out", out, "--quiet"]) == 0
    failed = sum(1 for r in hypsearch.run(resume=out).trials if r.status == "failed")
    printed = capsys.readouterr().out
    assert f"{failed}x " in printed and "x = 2 breaks the objective" in printed
    assert cli(["show", out]) == 0
    assert "errors of failed trials:" in capsys.readouterr().out


def test_a_data_file_named_by_a_relative_path_is_found_from_the_experiments_copy(tmp_path):
    import numpy as np

    (tmp_path / "data").mkdir()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype("float32")
    np.savez(tmp_path / "data" / "table.npz", x=x, y=(x[:, 0] > 0).astype("int64"))
    space = tmp_path / "space.hyp"
    space.write_text('data = npz("data/table.npz")\ntarget = sequential(linear(out = oneof(4, 8)), relu(), '
                     'linear(out = 2))\ntrain = train(epochs = 1)\n')
    exp = hypsearch.run(str(space), executor="inline", trials=2, seed=0, out=str(tmp_path / "exp"))
    assert [r.status for r in exp.trials] == ["ok", "ok"]
    link = tmp_path / "exp" / "space" / "data" / "table.npz"
    assert link.is_symlink() and link.resolve() == (tmp_path / "data" / "table.npz").resolve()  # linked, not copied


def test_errors_of_trials_name_the_users_files_not_the_experiments_copy(tmp_path, capsys):
    (tmp_path / "obj.py").write_text("def score(program):\n    raise ValueError('bad x in ' + __file__)\n")
    (tmp_path / "space.hyp").write_text('x = intv(1, 3)\nobjective = maximize(python("obj.py:score"))\n')
    out = tmp_path / "exp"
    assert cli(["run", str(tmp_path / "space.hyp"), "--executor", "inline", "--trials", "2", "--out", str(out),
                "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"bad x in {tmp_path / 'obj.py'}" in printed and str(out / "space") not in printed
    assert cli(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert f"{tmp_path / 'obj.py'}:score raised ValueError" in shown and str(out / "space") not in shown
    # The journal keeps what the trial itself reported.
    assert str(out / "space") in _lines(out)[0]["error"]


def test_ctrl_c_stops_the_run_and_names_the_command_that_resumes_it(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "slow.py").write_text("import time\n\ndef score(program):\n    time.sleep(0.3)\n"
                                      "    return float(program.params['x'])\n")
    (tmp_path / "space.hyp").write_text('x = intv(1, 50)\nobjective = maximize(python("slow.py:score"))\n')
    out = tmp_path / "exp"
    proc = subprocess.Popen([sys.executable, "-m", "hypsearch.cli", "run", "space.hyp", "--executor", "inline",
                             "--trials", "40", "--out", str(out), "--quiet"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(_lines(out) if (out / "trials.jsonl").exists() else []) < 2:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert f"hypsearch run --resume {out}" in err and "Traceback" not in err
    done = len(_lines(out))
    exp = hypsearch.run(resume=str(out), trials=done + 1, executor="inline")
    assert len(exp.trials) == done + 1  # nothing recorded was lost
