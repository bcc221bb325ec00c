"""The compact encoding: sizes, enumeration, mutation and surrogate features of a decision table."""

from __future__ import annotations

import numpy as np
import pytest

from hypsearch.decisions import Condition, Decision, active_names, space_size
from hypsearch.decisions import RowEncoding


def table():
    return [
        Decision("depth", "int", low=1, high=3),
        Decision("w[0]", "choice", choices=("a", "b")),
        Decision("w[1]", "choice", choices=("a", "b", "c"), condition=Condition("depth", frozenset({2, 3}))),
        Decision("k", "int", low=1, high=4, condition=Condition("w[1]", frozenset({2}))),
        Decision("s", "subset", choices=("x", "y", "z"), k=2, sorted=True),
        Decision("n", "int", low=1, high=100, log=True),
    ]


def test_the_size_and_the_enumeration_agree_with_the_decision_table():
    space = RowEncoding(table())
    assert space.size == space_size(table())
    rows = space.all_rows()
    assert len(rows) == space.size
    assert len({space.key(r) for r in rows}) == space.size
    for r in rows[::97]:
        a = space.to_assignment(r)
        assert list(a) == active_names(table(), a)


def test_rows_round_trip_through_assignments_and_json_lists():
    space = RowEncoding(table())
    for r in space.sample(50, np.random.default_rng(0)):
        assert space.key(space.from_assignment(space.to_assignment(r))) == space.key(r)
        assert space.key(space.from_list(space.to_list(r))) == space.key(r)


def test_an_assignment_setting_an_inactive_or_missing_an_active_decision_is_refused():
    space = RowEncoding(table())
    with pytest.raises(ValueError, match="inactive decisions: w\\[1\\]"):
        space.from_assignment({"depth": 1, "w[0]": 0, "w[1]": 1, "s": (0, 1), "n": 5})
    with pytest.raises(ValueError, match="misses active decisions: w\\[1\\]"):
        space.from_assignment({"depth": 2, "w[0]": 0, "s": (0, 1), "n": 5})


def test_a_mutation_changes_one_active_decision_and_the_sub_tree_it_switches():
    space = RowEncoding(table())
    rng = np.random.default_rng(1)
    parents = space.sample(300, rng)
    children = space.mutate(parents, rng)
    for p, c in zip(parents, children):
        pa, ca = space.to_assignment(p), space.to_assignment(c)
        assert list(ca) == active_names(table(), ca)
        changed = [k for k in pa if k in ca and pa[k] != ca[k]]
        assert len(changed) == 1
        switched = set(pa) ^ set(ca)
        assert all(table()[space.index[k]].condition is not None for k in switched)


def test_features_are_one_hot_scaled_and_zero_for_inactive_decisions():
    space = RowEncoding(table())
    row = space.from_assignment({"depth": 1, "w[0]": 1, "s": (0, 2), "n": 100})
    f = space.features(row[None, :])[0]
    assert f.shape == (space.n_features,)
    assert f[space.feature_decision == space.index["w[0]"]].tolist() == [0.0, 1.0]
    assert f[space.feature_decision == space.index["w[1]"]].tolist() == [0.0, 0.0, 0.0]
    assert f[space.feature_decision == space.index["s"]].tolist() == [0.5, 0.0, 0.5]
    n = f[space.feature_decision == space.index["n"]]
    assert n[0] == 1.0 and n.argmax() == 0 and n[-1] == 1.0  # log scale: 100 is the top; the last bump peaks there
    k = f[space.feature_decision == space.index["k"]]
    assert k[:-1].tolist() == [0.0] * (len(k) - 1) and k[-1] == 1.0  # all zero but the 'inactive' flag


def test_the_bump_features_let_a_linear_model_find_an_optimum_inside_a_range():
    space = RowEncoding([Decision("lr", "float", low=1e-5, high=1.0, log=True)])
    rows = space.sample(200, np.random.default_rng(0))
    x = space.features(rows)
    y = -(np.log10(rows[:, 0]) + 3) ** 2
    w, *_ = np.linalg.lstsq(np.hstack([x, np.ones((len(x), 1))]), y, rcond=None)
    grid = space.from_unit(np.linspace(0, 0.999, 101)[:, None])
    best = grid[(np.hstack([space.features(grid), np.ones((101, 1))]) @ w).argmax(), 0]
    assert 10 ** -3.5 < best < 10 ** -2.5
