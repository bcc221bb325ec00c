"""MCTS: the tree is kept across proposals and pending proposals spread through virtual loss."""

from __future__ import annotations

from hypsearch.decisions import Decision
from hypsearch.search import algorithm


def table(n=4, k=5):
    return [Decision(f"x{i}", "choice", choices=tuple(str(c) for c in range(k))) for i in range(n)]


def test_the_tree_persists_across_proposals_and_counts_every_answer():
    algo = algorithm("mcts", table(), seed=0)
    for i in range(30):
        p = algo.propose()
        algo.tell(p, float(p.assignment["x0"]))
    root = algo.root
    assert root.n == 30 and root.p == 0
    assert len(root.children) == 5
    assert sum(c.n for c in root.children.values()) == 30
    assert any(c.children for c in root.children.values())  # the tree grew below the root


def test_virtual_loss_spreads_pending_proposals_over_the_tree():
    algo = algorithm("mcts", table(), seed=0)
    first = [algo.propose() for _ in range(5)]
    assert sorted(p.assignment["x0"] for p in first) == [0, 1, 2, 3, 4]  # every value gets its turn
    for p in first:
        algo.tell(p, 1.0 if p.assignment["x0"] == 4 else 0.0)
    pending = [algo.propose() for _ in range(8)]
    assert algo.root.p == 8
    assert len({p.assignment["x0"] for p in pending}) >= 2  # not all on the best branch
    assert sum(p.assignment["x0"] == 4 for p in pending) >= 2  # yet the best branch gets most


def test_failures_count_against_their_branch():
    algo = algorithm("mcts", table(n=2, k=3), seed=0)
    for _ in range(9):
        p = algo.propose()
        if p.assignment["x0"] == 0:
            algo.fail(p, "diverged")
        else:
            algo.tell(p, 1.0)
    bad = algo.root.children[(0.0,)]
    assert bad.f == 3 and bad.n == 0 and bad.closed


def test_floats_are_widened_progressively():
    algo = algorithm("mcts", [Decision("lr", "float", low=1e-4, high=1.0, log=True)], seed=0)
    for _ in range(40):
        p = algo.propose()
        algo.tell(p, -abs(p.assignment["lr"] - 0.01))
    assert 3 <= len(algo.root.children) <= 10  # about sqrt(visits) values, not one per visit
