"""The pyglove wrapper: pg.sample and pg.iter drive a hypsearch algorithm through DNA."""

from __future__ import annotations

import pyglove as pg
import pytest

from hypsearch.decisions import Condition, Decision
from hypsearch.decisions.dna import dna_spec, from_dna
from hypsearch.search import algorithm


def table():
    return [
        Decision("depth", "int", low=1, high=3),
        Decision("w1", "choice", choices=("16", "32"), condition=Condition("depth", frozenset({2, 3}))),
        Decision("steps", "int", low=1, high=1000, log=True),
        Decision("lr", "float", low=1e-4, high=1e-1, log=True),
        Decision("inputs", "subset", choices=("a", "b", "c"), k=2, sorted=True),
    ]


@pytest.mark.parametrize("name", ["mcts", "smbo"])
def test_pg_sample_drives_the_algorithm_through_the_lead_dna_spec(name):
    decisions = table()
    algo = algorithm(name, decisions, seed=0)
    proposed = []
    for dna, feedback in pg.sample(dna_spec(decisions), algo.as_dna_generator(), num_examples=12):
        assignment = from_dna(decisions, dna)
        proposed.append(assignment)
        feedback(float(assignment["depth"]))
    told = list(algo.trials.values())
    assert len(told) == 12 and all(t.status == "ok" for t in told)
    assert [algo.encoding.to_assignment(algo.row(t)) for t in told] == proposed
    assert algo.best().value == max(a["depth"] for a in proposed)


def test_pg_iter_on_a_hyper_value_stops_when_the_space_is_exhausted():
    hyper = pg.Dict(x=pg.oneof([1, 2, 3], name="x"), y=pg.oneof(["a", "b"], name="y"))
    algo = algorithm("evolution", [Decision("x", "choice", choices=("1", "2", "3")),
                                   Decision("y", "choice", choices=("'a'", "'b'"))], seed=0)
    seen = []
    for example, feedback in pg.iter(hyper, 20, algo.as_dna_generator()):
        seen.append((example.x, example.y))
        feedback(example.x)
    assert sorted(seen) == [(x, y) for x in (1, 2, 3) for y in ("a", "b")]


def test_a_dna_spec_for_other_decisions_is_refused():
    algo = algorithm("random", table(), seed=0)
    other = dna_spec([Decision("z", "choice", choices=("a", "b"))])
    with pytest.raises(ValueError, match="one decision point per decision"):
        next(iter(pg.sample(other, algo.as_dna_generator(), num_examples=1)))
