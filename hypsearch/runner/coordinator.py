"""The search loop of a run, shared by both executors and by `hypsearch.optimize`: turns the
algorithm's proposals into trials (concrete programs as `.hyp` text) and finished trials into
journal lines, the algorithm's feedback, checkpoints and the best program.

Executors only ask `next_trial()` and hand back `complete(record)` with the finished `Trial`; the
Ray executor does so through a Tune `Searcher`, the inline one and `optimize` in `run_loop`.
Without an experiment directory (`optimize`) the loop keeps everything in memory. Nothing here
imports torch or Ray.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from hypsearch.dsl.api import dumps
from hypsearch.dsl.pyref import absolute, is_file_ref, split_ref
from hypsearch.search.trial import Status, Trial

from .experiment import ExperimentDir, best_of
from .journal import Journal, JournalContents
from .objectives import trains
from .progress import Progress
from .state import Checkpoint, StateStore, write_text_atomic

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
    """Epochs a program trains for, or None when Python objectives replace training."""
    if not trains(program):
        return None
    train = getattr(program, "train", None)
    epochs = getattr(train, "epochs", None) if train is not None else None
    epochs = int(epochs) if epochs is not None else 5
    # A regime that trains tasks in turn (those with epochs_per_task) reports per task, task after task.
    regime = getattr(train, "regime", None) if train is not None else None
    info = program.data.info() if program.data is not None and hasattr(program.data, "info") else None
    tasks = int(getattr(info, "tasks", None) or 1) if info is not None else 1
    if regime is not None and hasattr(regime, "epochs_per_task") and tasks > 1:
        return int(regime.epochs_per_task or epochs) * tasks
    return epochs


def python_files(program: Any) -> List[str]:
    """Absolute paths of the Python files a program uses: its imports and python("f.py:fn") refs."""
    import pyglove as pg

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
    """Proposals in, results out: the algorithm, the journal, the checkpoint and the best."""

    def __init__(self, space: Any, algorithm: Any, algo_name: str, total: int, mode: str,
                 exp: Optional[ExperimentDir] = None, space_file: Optional[str] = None,
                 history: Optional[JournalContents] = None, progress: Optional[Progress] = None,
                 seq: int = 0, max_failures: Optional[int] = None):
        self.space = space
        self.algorithm = algorithm
        self.algo_name = algo_name
        self.total = total
        self.exp = exp
        self.space_file = space_file
        self.mode = mode
        history = history or JournalContents()
        # Finished trials of this run, in order (warm-start records only taught the algorithm).
        self.records: List[Trial] = [t for t in history.finished if t.origin is None]
        self.running: Dict[int, Trial] = {}
        self._programs: Dict[int, Tuple[Any, Optional[int]]] = {}  # running id -> (program, epochs)
        self.exhausted = False
        self.progress = progress
        self.loggers: List[Any] = []  # --log: each gets trial_finished(record) on the driver (runner/loggers.py)
        self.best = self._recommended()
        self.journal = Journal(exp.journal) if exp is not None else None
        self.store = StateStore(exp.state, seq=seq) if exp is not None else None
        self.fatal: Optional[str] = None  # set by a trial whose error concerns every trial
        # Proposed but never finished (running when the run was killed): run again, same ids.
        self._requeue: List[Trial] = sorted(history.pending, key=lambda t: t.id)
        self._enqueued: List[Dict[str, Any]] = []  # warm start: given programs, run first
        # program -> why it cannot be built, or None (runner/precheck.py `build_error`): such a
        # proposal is told to the algorithm as invalid without spending a trial.
        self.precheck: Optional[Callable[[Any], Optional[str]]] = None
        self.skipped = 0  # proposals the precheck refused
        # The search settings the run used (algo, trials, seed, options), written into best.hyp.
        self.search_used: Optional[Dict[str, Any]] = None
        self._attempts: Dict[int, int] = {}
        # Retries of a trial whose worker died (or whose run was killed while it ran): past it the
        # trial is recorded failed, so no trial can keep an experiment from progressing.
        self.max_failures = max_failures
        for t in history.events:
            if not t.status.finished:
                self._attempts[t.id] = self._attempts.get(t.id, 0) + 1

    # -- proposals ------------------------------------------------------------------------------
    def budget_left(self) -> int:
        """Trials that may still start."""
        return self.total - len(self.records) - len(self.running)

    def next_trial(self) -> Optional[Trial]:
        """The next trial to run (pending, with its program text), or None when the budget is
        spent or the space exhausted."""
        while self.budget_left() > 0 and self.fatal is None:
            if self._requeue:
                again = self._requeue.pop(0)
                if self.max_failures is not None and self._attempts.get(again.id, 0) > self.max_failures:
                    tries = self._attempts[again.id]
                    self._record(dataclasses.replace(
                        again, status=Status.FAILED, finished=time.time(), attempts=tries,
                        error=again.error or f"its worker died (or the run was killed) in all {tries} attempts; "
                                             f"not retried again (--max-failures {self.max_failures})"))
                    continue
                tid, assignment = again.id, _decode_tuples(self.space, again.assignment)
            elif self._enqueued:
                assignment = self._enqueued.pop(0)
                tid = max(self.algorithm.trials, default=-1) + 1
                try:  # the algorithm takes it as its own pending proposal, and learns from it
                    with _search_threads():
                        self.algorithm.observe(Trial(tid, assignment))
                except ValueError:  # the same program twice, or one already run: nothing to add
                    continue
            else:
                if self.exhausted:
                    return None
                with _search_threads():
                    proposal = self.algorithm.propose()
                if proposal is None:
                    self.exhausted = True
                    return None
                tid, assignment = int(proposal.id), dict(proposal.assignment)
            trial = self._start(tid, assignment)
            if trial is not None:
                return trial
        return None

    def warm_start(self, records: Sequence[Trial]) -> None:
        """Tell the algorithm finished trials of another experiment, without running them: each
        is journaled with its origin (so a resumed run is taught them again) and is no trial of
        this run (no budget, not the best)."""
        for record in records:
            tid = max(self.algorithm.trials, default=-1) + 1
            told = dataclasses.replace(record, id=tid)
            try:
                with _search_threads():
                    self.algorithm.observe(told)
            except ValueError:  # the same program twice in the earlier run's journal
                continue
            if self.journal is not None:
                self.journal.append(told)

    def enqueue(self, assignments: Sequence[Dict[str, Any]]) -> None:
        """Programs (encoded assignments) to evaluate before the algorithm proposes any."""
        self._enqueued.extend(dict(a) for a in assignments)

    def next_trials(self, k: int) -> List[Trial]:
        """Up to k trials to run together (`--pack`): each proposed while the others are pending,
        as `next_trial` gives them; fewer when the budget or the space runs out."""
        out: List[Trial] = []
        while len(out) < k:
            trial = self.next_trial()
            if trial is None:
                break
            out.append(trial)
        return out

    def _start(self, tid: int, assignment: Dict[str, Any]) -> Optional[Trial]:
        """Materialize the program and journal the pending trial; a proposal that does not make a
        program is recorded invalid."""
        now = time.time()
        attempts = self._attempts.get(tid, 0) + 1
        self._attempts[tid] = attempts
        pending = Trial(tid, _to_jsonable(assignment), started=now, attempts=attempts)
        try:
            program = self.space.materialize(assignment)
            pending.choices = _to_jsonable(self.space.decode(assignment))
            pending.program = dumps(program, path=self.space_file) if self.space_file else dumps(program)
        except Exception as e:  # HypError from the language, or a bug in a user component's schema
            self._record(dataclasses.replace(pending, status=Status.INVALID, error=f"{type(e).__name__}: {e}",
                                             finished=time.time()))
            return None
        why = self.precheck(program) if self.precheck is not None else None
        if why is not None:
            self._skip(pending, why)
            return None
        if self.journal is not None:
            self.journal.append(pending)  # before it can finish: resume must know it exists
        self._save()
        self.running[tid] = pending
        self._programs[tid] = (program, epochs_of(program))
        self._show()
        return pending

    def _skip(self, pending: Trial, why: str) -> None:
        """A proposal that cannot be built: the algorithm learns it invalid, no trial is spent."""
        self.skipped += 1
        with _search_threads():
            self.algorithm.observe(dataclasses.replace(pending, status=Status.INVALID, error=why, finished=time.time()))
        if self.skipped >= 1000 and self.skipped > 20 * (len(self.records) + 1) and self.fatal is None:
            self.fatal = f"{self.skipped} proposals could not be built (the last: {why}); see `hypsearch check`"

    def program(self, trial: Trial) -> Any:
        """The concrete program object of a running trial."""
        return self._programs[trial.id][0]

    def epochs(self, trial: Trial) -> Optional[int]:
        """Epochs a running trial's program asks for (None: a Python objective)."""
        return self._programs[trial.id][1]

    # -- results --------------------------------------------------------------------------------
    def retry(self, record: Trial) -> bool:
        """Put a trial whose worker died back in the queue (it runs again, same id, one more
        attempt); False when it has used its --max-failures retries (then `complete` it failed)."""
        if self.max_failures is not None and self._attempts.get(record.id, 0) > self.max_failures:
            return False
        self.running.pop(record.id, None)
        self._programs.pop(record.id, None)
        self._requeue.insert(0, dataclasses.replace(record, status=Status.PENDING, error=record.error))
        return True

    def complete(self, record: Trial, fatal: bool = False) -> bool:
        """Record a finished trial and tell the algorithm; True when it is the new best."""
        self.running.pop(record.id, None)
        if fatal and self.fatal is None:
            self.fatal = record.error or "a trial failed with an error that concerns every trial"
        try:
            return self._record(record)
        finally:  # after the record: a new best's best.hyp is printed from the program object
            self._programs.pop(record.id, None)

    def _record(self, record: Trial) -> bool:
        if record.status.has_value and (record.value is None or not math.isfinite(record.value)):
            record = dataclasses.replace(record, status=Status.FAILED, value=None,
                                         error=record.error or f"objective value is {record.value!r}")
        if record.finished is None:
            record.finished = time.time()
        if self.journal is not None:
            self.journal.append(record)  # durable first: the journal is what resume trusts
        self.records.append(record)
        for logger in self.loggers:
            logger.trial_finished(record)
        with _search_threads():
            self.algorithm.observe(record)
        # No checkpoint here: the journal line is the durable record of this result.
        best = self._recommended()
        changed = best is not None and (self.best is None or best.id != self.best.id)
        if changed:
            self.best = best
            self._write_best_hyp(best)
        if self.exp is not None and getattr(self.algorithm, "multi", False):
            self._write_front()
        self._show(f"trial {record.id} {record.status.value}" + (f" {record.value:.4g}" if record.value is not None else ""))
        return changed and best.id == record.id

    def _recommended(self) -> Optional[Trial]:
        """The record the algorithm names as its best (`recommend()`: its best estimate where it
        finds the results noisy, else the best raw value); the journal keeps every raw value."""
        with _search_threads():
            pick = self.algorithm.recommend() if hasattr(self.algorithm, "recommend") else None
        if pick is not None:
            for r in reversed(self.records):
                if r.id == pick.id:
                    return r
        return best_of(self.records, self.mode)

    def _write_best_hyp(self, record: Trial) -> None:
        if self.exp is None:
            return
        text = record.program
        program = self._programs.get(record.id, (None,))[0]
        if program is None and self.search_used is not None and text and self.space_file:
            try:  # a best from before a resume: its journaled text, read where it was written for
                from hypsearch.dsl.api import loads
                program = loads(text, filename=self.space_file).sample()
            except Exception:  # the text as journaled, then
                program = None
        if program is not None:
            if self.search_used is not None:  # what ran, not the file's search(...) defaults
                from hypsearch.dsl.vocabulary.objective import search as search_block
                program = program.clone(deep=True)
                program.rebind(search=search_block(**self.search_used), skip_notification=True)
            text = dumps(program, path=self.exp.best_hyp)
        write_text_atomic(self.exp.best_hyp, text if text.endswith("\n") else text + "\n")

    def _write_front(self) -> None:
        """`front/` keeps the `.hyp` of each member of the Pareto front (several objectives or constraints)."""
        from .front import write_front

        ids = {t.id for t in self.algorithm.front()}

        def text_of(record: Trial, path: str) -> str:
            program = self._programs.get(record.id, (None,))[0]
            return dumps(program, path=path) if program is not None else record.program

        write_front(os.path.join(self.exp.path, "front"), [r for r in self.records if r.id in ids], text_of)

    # -- checkpoints ----------------------------------------------------------------------------
    def checkpoint(self) -> Checkpoint:
        """The algorithm's checkpoint as saved in searcher.json."""
        return Checkpoint(self.algo_name, self.algorithm.state_dict(trials=False))

    def _save(self, final: bool = False) -> None:
        if self.store is not None:
            self.store.save(self.checkpoint(), final=final)

    def _show(self, last: Optional[str] = None) -> None:
        if self.progress is not None:
            self.progress.update(len(self.records), None if self.best is None else self.best.value,
                                 len(self.running), last)

    def close(self) -> None:
        """Save the final checkpoint and close the journal."""
        self._save(final=True)
        if self.journal is not None:
            self.journal.close()
        for logger in self.loggers:
            logger.close()
        if self.progress is not None:
            self.progress.close()


Evaluate = Callable[[Trial, Any], Tuple[Trial, Any, bool]]


def run_loop(coord: Coordinator, evaluate: Evaluate, on_best: Optional[Callable[[Trial, Any], None]] = None) -> None:
    """Run trials one at a time until the coordinator has none left: `evaluate(trial, program)`
    gives (the finished trial, a trained model or None, whether its error concerns every trial);
    `on_best(trial, model)` is called for each new best."""
    while True:
        trial = coord.next_trial()
        if trial is None:
            return
        finished, model, fatal = evaluate(trial, coord.program(trial))
        if coord.complete(finished, fatal) and on_best is not None:
            on_best(finished, model)


def _decode_tuples(space: Any, assignment: Dict[str, Any]) -> Dict[str, Any]:
    """Assignments read back from JSON carry lists where subset decisions take tuples."""
    kinds = {d.name: d.kind for d in getattr(space, "decisions", ())}
    return {k: tuple(v) if kinds.get(k) == "subset" and isinstance(v, list) else v for k, v in assignment.items()}
