"""The search side of a run, shared by both executors: turns the algorithm's proposals into trials
(concrete programs as `.hyp` text) and finished trials into journal lines, tells, saved state and
the best program.

Executors only ask `next_trial()` and hand back `complete(spec, outcome)`; the Ray executor does
so through a Tune `Searcher`, the inline one in a plain loop. Nothing here imports torch or Ray.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from .experiment import ExperimentDir, best_of
from .journal import Journal, TrialRecord
from .progress import Progress
from .state import SearchState, StateStore, write_text_atomic
from .worker import Outcome


@dataclass
class TrialSpec:
    """A trial ready to run: its id, what the algorithm proposed and the concrete program."""

    id: int
    assignment: Dict[str, Any]
    choices: Dict[str, Any]
    program_text: str
    program: Any = field(default=None, repr=False)  # the Program object (inline executor only)
    epochs: Optional[int] = None  # epochs the program asks for (None: a Python objective)
    started: float = 0.0


_THREADPOOLS: List[Any] = []


def _search_threads():
    """Run the algorithm with single-threaded BLAS: its matrices are small, and on a machine whose
    cores train trials, BLAS threads contending for them made an SMBO step 6x slower (18 ms vs 3 ms
    measured on 2 cores). Only the algorithm's calls are limited, never the trials' training."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # an optional speed-up: scikit-learn brings threadpoolctl
        import contextlib
        return contextlib.nullcontext()
    if not _THREADPOOLS:
        _THREADPOOLS.append(ThreadpoolController())  # library discovery once (~0.2 ms), then 14 us a call
    return _THREADPOOLS[0].limit(limits=1, user_api="blas")


def objective_of(program: Any, base_dir: Optional[str] = None) -> tuple:
    """(mode "max" | "min", metric name or None for a Python objective) of a program, as
    `evaluate` scores it (without an objective: max val_accuracy, or min val_loss for regression)."""
    from .trial import objective_of as trial_objective

    classification = True
    if program.objective is None and program.data is not None:
        info = program.data.info()
        if info is None:  # npz / python data: only loading tells
            from ..data import load_data
            classification = load_data(program.data, base_dir).classification
        else:
            classification = info.num_classes is not None
    objective = trial_objective(program, classification)
    return objective.mode, objective.metric


def epochs_of(program: Any) -> Optional[int]:
    """Epochs a program trains for, or None when a Python objective replaces training."""
    metric = getattr(program.objective, "metric", None)
    if getattr(type(metric), "__hyp_name__", None) == "python":
        return None
    train = getattr(program, "train", None)
    epochs = getattr(train, "epochs", None) if train is not None else None
    return int(epochs) if epochs is not None else 5


def python_files(program: Any) -> List[str]:
    """Absolute paths of the Python files a program uses: its imports and python("f.py:fn") refs."""
    import pyglove as pg
    from ..dsl.pyref import absolute, is_file_ref, split_ref

    base = os.path.dirname(program.source) if program.source else None
    found = [absolute(i, base) for i in (program.imports or []) if is_file_ref(i)]

    def visit(path: Any, value: Any, parent: Any) -> Any:
        if getattr(type(value), "__hyp_name__", None) == "python" and isinstance(getattr(value, "ref", None), str):
            try:
                target, _ = split_ref(value.ref)
            except ValueError:
                return pg.TraverseAction.CONTINUE
            if is_file_ref(target):
                found.append(absolute(target, base))
        return pg.TraverseAction.ENTER

    pg.traverse(program, visit)
    return sorted(set(found))


def _to_jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_to_jsonable(v) for v in x]
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)


