"""Monte-Carlo tree search over the sequence of active decisions (DeepArchitect-style).

A node is a prefix of decisions taken in table order, skipping inactive ones; its children are the
values of the next active decision. Selection follows UCT on rewards normalised to [0, 1] by rank:
a value's reward is its quantile among the final values seen when it arrives, so a few outliers
(NAS-Bench-201 cells that do not train score 10% against 80-94% for the rest) do not squash the
differences that matter; the roll-out model learns the same normalised rewards. A node whose children are not all open yet is expanded: for
categorical decisions every value gets its turn, for floats and large domains progressive widening
allows ceil(widening * visits ** widening_power) children. From there a roll-out completes the
program; roll-outs are drawn from a learned additive model (`search/surrogate.py`, Thompson
sampled) once a few values are known, since plain random roll-outs barely beat random search in
spaces of 20 decisions, and the one proposed is the best of `rollouts` draws by expected
improvement under the same GP as `smbo` (`search/gp.py`, which also estimates the noise level; the
reported best under noise is its best posterior mean). The tree is shared by
all pending proposals: each counts as a virtual loss (reward 0) on its path until answered,
so parallel proposals spread over the tree. A failure counts as reward 0; a partial result only lifts
the virtual loss on the tree (it is not a final value) and is learned by the model as a result at
its budget. A subtree whose programs were all proposed
is closed, so a finite space is searched without repeats until it is exhausted.

With several objectives or constraints a feasible result's reward is the share of the feasible
results so far that do not dominate it (1 on the front), an infeasible one's 0, so the tree
steers towards widening the front; of a node's guided roll-outs the one proposed has the largest
expected hypervolume improvement over the feasible front times the probability of feasibility
(`MultiModel.hv_acquisition` in `search/multimodel.py`; with more than two objectives a
scalarisation drawn for that proposal). Against a scalarisation drawn per roll-out it gained
+0.045, +0.040 and +0.028 of hypervolume share at 50, 100 and 200 evaluations on
Channel-Bench-Macro (20 seeds, paired), and that one trailed random search at 50.
"""

from __future__ import annotations

import bisect
import math
from typing import Dict, List, Optional

import numpy as np

from hypsearch.decisions.rows import FLOAT
from ..gp import GPSurrogate
from ..models import expected_improvement
from ..multimodel import MultiModel
from ..pareto import random_weights
from ..surrogate import Surrogate, best_unseen
from ..trial import Status, Trial
from .base import Algorithm, require
from .smbo import posterior_estimates


class Node:
    """A prefix of decisions: final results n with total reward w, failures f, pending p."""

    __slots__ = ("dec", "prefix", "children", "n", "w", "f", "p", "size", "proposed")

    def __init__(self, dec: int, prefix: np.ndarray, size: Optional[int]):
        self.dec, self.prefix = dec, prefix
        self.children: Dict[tuple, Node] = {}
        self.n, self.w, self.f, self.p = 0, 0.0, 0, 0
        self.size = size  # programs below this node (None: infinite)
        self.proposed = 0  # programs below this node proposed so far

    @property
    def closed(self) -> bool:
        """Every program below this node was proposed."""
        return self.size is not None and self.proposed >= self.size

    @property
    def visits(self) -> int:
        return self.n + self.f + self.p


