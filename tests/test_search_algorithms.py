"""Behaviour every search algorithm shares: determinism, conditional spaces, pending and failed
trials, exhaustion, partial results, JSON state and options."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hypsearch.decisions import Condition, Decision, active_names, space_size
from hypsearch.search import ALGORITHMS, algorithm, from_state, options

NAMES = sorted(ALGORITHMS)


def conditional_space():
    """A depth decision switching copies on and off, a branch with its own sub-decisions, an int,
    a log-scaled float and a subset."""
    return [
        Decision("depth", "int", low=1, high=3),
        Decision("width[0]", "choice", choices=("16", "32", "64")),
        Decision("width[1]", "choice", choices=("16", "32", "64"), condition=Condition("depth", frozenset({2, 3}))),
        Decision("width[2]", "choice", choices=("16", "32", "64"), condition=Condition("depth", frozenset({3}))),
        Decision("head", "choice", choices=("full()", "lowrank()")),
        Decision("rank", "int", low=2, high=8, condition=Condition("head", frozenset({1}))),
        Decision("lr", "float", low=1e-4, high=1e-1, log=True),
        Decision("inputs", "subset", choices=("a", "b", "c", "d"), k=2, sorted=True),
    ]


def finite_space():
    """12 programs: a gate with one conditional child."""
    return [
        Decision("a", "choice", choices=("x", "y", "z")),
        Decision("gate", "choice", choices=("off", "on")),
        Decision("b", "int", low=0, high=2, condition=Condition("gate", frozenset({1}))),
    ]


def score(assignment) -> float:
    v = float(assignment.get("width[0]", assignment.get("a", 0)))
    v += assignment.get("depth", 0) + (math.log10(assignment["lr"]) if "lr" in assignment else 0.0)
    return v + 0.1 * assignment.get("rank", 0) + 0.01 * sum(assignment.get("inputs", ()))


def run(algo, count, fail_every=0):
    out = []
    for i in range(count):
        p = algo.propose()
        if p is None:
            break
        out.append(p.assignment)
        if fail_every and i % fail_every == fail_every - 1:
            algo.fail(p, "boom")
        else:
            algo.tell(p, score(p.assignment))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_the_same_proposals(name):
    assert run(algorithm(name, conditional_space(), seed=3), 30) == run(algorithm(name, conditional_space(), seed=3), 30)


@pytest.mark.parametrize("name", NAMES)
def test_different_seeds_give_different_proposals(name):
    assert run(algorithm(name, conditional_space(), seed=1), 15) != run(algorithm(name, conditional_space(), seed=2), 15)


@pytest.mark.parametrize("name", NAMES)
def test_only_active_decisions_are_set_and_values_lie_in_their_domains(name):
    table = conditional_space()
    by_name = {d.name: d for d in table}
    for a in run(algorithm(name, table, seed=0), 40, fail_every=7):
        assert list(a) == active_names(table, a)
        for key, value in a.items():
            assert by_name[key].validate(value) == value


@pytest.mark.parametrize("name", NAMES)
def test_pending_proposals_are_distinct(name):
    algo = algorithm(name, conditional_space(), seed=0)
    run(algo, 12)
    pending = [algo.propose() for _ in range(16)]
    keys = {json.dumps(p.assignment, sort_keys=True) for p in pending}
    assert len(keys) == 16
    assert sorted(algo.pending) == sorted(p.id for p in pending)


@pytest.mark.parametrize("name", NAMES)
def test_a_finite_space_is_searched_without_repeats_and_ends_cleanly(name):
    table = finite_space()
    algo = algorithm(name, table, seed=0)
    seen = run(algo, 100, fail_every=3)
    assert len(seen) == space_size(table) == 12
    assert len({json.dumps(a, sort_keys=True) for a in seen}) == 12
    assert algo.propose() is None and algo.propose() is None


@pytest.mark.parametrize("name", NAMES)
def test_failed_programs_are_never_proposed_again(name):
    algo = algorithm(name, finite_space(), seed=1)
    failed = []
    for _ in range(6):
        p = algo.propose()
        algo.fail(p, "out of memory")
        failed.append(p.assignment)
    later = run(algo, 100)
    assert not any(a in later for a in failed)
    assert all(t.status == "failed" and t.error == "out of memory" for t in list(algo.trials.values())[:6])


@pytest.mark.parametrize("name", NAMES)
def test_the_last_pending_programs_of_a_finite_space_end_the_search(name):
    algo = algorithm(name, finite_space(), seed=0)
    pending = [algo.propose() for _ in range(12)]
    assert all(p is not None for p in pending)
    assert algo.propose() is None


@pytest.mark.parametrize("name", NAMES)
def test_saved_state_resumes_to_the_same_proposals(name):
    algo = algorithm(name, conditional_space(), seed=5)
    run(algo, 25, fail_every=6)
    algo.tell(algo.propose(), 0.5, budget=0.3)
    held = algo.propose()  # pending across the save
    state = json.loads(json.dumps(algo.state_dict()))
    copy = from_state(state, conditional_space())
    assert copy.pending == algo.pending == [held.id]
    for source in (algo, copy):
        source.tell(held.id, 1.0)
    assert run(algo, 15, fail_every=4) == run(copy, 15, fail_every=4)


@pytest.mark.parametrize("name", NAMES)
def test_state_of_another_space_is_refused(name):
    state = algorithm(name, conditional_space(), seed=0).state_dict()
    with pytest.raises(ValueError, match="different decision table"):
        from_state(state, finite_space())


@pytest.mark.parametrize("name", NAMES)
def test_partial_results_are_kept_apart_from_final_ones(name):
    algo = algorithm(name, conditional_space(), seed=0)
    run(algo, 12)
    p = algo.propose()
    algo.tell(p, 1e6, budget=0.5)
    assert algo.trials[p.id].status == "stopped"
    assert algo.best().value < 1e6
    assert p.assignment not in run(algo, 20)


@pytest.mark.parametrize("name", NAMES)
def test_answering_a_proposal_twice_or_with_nan_is_refused(name):
    algo = algorithm(name, finite_space(), seed=0)
    p = algo.propose()
    with pytest.raises(ValueError, match="fail"):
        algo.tell(p, float("nan"))
    algo.tell(p, 1.0)
    with pytest.raises(ValueError, match="not pending"):
        algo.tell(p, 2.0)
    with pytest.raises(ValueError, match="not pending"):
        algo.fail(p.id)


def test_log_scaled_floats_are_sampled_on_a_log_scale():
    algo = algorithm("random", [Decision("lr", "float", low=1e-6, high=1.0, log=True)], seed=0)
    values = np.array([p.assignment["lr"] for p in (algo.propose() for _ in range(400))])
    assert 1e-4 < np.median(values) < 1e-2
    assert values.min() >= 1e-6 and values.max() <= 1.0


@pytest.mark.parametrize("distinct,ordered", [(True, True), (True, False), (False, True)])
def test_subset_decisions_respect_distinct_and_sorted(distinct, ordered):
    table = [Decision("s", "subset", choices=tuple("abcde"), k=3, distinct=distinct, sorted=ordered)]
    for name in NAMES:
        for a in run(algorithm(name, table, seed=0), 20):
            s = a["s"]
            assert len(s) == 3
            assert not distinct or len(set(s)) == 3
            assert not ordered or list(s) == sorted(s)


def test_unknown_options_raise_value_error_listing_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown option `?popsize.*valid options: max_points, mutants, mutation_tries, noise_floor, population, recommend_among, tournament"):
        algorithm("evolution", finite_space(), popsize=5)
    with pytest.raises(ValueError, match="unknown search algorithm 'tpe'; available: evolution, mcts, random, smbo"):
        algorithm("tpe", finite_space())


def test_option_values_are_converted_and_checked():
    algo = algorithm("evolution", finite_space(), population="8", tournament=3.0)
    assert algo.options["population"] == 8 and algo.options["tournament"] == 3
    with pytest.raises(ValueError, match="tournament"):
        algorithm("evolution", finite_space(), population=4, tournament=5)
    with pytest.raises(ValueError, match="option `exploration` of algorithm `mcts` takes float"):
        algorithm("mcts", finite_space(), exploration="lots")


@pytest.mark.parametrize("name", NAMES)
def test_options_document_every_default(name):
    algo = algorithm(name, finite_space())
    for key, (default, doc) in options(name).items():
        assert algo.options[key] == default
        assert isinstance(doc, str) and len(doc) > 10