class Coordinator:
    """Proposals in, results out: the algorithm, the journal, the saved state and the best."""

    def __init__(self, space: Any, algorithm: Any, algo_name: str, total: int, exp: ExperimentDir,
                 space_file: str, mode: str, records: Sequence[TrialRecord] = (),
                 resumed: Optional[SearchState] = None, progress: Optional[Progress] = None):
        import hypsearch
        self._dumps = hypsearch.dumps
        self.space = space
        self.algorithm = algorithm
        self.algo_name = algo_name
        self.total = total
        self.exp = exp
        self.space_file = space_file
        self.mode = mode
        self.records: List[TrialRecord] = list(records)
        self.running: Dict[int, TrialSpec] = {}
        self.pending: Dict[int, Dict[str, Any]] = {}  # proposed, not finished: id -> assignment
        self.told: List[int] = []
        self.exhausted = False
        self.progress = progress
        self.best = best_of(self.records, mode)
        self.journal = Journal(exp.journal)
        self._requeue: List[int] = []
        self.fatal: Optional[str] = None  # set by a trial whose error concerns every trial
        self.store = StateStore(exp.state, seq=resumed.seq if resumed is not None else 0)
        if resumed is not None:
            self._resume(resumed)

    # -- resume ---------------------------------------------------------------------------------
    def _resume(self, saved: SearchState) -> None:
        """Catch the restored algorithm up with the journal; queue proposals that never finished."""
        self.told = list(saved.told)
        done = {r.id for r in self.records}
        seen = set(self.told)
        for r in self.records:
            if r.id not in seen:  # finished and journaled, but killed before the state was saved
                self._tell(r)
        self.pending = {int(k): v for k, v in saved.pending.items() if int(k) not in done}
        self._requeue = sorted(self.pending)
        self._save()

    # -- proposals ------------------------------------------------------------------------------
    def budget_left(self) -> int:
        """Trials that may still start."""
        return self.total - len(self.records) - len(self.running)

    def next_trial(self) -> Optional[TrialSpec]:
        """The next trial to run, or None when the budget is spent or the space exhausted."""
        while self.budget_left() > 0 and self.fatal is None:
            if self._requeue:
                tid = self._requeue.pop(0)
                assignment = self.pending[tid]
            else:
                if self.exhausted:
                    return None
                with _search_threads():
                    proposal = self.algorithm.propose()
                if proposal is None:
                    self.exhausted = True
                    return None
                tid, assignment = int(proposal.id), dict(proposal.assignment)
                self.pending[tid] = _to_jsonable(assignment)
                self._save()  # before the trial can reach the journal: resume must know its id
            spec = self._make_spec(tid, assignment)
            if spec is not None:
                self.running[tid] = spec
                self._show()
                return spec
        return None

    def _make_spec(self, tid: int, assignment: Dict[str, Any]) -> Optional[TrialSpec]:
        """Materialize the program; a proposal that does not make a program is recorded invalid."""
        assignment = _decode_tuples(self.space, assignment)
        now = time.time()
        try:
            program = self.space.materialize(assignment)
            choices = _to_jsonable(self.space.decode(assignment))
            text = self._dumps(program, path=self.space_file)
        except Exception as e:  # HypError from the language, or a bug in a user component's schema
            self._finish(TrialSpec(tid, assignment, {}, ""), Outcome("invalid", error=f"{type(e).__name__}: {e}",
                                                                      started=now, finished=time.time()))
            return None
        return TrialSpec(tid, _to_jsonable(assignment), choices, text, program, epochs_of(program), now)

    # -- results --------------------------------------------------------------------------------
    def complete(self, spec: TrialSpec, outcome: Outcome) -> bool:
        """Record a finished trial and tell the algorithm; True when it is the new best."""
        self.running.pop(spec.id, None)
        if outcome.fatal and self.fatal is None:
            self.fatal = outcome.error or "a trial failed with an error that concerns every trial"
        return self._finish(spec, outcome)

    def _finish(self, spec: TrialSpec, outcome: Outcome) -> bool:
        record = TrialRecord(
            id=spec.id, status=outcome.status, value=outcome.value, metrics=outcome.history,
            program=spec.program_text, choices=spec.choices, started=outcome.started or spec.started,
            finished=outcome.finished or time.time(), error=outcome.error,
            assignment=_to_jsonable(spec.assignment), budget=outcome.budget, attempts=outcome.attempts)
        self.journal.append(record)  # durable first: the journal is what resume trusts
        self.records.append(record)
        self._tell(record)
        self.pending.pop(spec.id, None)
        # No state save here: the journal line is the durable record of this result, and resume
        # tells it again; the state only has to know every proposal (saved in next_trial).
        new_best = record.status == "ok" and record.value is not None and (
            self.best is None or (record.value > self.best.value if self.mode == "max" else record.value < self.best.value))
        if new_best:
            self.best = record
            self._write_best_hyp(spec, record)
        self._show(f"trial {record.id} {record.status}" + (f" {record.value:.4g}" if record.value is not None else ""))
        return new_best

    def _tell(self, record: TrialRecord) -> None:
        with _search_threads():
            if record.status in ("ok", "stopped") and record.value is not None and math.isfinite(record.value):
                signed = record.value if self.mode == "max" else -record.value
                self.algorithm.tell(record.id, signed, budget=record.budget)
            else:
                self.algorithm.fail(record.id, record.error)
        self.told.append(record.id)

    def _write_best_hyp(self, spec: TrialSpec, record: TrialRecord) -> None:
        text = record.program
        if spec.program is not None:
            text = self._dumps(spec.program, path=self.exp.best_hyp)
        write_text_atomic(self.exp.best_hyp, text if text.endswith("\n") else text + "\n")

    # -- state ----------------------------------------------------------------------------------
    def state(self) -> SearchState:
        """The searcher's state as saved in searcher.json."""
        return SearchState(self.algo_name, self.algorithm.state_dict(),
                           {str(k): v for k, v in self.pending.items()}, list(self.told))

    def _save(self, final: bool = False) -> None:
        self.store.save(self.state(), final=final)

    def _show(self, last: Optional[str] = None) -> None:
        if self.progress is not None:
            self.progress.update(len(self.records), None if self.best is None else self.best.value,
                                 len(self.running), last)

    def close(self) -> None:
        self._save(final=True)
        self.journal.close()
        if self.progress is not None:
            self.progress.close()


def _decode_tuples(space: Any, assignment: Dict[str, Any]) -> Dict[str, Any]:
    """Assignments read back from JSON carry lists where subset decisions take tuples."""
    kinds = {d.name: d.kind for d in getattr(space, "decisions", ())}
    return {k: tuple(v) if kinds.get(k) == "subset" and isinstance(v, list) else v for k, v in assignment.items()}