class MCTS(Algorithm):
    """UCT with progressive widening, model-guided roll-outs and virtual loss."""

    name = "mcts"
    OPTIONS = {
        "exploration": (0.5, "UCT exploration constant (rewards are normalised to [0, 1])"),
        "widening": (1.0, "progressive widening: a node may have ceil(widening * visits ** widening_power) children"),
        "widening_power": (0.5, "exponent of progressive widening"),
        "widen_above": (16, "domains with more values than this use progressive widening"),
        "rollouts": (64, "guided roll-out draws per proposal; the best by expected improvement is taken"),
        "guide_after": (5, "values needed before roll-outs are guided by the model (random before)"),
        "noise": (0.1, "observation noise of the roll-out model, as a fraction of the values' variance"),
        "max_points": (128, "observations the GP conditions on at most (the best and the most recent)"),
        "noise_floor": (0.1, "estimated noise share above which the reported best is the best posterior mean"),
        "recommend_among": (3, "best raw results among which the reported best under noise is the best posterior mean"),
    }

    def _validate_options(self) -> None:
        o = self.options
        require(o["exploration"] >= 0, "option `exploration` of `mcts` must be at least 0")
        require(o["widening"] > 0, "option `widening` of `mcts` must be above 0")
        require(0 < o["widening_power"] < 1, "option `widening_power` of `mcts` must be in (0, 1)")
        require(o["widen_above"] >= 1, "option `widen_above` of `mcts` must be at least 1")
        require(o["rollouts"] >= 1, "option `rollouts` of `mcts` must be at least 1")
        require(o["guide_after"] >= 0, "option `guide_after` of `mcts` must be at least 0")
        require(o["noise"] > 0, "option `noise` of `mcts` must be above 0")
        require(o["max_points"] >= 10, "option `max_points` of `mcts` must be at least 10")
        require(0 <= o["noise_floor"] <= 1, "option `noise_floor` of `mcts` must be between 0 and 1")
        require(o["recommend_among"] >= 1, "option `recommend_among` of `mcts` must be at least 1")

    def _setup(self) -> None:
        self._conditions = {i: (parent, values) for i, parent, values in self.encoding.conditions}
        empty = np.full(self.encoding.width, np.nan)
        self.root = self._node(empty, 0)
        self.guide = Surrogate(self.encoding, self.seed, 0, self.options["noise"])
        self.surrogate = GPSurrogate(self.encoding, self.options["max_points"])
        self._paths: Dict[int, List[Node]] = {}
        self._finals: List[float] = []  # final values seen, sorted (for rank rewards)
        if self.multi:
            self.model = MultiModel(self.encoding, len(self.directions), self.constraints, self.options["max_points"])
            self._points: List[np.ndarray] = []  # objective vectors of the feasible final results

    # -- tree structure ---------------------------------------------------------------------

    def _next_decision(self, prefix: np.ndarray, start: int) -> int:
        sp = self.encoding
        conditions = self._conditions
        for i in range(start, len(sp.decisions)):
            if i not in conditions:
                return i
            parent, values = conditions[i]
            if np.isin(prefix[sp.slots[parent]], values).any():
                return i
        return -1

    def _allowed(self, node: Node) -> float:
        count = self.encoding.value_count(node.dec)
        if count is not None and count <= self.options["widen_above"]:
            return count
        o = self.options
        widened = math.ceil(o["widening"] * (node.visits + 1) ** o["widening_power"])
        return widened if count is None else min(count, widened)

    def _node(self, prefix: np.ndarray, start: int) -> Node:
        dec = self._next_decision(prefix, start)
        return Node(dec, prefix, self.encoding.count_completions(prefix, start) if dec >= 0 else 1)

    # -- proposing --------------------------------------------------------------------------

    def _propose(self) -> Optional[np.ndarray]:
        for _ in range(4 * len(self.encoding.decisions) + 4):
            node = self.root
            while True:
                if node.closed or node.dec < 0:
                    return None
                if len(node.children) < self._allowed(node):
                    row = self._rollout(node)
                    if row is not None:
                        return row
                    break
                child = self._select(node)
                if child is None:  # the open children's programs were all proposed
                    return None
                node = child
            if self.root.closed:
                return None
        return None

    def _select(self, node: Node) -> Optional[Node]:
        best, best_score = None, -math.inf
        total = math.log(max(node.visits, 1))
        for child in node.children.values():
            if child.closed:
                continue
            visits = child.visits
            if visits == 0:
                score = math.inf
            else:  # failures and pending proposals (virtual loss) count as reward 0
                score = child.w / visits + self.options["exploration"] * math.sqrt(total / visits)
            if score > best_score:
                best, best_score = child, score
        return best

    def _rollout(self, node: Node) -> Optional[np.ndarray]:
        sp, o = self.encoding, self.options
        count = o["rollouts"]
        guided = self.guide.count >= max(1, o["guide_after"])
        rows = self.guide.guided_rows(count, self.rng) if guided else sp.sample_raw(count, self.rng)
        fixed = slice(0, sp.first_slot[node.dec])
        rows[:, fixed] = node.prefix[fixed]
        self._force_new_value(node, rows)
        rows = sp.apply_conditions(rows)
        if not guided:
            return self.first_unseen(rows)
        if self.multi:
            if not self.model.ready([self.row(t) for t in self._pending.values()]):
                mean, std = self.guide.predict(rows)
                return best_unseen(self, rows, mean + std)
            weights = random_weights(len(self.directions), self.rng)
            return best_unseen(self, rows, self.model.hv_acquisition(rows, weights, self.rng))
        model = self.surrogate
        if not model.ready([self.row(t) for t in self._pending.values()]):
            mean, std = self.guide.predict(rows)
            return best_unseen(self, rows, mean + std)
        return best_unseen(self, rows, expected_improvement(*model.predict(rows), model.incumbent()))

    def _estimates(self, finals: List[Trial]) -> Optional[np.ndarray]:
        return posterior_estimates(self, finals, self.options["noise_floor"], self.options["recommend_among"])

    def _force_new_value(self, node: Node, rows: np.ndarray) -> None:
        """Expansion tries a value of the node's decision that has no child yet."""
        sp = self.encoding
        if sp.kind[node.dec] == FLOAT or not node.children:
            return
        slots = sp.slots[node.dec]
        count = sp.value_count(node.dec)
        if count > 4096:
            return
        untried = [v for v in sp.values(node.dec) if v not in node.children]
        if not untried:
            return
        untried = np.array(untried)
        taken = np.array([tuple(r) in node.children for r in rows[:, slots]])
        if taken.any():
            rows[np.flatnonzero(taken)[:, None], np.arange(slots.start, slots.stop)[None, :]] = \
                untried[self.rng.integers(len(untried), size=int(taken.sum()))]

    # -- bookkeeping ------------------------------------------------------------------------

    def _on_proposed(self, trial: Trial) -> None:
        sp = self.encoding
        node, path = self.root, [self.root]
        while node.dec >= 0:
            value = tuple(float(x) for x in self.row(trial)[sp.slots[node.dec]])
            child = node.children.get(value)
            if child is None:
                if len(node.children) < self._allowed(node):
                    prefix = node.prefix.copy()
                    prefix[sp.slots[node.dec]] = self.row(trial)[sp.slots[node.dec]]
                    child = self._node(prefix, node.dec + 1)
                    node.children[value] = child
                    path.append(child)
                break
            node = child
            path.append(node)
        for n in path:
            n.p += 1
            n.proposed += 1
        self._paths[trial.id] = path

    def _reward(self, value: float) -> float:
        """The quantile of `value` among the final values seen (0.5 for the first)."""
        if not self._finals:
            return 0.5
        below = bisect.bisect_left(self._finals, value)
        above = bisect.bisect_right(self._finals, value)
        return (below + above) / (2.0 * len(self._finals))

    def _front_reward(self, trial: Trial) -> float:
        """The share of the feasible final results that do not dominate this one (0 if infeasible)."""
        if trial.feasible is False:
            return 0.0
        if not self._points:
            return 1.0
        point = self.objectives(trial)
        others = np.array(self._points)
        beaten = np.all(others >= point, axis=1) & np.any(others > point, axis=1)
        return 1.0 - float(beaten.mean())

    def _on_told(self, trial: Trial) -> None:
        path = self._paths.pop(trial.id)
        final = trial.status is Status.OK
        value = None if self.multi else self.score(trial)
        reward = self._front_reward(trial) if self.multi else self._reward(value)
        for n in path:
            n.p -= 1
            if final:
                n.n += 1
                n.w += reward
        self.guide.observe(self.row(trial), reward, trial.budget)
        if self.multi:
            if final and trial.feasible is not False:
                self._points.append(self.objectives(trial))
            self.model.observe(trial.id, self.row(trial), self.objectives(trial), trial.constraints, trial.feasible,
                               trial.budget)
            return
        if final:
            bisect.insort(self._finals, value)
        self.surrogate.observe(trial.id, self.row(trial), value, trial.budget)

    def _on_failed(self, trial: Trial) -> None:
        for n in self._paths.pop(trial.id):
            n.p -= 1
            n.f += 1
        self.guide.observe_failure(self.row(trial))
        if self.multi:
            self.model.observe(trial.id, self.row(trial), None, None, None, failed=True)
            return
        self.surrogate.observe(trial.id, self.row(trial), -np.inf)

    def _on_infeasible(self, trial: Trial) -> None:
        for n in self._paths.pop(trial.id):
            n.p -= 1
            n.n += 1  # a result of reward 0: the tree learns to avoid the region
        self.guide.observe(self.row(trial), 0.0)
        self.model.observe(trial.id, self.row(trial), None, trial.constraints, False)
