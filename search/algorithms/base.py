"""The interface every search algorithm shares, and the bookkeeping they all need.

`Algorithm` keeps the trials (pending and answered, as `hypsearch.search.trial.Trial` records),
the set of programs already proposed (so none is proposed twice and a finite space ends cleanly),
seeded randomness, option validation and state. Subclasses implement `_propose` (which may only
consume randomness; it changes nothing else) and react to `_on_proposed`, `_on_told` and
`_on_failed`; because only `_propose` draws random numbers, the whole state can be rebuilt from
the trials alone (a journal) by replaying them through the same hooks, and the random generator's
position is the only thing a checkpoint adds for the next proposals to be exactly the saved ones.

Several objectives and constraints: `directions` names each objective's direction and
`constraints` how many constraint values a tell carries (each feasible at or below 0). A tell then
carries the objective vector (or None for a program found infeasible before it was trained) and a
feasibility flag; the algorithm is `multi` and takes its Pareto path. With one direction and no
constraints nothing changes: the same events, state and proposals as a single-objective search.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from hypsearch.decisions import Decision, RowEncoding

from ..pareto import front_mask
from ..trial import Status, Trial

STATE_FORMAT = "hypsearch.search/2"
DIRECTIONS = ("max", "min")

# Kept as a name for readers of the ask/tell interface: a proposal is a pending trial.
Proposal = Trial


class Algorithm:
    """Base class: propose / tell / fail over a decision table, with JSON state."""

    name: ClassVar[str] = ""
    OPTIONS: ClassVar[Dict[str, Tuple[Any, str]]] = {}

    def __init__(self, decisions: Union[Sequence[Decision], RowEncoding], seed: Optional[int] = None,
                 direction: str = "max", directions: Optional[Sequence[str]] = None, constraints: int = 0,
                 **options: Any):
        self.encoding = decisions if isinstance(decisions, RowEncoding) else RowEncoding(decisions)
        directions = [direction] if directions is None else list(directions)
        for d in directions:
            if d not in DIRECTIONS:
                raise ValueError(f"direction must be \"max\" or \"min\", got {d!r}")
        if not directions:
            raise ValueError("directions must name at least one objective")
        if isinstance(constraints, bool) or not isinstance(constraints, (int, np.integer)) or constraints < 0:
            raise ValueError(f"constraints is a count of constraint values (0 or more), got {constraints!r}")
        self.directions = directions
        self.direction = directions[0]
        self.constraints = int(constraints)
        self.options = resolve_options(type(self), options)
        self._validate_options()
        self.seed = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % (2 ** 63))
        self._reset()

    # -- the interface ---------------------------------------------------------------------

    def propose(self) -> Optional[Trial]:
        """The next program to evaluate (a pending trial), or None when a finite space has no
        unproposed program left."""
        if self.encoding.size is not None and len(self._seen) >= self.encoding.size:
            return None
        row = self._propose()
        if row is None or self.encoding.key(row) in self._seen:
            row = self.random_unseen()
        if row is None:
            return None
        return self._register(row, self._next_id)

    @property
    def multi(self) -> bool:
        """Whether this search has several objectives or constraints (the Pareto path)."""
        return len(self.directions) > 1 or self.constraints > 0

    def tell(self, trial: Union[Trial, int], value: Any, budget: float = 1.0, feasible: Optional[bool] = None,
             constraints: Optional[Sequence[float]] = None) -> None:
        """Report the value (in the algorithm's direction) of a pending trial; budget < 1: a trial
        stopped early. With several objectives `value` is the vector (in `directions`), or None for
        a program infeasible before training; `constraints` are its constraint values (feasible at
        or below 0) and `feasible` overrides what they imply."""
        trial = self._pending_trial(trial)
        try:
            budget = float(budget)
            values = None if value is None else [float(v) for v in (value if _is_vector(value) else [value])]
        except (TypeError, ValueError):
            raise ValueError(f"tell() takes a number (or one per objective) as value and a number as budget, "
                             f"got {value!r} and {budget!r}") from None
        if values is not None:
            if len(values) != len(self.directions):
                raise ValueError(f"trial {trial.id}: {len(values)} values for {len(self.directions)} objectives")
            if not all(math.isfinite(v) for v in values):
                raise ValueError(f"value of trial {trial.id} is {value}; report a failure with fail()")
        if not budget > 0:
            raise ValueError(f"budget of trial {trial.id} must be above 0, got {budget}")
        if constraints is not None:
            # A constraint whose metric was never reported (null in a journal) counts as violated.
            constraints = [math.inf if c is None else float(c) for c in constraints]
            if len(constraints) != self.constraints:
                raise ValueError(f"trial {trial.id}: {len(constraints)} constraint values for {self.constraints} "
                                 f"constraints")
            if feasible is None:
                feasible = all(c <= 0 for c in constraints)
        if values is None and feasible is not False:
            raise ValueError(f"trial {trial.id}: no value is only for a program told infeasible (feasible=False)")
        if feasible is None and values is not None and len(values) == 1:
            self._events.append(["tell", trial.id, values[0], budget])  # the single-objective event, as before
        else:
            self._events.append(["tell", trial.id, values, budget, None if feasible is None else bool(feasible),
                                 constraints])
        self._tell(trial, values, budget, None if feasible is None else bool(feasible), constraints)

    def fail(self, trial: Union[Trial, int], error: Optional[str] = None, status: Status = Status.FAILED) -> None:
        """Report that a pending trial failed (or is invalid); it is learned from and never
        proposed again."""
        trial = self._pending_trial(trial)
        status = Status(status)
        if status not in (Status.FAILED, Status.INVALID):
            raise ValueError(f"fail() takes status failed or invalid, got {status.value}")
        self._events.append(["fail", trial.id, None if error is None else str(error), status.value])
        self._fail(trial, error, status)

    def observe(self, record: Trial) -> None:
        """Bring in a trial from a record (a journal line, an earlier run): its proposal if the
        algorithm has not seen it, then its result if it has one. Replaying records in the order
        they happened rebuilds the algorithm's state."""
        known = self.trials.get(record.id)
        if known is None:
            row = self.encoding.from_assignment(record.assignment)
            if self.encoding.key(row) in self._seen:
                raise ValueError(f"trial {record.id} repeats the program of trial {self._seen[self.encoding.key(row)]}")
            known = self._register(row, record.id)
        if not record.status.finished or known.status.finished:
            return
        budget = record.budget if record.budget is not None else 1.0
        if record.status is Status.INFEASIBLE:
            self.tell(known, None, budget, False, self._constraints_of(record))
        elif record.status.has_value and record.value is not None:
            if record.feasible is None and record.constraints is None and len(self.directions) == 1:
                self.tell(known, record.value, budget)
            else:
                values = record.values if record.values is not None else [record.value]
                self.tell(known, values, budget, record.feasible, self._constraints_of(record))
        else:
            self.fail(known, record.error, Status.INVALID if record.status is Status.INVALID else Status.FAILED)

    @property
    def pending(self) -> List[int]:
        """Ids of the trials not answered yet."""
        return list(self._pending)

    def score(self, trial: Trial) -> float:
        """The trial's value turned so that higher is better."""
        return trial.value if self.direction == "max" else -trial.value

    def objectives(self, trial: Trial) -> np.ndarray:
        """The trial's objective vector turned so that higher is better in every entry."""
        values = trial.values if trial.values is not None else [trial.value]
        return np.array([v if d == "max" else -v for v, d in zip(values, self.directions)], dtype=float)

    def best(self) -> Optional[Trial]:
        """The feasible trial with the best final (budget 1) value of the first objective, or None."""
        finals = self._feasible_finals()
        return max(finals, key=self.score) if finals else None

    def front(self) -> List[Trial]:
        """The feasible final trials no other one dominates (in id order)."""
        finals = sorted(self._feasible_finals(), key=lambda t: t.id)
        if not finals:
            return []
        mask = front_mask(np.array([self.objectives(t) for t in finals]))
        return [t for t, keep in zip(finals, mask) if keep]

    def recommend(self) -> Optional[Trial]:
        """The final trial with the best estimated value, or None: where the algorithm's model
        estimates the results to be noisy, the best posterior mean (not the luckiest single
        result); otherwise, and for algorithms without a model, the best raw value (`best()`)."""
        finals = self._feasible_finals()
        if not finals:
            return None
        estimates = None if self.multi else self._estimates(finals)
        if estimates is None:
            return self.best()
        # Ties (and equal estimates) go to the better raw value, then to the earlier trial.
        return finals[max(range(len(finals)), key=lambda i: (estimates[i], self.score(finals[i]), -finals[i].id))]

    def row(self, trial: Union[Trial, int]) -> np.ndarray:
        """The encoded row of a trial (read-only)."""
        return self._rows[trial.id if isinstance(trial, Trial) else int(trial)]

    def state_dict(self, trials: bool = True) -> Dict[str, Any]:
        """The whole state as JSON-able data: seed, options, the generator's position and (unless
        `trials=False`, for a caller that keeps the trials itself) the trials' events in order."""
        state = {
            "format": STATE_FORMAT,
            "algorithm": self.name,
            "seed": self.seed,
            "direction": self.direction,
            "options": dict(self.options),
            "space": self.encoding.fingerprint(),
            **({"directions": list(self.directions), "constraints": self.constraints} if self.multi else {}),
            "trials": len(self.trials),
            "rng": self.rng.bit_generator.state,
        }
        if trials:
            state["events"] = [list(e) for e in self._events]
        return state

    def load_state_dict(self, state: Dict[str, Any], trials: Optional[Iterable[Trial]] = None) -> None:
        """Restore a state from `state_dict()`; `trials` replaces its events (records in the order
        they happened) when it was saved with `trials=False`."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"not a search state of format {STATE_FORMAT!r}: {state.get('format')!r}")
        if state.get("algorithm") != self.name:
            raise ValueError(f"state is for algorithm `{state.get('algorithm')}`, not `{self.name}`")
        if state.get("space") != self.encoding.fingerprint():
            raise ValueError("state was saved for a different decision table (names, kinds or domains differ)")
        self.options = resolve_options(type(self), state.get("options", {}))
        self._validate_options()
        self.seed = int(state["seed"])
        self.directions = list(state.get("directions", [state.get("direction", "max")]))
        self.direction = self.directions[0]
        self.constraints = int(state.get("constraints", 0))
        self._reset()
        if trials is not None:
            for record in trials:
                self.observe(record)
        else:
            for event in state.get("events", []):
                self._replay(event)
        self.resume_randomness(state)

    def resume_randomness(self, state: Optional[Dict[str, Any]]) -> bool:
        """Continue the random stream where `state` left it when it was saved after the same
        trials as are here now (then the next proposals are exactly the saved algorithm's);
        otherwise a stream derived from the seed and the trial count. True when exact."""
        if state is not None and state.get("trials") == len(self.trials) and "rng" in state:
            self.rng.bit_generator.state = state["rng"]
            return True
        self.rng = np.random.default_rng([self.seed, len(self.trials)])
        return False

    def as_dna_generator(self):
        """This algorithm as a pyglove `pg.geno.DNAGenerator` (for `pg.sample` / `pg.iter`)."""
        from ..dna import AlgorithmDNAGenerator
        return AlgorithmDNAGenerator.wrap(self)

    # -- helpers for subclasses -------------------------------------------------------------

    def random_unseen(self, tries: int = 8, batch: int = 16) -> Optional[np.ndarray]:
        """A uniformly random program not proposed yet: None when none is left, or when `tries`
        batches found none in a space too large to enumerate (200,000 programs)."""
        for _ in range(tries):
            row = self.first_unseen(self.encoding.sample(batch, self.rng))
            if row is not None:
                return row
        every = self.encoding.all_rows()
        if every is None:
            return None
        left = [i for i, r in enumerate(every) if self.encoding.key(r) not in self._seen]
        return every[left[int(self.rng.integers(len(left)))]].copy() if left else None

    def first_unseen(self, rows: np.ndarray, order: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
        """The first row (in `order`, default as given) that was not proposed yet."""
        for i in (range(len(rows)) if order is None else order):
            if self.encoding.key(rows[i]) not in self._seen:
                return rows[i]
        return None

    def is_seen(self, row: np.ndarray) -> bool:
        """Whether this program was already proposed."""
        return self.encoding.key(row) in self._seen

    # -- hooks ------------------------------------------------------------------------------

    def _setup(self) -> None:
        """Create the algorithm's own state (called on construction and before a replay)."""

    def _propose(self) -> Optional[np.ndarray]:
        """A row not proposed yet, or None to fall back to a random one. Only consumes randomness."""
        return None

    def _estimates(self, finals: List[Trial]) -> Optional[np.ndarray]:
        """Estimated values (higher is better) of these final trials, or None when the algorithm
        has no noise model or finds the results noise-free (recommend() then takes the raw best)."""
        return None

    def _on_proposed(self, trial: Trial) -> None:
        """A proposal was made (also during a replay)."""

    def _on_told(self, trial: Trial) -> None:
        """A value arrived (trial.status is ok, or stopped when trial.budget < 1)."""

    def _on_failed(self, trial: Trial) -> None:
        """A trial failed."""

    def _on_infeasible(self, trial: Trial) -> None:
        """A program was told infeasible without a value (its constraints known before training);
        by default learned from as a failure."""
        self._on_failed(trial)

    def _validate_options(self) -> None:
        """Raise ValueError for option values that make no sense together."""

    # -- internals --------------------------------------------------------------------------

    def _reset(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.trials: Dict[int, Trial] = {}
        self._rows: Dict[int, np.ndarray] = {}
        self._seen: Dict[bytes, int] = {}
        self._pending: Dict[int, Trial] = {}
        self._events: List[list] = []
        self._next_id = 0
        self._setup()

    def _register(self, row: np.ndarray, tid: int) -> Trial:
        row = np.array(row, dtype=float)
        if tid in self.trials:
            raise ValueError(f"trial id {tid} is already taken")
        trial = Trial(tid, self.encoding.to_assignment(row))
        self._next_id = max(self._next_id, tid + 1)
        self.trials[tid] = trial
        self._rows[tid] = row
        self._seen[self.encoding.key(row)] = tid
        self._pending[tid] = trial
        self._events.append(["propose", tid, self.encoding.to_list(row)])
        self._on_proposed(trial)
        return trial

    def _replay(self, event: list) -> None:
        kind = event[0]
        if kind == "propose":
            self._register(self.encoding.from_list(event[2]), int(event[1]))
        elif kind == "tell" and len(event) > 4:
            self.tell(int(event[1]), event[2], float(event[3]), event[4], event[5])
        elif kind == "tell":
            self.tell(int(event[1]), float(event[2]), float(event[3]))
        elif kind == "fail":
            self.fail(int(event[1]), event[2], Status(event[3]) if len(event) > 3 else Status.FAILED)
        else:
            raise ValueError(f"corrupt search state: unknown event {kind!r}")

    def _pending_trial(self, trial: Union[Trial, int]) -> Trial:
        tid = trial.id if isinstance(trial, Trial) else trial
        if not isinstance(tid, (int, np.integer)) or isinstance(tid, bool):
            raise ValueError(f"expected a Trial or a trial id, got {trial!r}")
        found = self._pending.get(int(tid))
        if found is None:
            state = self.trials[int(tid)].status.value if int(tid) in self.trials else "unknown"
            raise ValueError(f"trial {tid} is not pending (it is {state})")
        return found

    def _tell(self, trial: Trial, values: Optional[List[float]], budget: float, feasible: Optional[bool] = None,
              constraints: Optional[List[float]] = None) -> None:
        del self._pending[trial.id]
        trial.feasible, trial.constraints = feasible, constraints
        if values is None:
            trial.status = Status.INFEASIBLE
            self._on_infeasible(trial)
            return
        trial.value, trial.budget = values[0], budget
        trial.values = values if self.multi else None
        trial.status = Status.OK if budget >= 1.0 else Status.STOPPED
        self._on_told(trial)

    def _feasible_finals(self) -> List[Trial]:
        return [t for t in self.trials.values() if t.status is Status.OK and t.feasible is not False]

    def _constraints_of(self, record: Trial) -> Optional[List[float]]:
        # A record from a search with other constraints (or none) carries no usable values here.
        c = record.constraints
        return list(c) if c is not None and len(c) == self.constraints else None

    def _fail(self, trial: Trial, error: Optional[str], status: Status = Status.FAILED) -> None:
        del self._pending[trial.id]
        trial.status, trial.error = status, error
        self._on_failed(trial)


def _is_vector(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


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
