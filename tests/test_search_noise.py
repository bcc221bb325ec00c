"""Noisy results: the model-based algorithms estimate the noise level from the data, and the best
they report (`recommend()`, which `result.best` and best.hyp use) is the best estimate, not the
luckiest single result; the journal keeps every raw value."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import hypsearch
from hypsearch.decisions import Decision
from hypsearch.search import algorithm

# The true mean of a program is additive in its choices; a noisy run adds N(0, 0.6^2).
EFFECTS = np.array([[0.0, 0.4, 1.0], [0.0, 0.6, 0.2], [0.3, 0.0, 0.9], [0.0, 0.5, 0.1]])


def table():
    return [Decision(f"x{i}", "choice", choices=("a", "b", "c")) for i in range(4)]


def true_mean(assignment) -> float:
    return float(sum(EFFECTS[i, assignment[f"x{i}"]] for i in range(4)))


def run(name: str, seed: int, sd: float, budget: int = 40):
    algo = algorithm(name, table(), seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(budget):
        p = algo.propose()
        algo.tell(p, true_mean(p.assignment) + sd * rng.standard_normal())
    return algo


# Seeds where the luckiest single result is not the best program among those evaluated.
@pytest.mark.parametrize("name,seed", [("smbo", 1), ("smbo", 2), ("mcts", 3), ("evolution", 5)])
def test_the_reported_best_under_noise_is_the_best_estimate_not_the_luckiest_result(name, seed):
    algo = run(name, seed, sd=0.6)
    lucky, named = algo.best(), algo.recommend()
    assert lucky.id != named.id
    assert true_mean(named.assignment) > true_mean(lucky.assignment)
    assert named.value < lucky.value  # a lower raw value: it was not the luckiest


@pytest.mark.parametrize("name", ["smbo", "mcts", "evolution"])
def test_the_noise_level_is_estimated_from_the_data(name):
    noisy = [run(name, s, sd=0.6).surrogate.noise_fraction for s in range(2)]
    clean = [run(name, s, sd=0.0).surrogate.noise_fraction for s in range(2)]
    assert min(noisy) > 0.1 > 0.02 > max(clean)


@pytest.mark.parametrize("name", ["random", "smbo", "mcts", "evolution"])
def test_without_noise_the_reported_best_is_the_best_raw_value(name):
    algo = run(name, 0, sd=0.0)
    assert algo.recommend().id == algo.best().id


def test_optimize_reports_the_best_estimate_and_keeps_every_raw_value():
    space = hypsearch.loads(textwrap.dedent("""
        x0 = oneof("a", "b", "c")
        x1 = oneof("a", "b", "c")
        x2 = oneof("a", "b", "c")
        x3 = oneof("a", "b", "c")
    """))
    names = ["x0", "x1", "x2", "x3"]
    rng = np.random.default_rng(1)
    means = {}

    def fn(program):
        index = {n: "abc".index(program.params[n]) for n in names}
        means[tuple(index.values())] = m = float(sum(EFFECTS[i, index[n]] for i, n in enumerate(names)))
        return m + 0.6 * rng.standard_normal()

    result = hypsearch.optimize(space, fn, algo="smbo", trials=40, seed=1)
    luckiest = max(result.trials, key=lambda t: t.value)
    assert result.best.id == result.algorithm.recommend().id != luckiest.id
    assert len(result.trials) == 40 and all(t.value is not None for t in result.trials)  # raw values kept

    def mean_of(trial):
        return means[tuple("abc".index(trial.choices[n]) for n in names)]
    assert mean_of(result.best) > mean_of(luckiest)
