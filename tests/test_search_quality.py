"""Model-based search beats random search on a small fixed problem, over several seeds."""

from __future__ import annotations

import numpy as np
import pytest

from hypsearch.decisions import Decision
from hypsearch.search import algorithm


def best_found(name: str, seed: int, budget: int = 40) -> float:
    table = [Decision(f"x{i}", "choice", choices=("a", "b", "c", "d")) for i in range(10)]
    target = np.random.default_rng(100 + seed).integers(0, 4, 10)
    algo = algorithm(name, table, seed=seed)
    best = 0.0
    for _ in range(budget):
        p = algo.propose()
        value = float(sum(p.assignment[f"x{i}"] == target[i] for i in range(10)))
        best = max(best, value)
        algo.tell(p, value)
    return best


@pytest.mark.parametrize("name", ["mcts", "smbo"])
def test_model_based_search_beats_random_search_across_seeds(name):
    seeds = range(5)
    ours = [best_found(name, s) for s in seeds]
    baseline = [best_found("random", s) for s in seeds]
    assert np.mean(ours) >= np.mean(baseline) + 1.0
    assert sum(o >= b for o, b in zip(ours, baseline)) >= 4


def best_on_a_bowl(name: str, seed: int, budget: int = 40) -> float:
    table = [Decision(f"x{i}", "float", low=-5.0, high=5.0) for i in range(3)] + \
        [Decision("lr", "float", low=1e-5, high=1.0, log=True)]
    algo = algorithm(name, table, seed=seed)
    best = -np.inf
    for _ in range(budget):
        p = algo.propose()
        a = p.assignment
        value = -sum((a[f"x{i}"] - 1.5) ** 2 for i in range(3)) - (np.log10(a["lr"]) + 3) ** 2
        best = max(best, value)
        algo.tell(p, value)
    return best


@pytest.mark.parametrize("name", ["mcts", "smbo"])
def test_model_based_search_finds_an_optimum_inside_continuous_ranges(name):
    seeds = range(4)
    ours = [best_on_a_bowl(name, s) for s in seeds]
    baseline = [best_on_a_bowl("random", s) for s in seeds]
    assert np.mean(ours) > np.mean(baseline) + 1.0
