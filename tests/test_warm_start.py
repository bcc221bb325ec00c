"""Warm starts of `hypsearch run`: programs enqueued to run first, and an earlier experiment's
results told to the algorithm without running them again."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

import hypsearch
from hypsearch.runner.experiment import Experiment
from hypsearch.cli import main as cli

OBJECTIVE = "def score(program):\n    p = program.params\n    return float(p['x']) + {'a': 0.0, 'b': 0.5, 'c': 1.0}[p['y']]\n"
SPACE = textwrap.dedent("""\
    x = intv(1, 6)
    y = oneof("a", "b", "c")
    objective = maximize(python("objective.py:score"))
""")


@pytest.fixture
def space_file(tmp_path):
    (tmp_path / "objective.py").write_text(OBJECTIVE)
    (tmp_path / "space.hyp").write_text(SPACE)
    return str(tmp_path / "space.hyp")


def _lines(directory):
    with open(os.path.join(directory, "trials.jsonl")) as f:
        return [json.loads(line) for line in f]


def test_an_enqueued_program_is_the_first_trial_of_the_run(space_file, tmp_path):
    space = hypsearch.load(space_file)
    known = tmp_path / "known.hyp"
    known.write_text(hypsearch.dumps(space.program({"x": 5, "y": "c"}), path=str(known)))
    out = str(tmp_path / "exp")
    assert cli(["run", space_file, "--executor", "inline", "--algo", "smbo", "--trials", "4", "--seed", "0",
                "--out", out, "--enqueue", str(known), "--quiet"]) == 0
    exp = Experiment.open(out)
    assert exp.trials[0].choices == {"x": 5, "y": "c"} and exp.trials[0].value == 6.0
    assert len(exp.trials) == 4 and len({(t.choices["x"], t.choices["y"]) for t in exp.trials}) == 4


def test_an_enqueued_program_outside_the_space_is_refused_before_the_run(space_file, tmp_path, capsys):
    other = tmp_path / "other.hyp"
    other.write_text('x = 9\ny = "a"\nobjective = maximize(python("objective.py:score"))\n')
    code = cli(["run", space_file, "--executor", "inline", "--trials", "2", "--out", str(tmp_path / "exp"),
                "--enqueue", str(other), "--quiet"])
    assert code == 2
    assert "x: 9 is outside intv(1, 6)" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "exp" / "trials.jsonl")


def test_a_warm_start_tells_the_algorithm_an_earlier_run_and_runs_none_of_it_again(space_file, tmp_path):
    first = hypsearch.run(space_file, executor="inline", algo="mcts", trials=8, seed=0, out=str(tmp_path / "a"))
    second = hypsearch.run(space_file, executor="inline", algo="mcts", trials=6, seed=1, out=str(tmp_path / "b"),
                           warm_start=first.dir)
    earlier = {(t.choices["x"], t.choices["y"]) for t in first.trials}
    ran = [(t.choices["x"], t.choices["y"]) for t in second.trials]
    assert len(ran) == 6 and not set(ran) & earlier  # told, never proposed again
    told = [line for line in _lines(second.dir) if line.get("origin")]
    assert len(told) == 8 and all(line["origin"].startswith(first.dir + "#") for line in told)
    # Resuming rebuilds the algorithm from the journal, the told trials included.
    more = hypsearch.run(resume=second.dir, trials=9, executor="inline")
    assert len(more.trials) == 9 and not {(t.choices["x"], t.choices["y"]) for t in more.trials} & earlier


def test_a_warm_start_skips_trials_whose_programs_do_not_fit_the_space(space_file, tmp_path, capsys):
    first = hypsearch.run(space_file, executor="inline", algo="random", trials=8, seed=0, out=str(tmp_path / "a"))
    narrower = tmp_path / "narrow.hyp"
    narrower.write_text(SPACE.replace("intv(1, 6)", "intv(1, 3)"))
    capsys.readouterr()
    second = hypsearch.run(str(narrower), executor="inline", algo="random", trials=3, seed=1,
                           out=str(tmp_path / "b"), warm_start=first.dir)
    fitting = sum(t.choices["x"] <= 3 for t in first.trials)
    assert f"{fitting} finished trials" in capsys.readouterr().err
    assert len(second.trials) == 3


def test_the_search_block_can_enqueue_programs_relative_to_the_file(space_file, tmp_path):
    space = hypsearch.load(space_file)
    (tmp_path / "known.hyp").write_text(hypsearch.dumps(space.program({"x": 2, "y": "b"}), path=str(tmp_path / "known.hyp")))
    with_block = tmp_path / "with_block.hyp"
    with_block.write_text(SPACE + 'search = search(algo = "random", trials = 3, enqueue = ["known.hyp"])\n')
    exp = hypsearch.run(str(with_block), executor="inline", seed=0, out=str(tmp_path / "exp"))
    assert exp.trials[0].choices == {"x": 2, "y": "b"} and len(exp.trials) == 3
