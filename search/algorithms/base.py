"""The interface every search algorithm shares, and the bookkeeping they all need.

`Algorithm` keeps the trials (pending, told, failed), the set of programs already proposed (so
none is proposed twice and a finite space ends cleanly), seeded randomness, option validation and
state: the state is the seed, the options and the log of events (proposals with their rows, tells,
failures) plus the generator's position. Loading replays the log through the same hooks that built
the state the first time, so the tree, population or surrogate come back exactly and the next
proposals are the ones the saved algorithm would have made. Subclasses implement `_propose` (which
may only consume randomness; it changes nothing else) and react to `_on_proposed`, `_on_told` and
`_on_failed`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..space import Encoding

STATE_FORMAT = "hypsearch.search/1"


@dataclass(frozen=True)
class Proposal:
    """A program to evaluate: its id and the assignment of its active decisions."""

    id: int
    assignment: Dict[str, Any]


@dataclass
class Trial:
    """A proposal and what became of it (status: pending, ok, partial or failed)."""

    id: int
    row: np.ndarray
    status: str = "pending"
    value: Optional[float] = None
    budget: Optional[float] = None
    error: Optional[str] = None


class Algorithm:
    """Base class: propose / tell / fail over a decision table, with JSON state."""

    name: ClassVar[str] = ""
    OPTIONS: ClassVar[Dict[str, Tuple[Any, str]]] = {}

    def __init__(self, decisions: Union[Sequence[Any], Encoding], seed: Optional[int] = None, **options: Any):
        self.space = decisions if isinstance(decisions, Encoding) else Encoding(decisions)
        self.options = resolve_options(type(self), options)
        self._validate_options()
        self.seed = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % (2 ** 63))
        self._reset()

    # -- the interface ---------------------------------------------------------------------

    def propose(self) -> Optional[Proposal]:
        """The next program to evaluate, or None when a finite space has no unproposed program left."""
        if self.space.size is not None and len(self._seen) >= self.space.size:
            return None
        row = self._propose()
        if row is None or self.space.key(row) in self._seen:
            row = self.random_unseen()
        if row is None:
            return None
        trial = self._register(row)
        return Proposal(trial.id, self.space.to_assignment(trial.row))

    def tell(self, proposal: Union[Proposal, int], value: float, budget: float = 1.0) -> None:
        """Report the value (to maximise) of a pending proposal; budget < 1: a trial stopped early."""
        trial = self._pending_trial(proposal)
        try:
            value, budget = float(value), float(budget)
        except (TypeError, ValueError):
            raise ValueError(f"tell() takes a number as value and budget, got {value!r} and {budget!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"value of trial {trial.id} is {value}; report a failure with fail()")
        if not budget > 0:
            raise ValueError(f"budget of trial {trial.id} must be above 0, got {budget}")
        self._events.append(["tell", trial.id, value, budget])
        self._tell(trial, value, budget)

    def fail(self, proposal: Union[Proposal, int], error: Optional[str] = None) -> None:
        """Report that a pending proposal failed; it is learned from and never proposed again."""
        trial = self._pending_trial(proposal)
        self._events.append(["fail", trial.id, None if error is None else str(error)])
        self._fail(trial, error)

    @property
    def pending(self) -> List[int]:
        """Ids of the proposals not answered yet."""
        return list(self._pending)

    def best(self) -> Optional[Trial]:
        """The told trial with the highest final (budget 1) value, or None."""
        finals = [t for t in self.trials.values() if t.status == "ok"]
        return max(finals, key=lambda t: t.value) if finals else None

    def state_dict(self) -> Dict[str, Any]:
        """The whole state as JSON-able data (seed, options, event log, generator position)."""
        return {
            "format": STATE_FORMAT,
            "algorithm": self.name,
            "seed": self.seed,
            "options": dict(self.options),
            "space": self.space.fingerprint(),
            "events": [list(e) for e in self._events],
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore a state from `state_dict()` (same algorithm and decision table)."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"not a search state of format {STATE_FORMAT!r}: {state.get('format')!r}")
        if state.get("algorithm") != self.name:
            raise ValueError(f"state is for algorithm `{state.get('algorithm')}`, not `{self.name}`")
        if state.get("space") != self.space.fingerprint():
            raise ValueError("state was saved for a different decision table (names, kinds or domains differ)")
        self.options = resolve_options(type(self), state.get("options", {}))
        self._validate_options()
        self.seed = int(state["seed"])
        self._reset()
        for event in state["events"]:
            kind = event[0]
            if kind == "propose":
                trial = self._register(self.space.from_list(event[2]))
                if trial.id != event[1]:
                    raise ValueError(f"corrupt search state: proposal {event[1]} replayed as {trial.id}")
            elif kind == "tell":
                self._events.append(list(event))
                self._tell(self.trials[event[1]], float(event[2]), float(event[3]))
            elif kind == "fail":
                self._events.append(list(event))
                self._fail(self.trials[event[1]], event[2])
            else:
                raise ValueError(f"corrupt search state: unknown event {kind!r}")
        self.rng.bit_generator.state = state["rng"]

    def as_dna_generator(self):
        """This algorithm as a pyglove `pg.geno.DNAGenerator` (for `pg.sample` / `pg.iter`)."""
        from ..dna import AlgorithmDNAGenerator
        return AlgorithmDNAGenerator.wrap(self)

    # -- helpers for subclasses -------------------------------------------------------------

    def random_unseen(self, tries: int = 8, batch: int = 16) -> Optional[np.ndarray]:
        """A uniformly random program not proposed yet: None when none is left, or when `tries`
        batches found none in a space too large to enumerate (200,000 programs)."""
        for _ in range(tries):
            row = self.first_unseen(self.space.sample(batch, self.rng))
            if row is not None:
                return row
        every = self.space.all_rows()
        if every is None:
            return None
        left = [i for i, r in enumerate(every) if self.space.key(r) not in self._seen]
        return every[left[int(self.rng.integers(len(left)))]].copy() if left else None

    def first_unseen(self, rows: np.ndarray, order: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
        """The first row (in `order`, default as given) that was not proposed yet."""
        for i in (range(len(rows)) if order is None else order):
            if self.space.key(rows[i]) not in self._seen:
                return rows[i]
        return None

    def is_seen(self, row: np.ndarray) -> bool:
        """Whether this program was already proposed."""
        return self.space.key(row) in self._seen

    # -- hooks ------------------------------------------------------------------------------

    def _setup(self) -> None:
        """Create the algorithm's own state (called on construction and before a replay)."""

    def _propose(self) -> Optional[np.ndarray]:
        """A row not proposed yet, or None to fall back to a random one. Only consumes randomness."""
        return None

    def _on_proposed(self, trial: Trial) -> None:
        """A proposal was made (also during a replay)."""

    def _on_told(self, trial: Trial) -> None:
        """A value arrived (trial.status is ok, or partial when trial.budget < 1)."""

    def _on_failed(self, trial: Trial) -> None:
        """A trial failed."""

    def _validate_options(self) -> None:
        """Raise ValueError for option values that make no sense together."""

    # -- internals --------------------------------------------------------------------------

    def _reset(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.trials: Dict[int, Trial] = {}
        self._seen: Dict[bytes, int] = {}
        self._pending: Dict[int, Trial] = {}
        self._events: List[list] = []
        self._next_id = 0
        self._setup()

    def _register(self, row: np.ndarray) -> Trial:
        trial = Trial(self._next_id, np.array(row, dtype=float))
        self._next_id += 1
        self.trials[trial.id] = trial
        self._seen[self.space.key(trial.row)] = trial.id
        self._pending[trial.id] = trial
        self._events.append(["propose", trial.id, self.space.to_list(trial.row)])
        self._on_proposed(trial)
        return trial

    def _pending_trial(self, proposal: Union[Proposal, int]) -> Trial:
        tid = proposal.id if isinstance(proposal, Proposal) else proposal
        if not isinstance(tid, (int, np.integer)) or isinstance(tid, bool):
            raise ValueError(f"expected a Proposal or a proposal id, got {proposal!r}")
        trial = self._pending.get(int(tid))
        if trial is None:
            state = self.trials[int(tid)].status if int(tid) in self.trials else "unknown"
            raise ValueError(f"proposal {tid} is not pending (it is {state})")
        return trial

    def _tell(self, trial: Trial, value: float, budget: float) -> None:
        del self._pending[trial.id]
        trial.value, trial.budget = value, budget
        trial.status = "ok" if budget >= 1.0 else "partial"
        self._on_told(trial)

    def _fail(self, trial: Trial, error: Optional[str]) -> None:
        del self._pending[trial.id]
        trial.status, trial.error = "failed", error
        self._on_failed(trial)


def resolve_options(cls: type, given: Dict[str, Any]) -> Dict[str, Any]:
    """The options of `cls` with defaults filled in and values converted to the defaults' types."""
    unknown = sorted(set(given) - set(cls.OPTIONS))
    if unknown:
        valid = ", ".join(sorted(cls.OPTIONS)) or "none"
        raise ValueError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for algorithm "
                         f"`{cls.name}`; valid options: {valid}")
    out = {}
    for key, (default, _doc) in cls.OPTIONS.items():
        out[key] = _coerce(cls.name, key, given.get(key, default), default)
    return out


def _coerce(algo: str, key: str, value: Any, default: Any) -> Any:
    want = type(default)
    try:
        if want is bool:
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            if isinstance(value, bool):
                return value
            raise ValueError
        if want is int:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if want is float:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        return str(value)
    except (TypeError, ValueError):
        raise ValueError(f"option `{key}` of algorithm `{algo}` takes {want.__name__ if want is not str else 'a string'}, "
                         f"got {value!r}") from None


def require(condition: bool, message: str) -> None:
    """ValueError(message) unless condition (for option checks)."""
    if not condition:
        raise ValueError(message)
