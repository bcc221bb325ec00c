"""hypsearch.optimize: an in-process search loop over a space, scored by a Python function."""

from __future__ import annotations

import math
import textwrap

import pytest

import hypsearch
from hypsearch import HypError

SPACE = textwrap.dedent("""
    a = oneof(1, 2, 3, 4)
    b = intv(0, 5)
    lr = floatv(0.0001, 0.1, log = true)
""")


def score(program) -> float:
    p = program.params
    return p["a"] * 10 + p["b"] - abs(math.log10(p["lr"]) + 2)


def test_optimize_records_failures_and_reports_the_best_successful_trial():
    def fn(program):
        if program.params["b"] == 0:
            raise RuntimeError("diverged")
        return score(program)

    result = hypsearch.optimize(hypsearch.loads(SPACE), fn, algo="smbo", trials=25, seed=0)
    assert len(result.trials) == 25
    failed = [t for t in result.trials if t.status == "failed"]
    assert failed and all(t.choices["b"] == 0 and t.error == "RuntimeError: diverged" and t.value is None for t in failed)
    ok = [t for t in result.trials if t.status == "ok"]
    assert result.best.value == max(t.value for t in ok)
    assert result.best.value == score(result.program(result.best))
    assert set(result.best.choices) == {"a", "b", "lr"}
    assert result.algorithm.best().value == result.best.value


@pytest.mark.parametrize("algo", ["random", "evolution", "mcts", "smbo"])
def test_optimize_minimizes_when_asked(algo):
    result = hypsearch.optimize(hypsearch.loads(SPACE), score, algo=algo, trials=15, seed=1, mode="min")
    assert result.mode == "min"
    assert result.best.value == min(t.value for t in result.trials)


def test_optimize_can_be_called_twice_through_the_package():
    space = hypsearch.loads(SPACE)
    first = hypsearch.optimize(space, score, trials=5, seed=0)
    second = hypsearch.optimize(space, score, trials=5, seed=0)
    assert [t.choices for t in first.trials] == [t.choices for t in second.trials]


def test_non_numbers_and_non_finite_values_mark_trials_failed():
    values = iter([float("nan"), "high", {"value": 2.0, "loss": 1.0}, float("inf"), 1.0])
    result = hypsearch.optimize(hypsearch.loads(SPACE), lambda p: next(values), algo="random", trials=5, seed=0)
    assert [t.status for t in result.trials] == ["failed", "failed", "ok", "failed", "ok"]
    assert result.best.value == 2.0 and result.best.last_metrics == {"value": 2.0, "loss": 1.0}


def test_optimize_stops_when_a_finite_space_is_exhausted():
    result = hypsearch.optimize(hypsearch.loads("x = oneof(1, 2, 3)\n"), lambda p: p.params["x"], trials=10)
    assert len(result.trials) == 3 and result.best.choices == {"x": 3}


def test_optimize_uses_the_python_objective_of_the_file(tmp_path):
    (tmp_path / "obj.py").write_text("def loss(program):\n    return (program.params['x'] - 3) ** 2\n")
    (tmp_path / "space.hyp").write_text('x = intv(0, 9)\nobjective = minimize(python("obj.py:loss"))\n')
    result = hypsearch.optimize(str(tmp_path / "space.hyp"), algo="random", trials=10, seed=0)
    assert result.mode == "min"
    assert result.best.choices == {"x": 3} and result.best.value == 0


def test_a_training_objective_without_fn_is_a_clear_error():
    with pytest.raises(HypError, match="Python objective"):
        hypsearch.optimize(hypsearch.loads('x = oneof(1, 2)\nobjective = maximize("val_accuracy")\n'), trials=2)


def test_bad_algorithm_options_and_modes_are_hyp_errors():
    space = hypsearch.loads(SPACE)
    with pytest.raises(HypError, match="valid options: exploration"):
        hypsearch.optimize(space, score, algo="mcts", trials=2, explore=2.0)
    with pytest.raises(HypError, match="mode"):
        hypsearch.optimize(space, score, trials=2, mode="maximise")
    with pytest.raises(HypError, match="unknown search algorithm"):
        hypsearch.optimize(space, score, algo="bayes", trials=2)


def test_enqueued_programs_run_first_and_the_algorithm_learns_from_them():
    space = hypsearch.loads(SPACE)
    known = [space.sample(seed=s) for s in (3, 4)]
    result = hypsearch.optimize(space, score, algo="smbo", trials=6, seed=0,
                                enqueue=known + [known[0], space.choices_of(known[1])])
    assert [result.program(t) for t in result.trials[:2]] == known  # in order, duplicates dropped
    assert len(result.trials) == 6 and len({tuple(sorted(t.choices.items())) for t in result.trials}) == 6
    told = [t for t in result.algorithm.trials.values() if t.status == "ok"]
    assert {t.id for t in told} >= {result.trials[0].id, result.trials[1].id}


def test_an_enqueued_program_outside_the_space_is_a_clear_error():
    space = hypsearch.loads(SPACE)
    outside = space.sample(seed=0).clone(deep=True)
    outside.rebind({"params.a": 7})
    with pytest.raises(HypError, match=r"a: 7 is not one of oneof\(1, 2, 3, 4\)"):
        hypsearch.optimize(space, score, trials=3, seed=0, enqueue=[outside])
