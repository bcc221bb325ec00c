"""A worker process that runs trials where they cannot take the run down with them.

The inline executor (and the Ray trainable, when a trial timeout is set) hands each trial to one
persistent child process over a pipe: the concrete program as `.hyp` text goes in, epoch reports
and the finished `Trial` come back. Whatever the trial does (`os._exit`, a segfault, `SystemExit`,
`KeyboardInterrupt` or a bare `BaseException` from its own code, sleeping forever), the driver
survives: a dead worker is reported with its exit code or signal, a trial past its timeout is
killed with its worker, and the next trial gets a fresh worker. A live worker is reused, which
keeps the cost per trial at a pipe round trip instead of a process start (about 1 s with imports).

Packs (`--pack`, `--repeats`) run the same way: `run_pack` hands a worker several trials, it trains
them with `packed.loop.evaluate_pack` and sends each finished record back as it is done; a pack
whose worker dies ends its unfinished trials with the reason, as a single trial's.

Workers are forked from a forkserver that has already imported the runner, so a restart after a
crash costs tens of milliseconds. The trained model stays in the worker; the driver asks for it
(`save_model`) only when the trial is the new best, so other models never touch the disk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import multiprocessing.forkserver
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Optional, Sequence

from hypsearch.search.trial import Status, Trial

_CONTEXT: list = []
START_TIMEOUT_S = 300.0  # a worker that has not started by then is counted as dead


def _context():
    """The forkserver context, with the runner preloaded (one server per driver process)."""
    if not _CONTEXT:
        ctx = multiprocessing.get_context("forkserver")
        # What every trial imports (torch with them: 1.6 s), imported once by the server, which
        # `prestart` starts while the driver checks the space, instead of by each fresh worker.
        ctx.set_forkserver_preload(["hypsearch.runner.worker", "hypsearch.runner.sandbox", "hypsearch.runner.train",
                                    "hypsearch.runner.packed.loop", "hypsearch.compile"])
        _CONTEXT.append(ctx)
    return _CONTEXT[0]


def prestart() -> None:
    """Start the forkserver now, without waiting for it: its imports (torch and the runner, about
    2 s) then overlap the driver's own start-up (loading, checking the space, the first proposals)
    instead of delaying the first trial. A later `Sandbox` forks its worker from it."""
    _context()
    with _main_not_reimported():
        multiprocessing.forkserver.ensure_running()


@dataclass
class Outcome:
    """How a trial in the sandbox ended."""

    trial: Trial  # the finished trial (failed with the reason when the worker died or timed out)
    fatal: bool = False  # its error concerns every trial (a HypError)
    has_model: bool = False  # the worker holds its trained model (save_model writes it)
    died: bool = False  # the worker process died (exit code / signal in trial.error): retryable


def describe_exit(code: Optional[int]) -> str:
    """`exit code 3` or `signal SIGSEGV` for a process's exit code."""
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


@contextlib.contextmanager
def _main_not_reimported():
    """Start a worker without multiprocessing re-running the user's script in it: a script that
    calls `hypsearch.run(...)` at top level, with no `if __name__ == "__main__"` guard, would
    otherwise run its whole search again inside the worker. The worker needs nothing from
    `__main__` (trials travel as `.hyp` text), so the start is told there is no main file."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


class Sandbox:
    """One persistent worker process; `run` a trial in it, `close` when done."""

    def __init__(self, timeout: Optional[float] = None):
        self.timeout = timeout
        self._proc: Any = None
        self._conn: Any = None

    def _ensure(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            return
        self._discard()
        ctx = _context()
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=_serve, args=(child,), daemon=True, name="hypsearch-trial")
        with _main_not_reimported():
            proc.start()
        child.close()  # only the worker holds its end: its death reads as EOF here
        self._proc, self._conn = proc, parent
        # A trial's timeout starts once the worker is up: starting one (imports) took seconds on a
        # loaded machine, which must not count against the trial.
        try:
            if parent.poll(START_TIMEOUT_S) and parent.recv() == ("ready",):
                return
        except (EOFError, OSError):
            pass
        code = self._reap()
        raise RuntimeError(f"the trial worker process did not start ({describe_exit(code)})")

    def run(self, trial: Trial, program_text: str, filename: Optional[str], device: str = "cpu",
            base_dir: Optional[str] = None, threads: int = 1,
            report: Optional[Callable[[Dict[str, Any]], None]] = None) -> Outcome:
        """Run one trial in the worker; never raises for anything the trial does."""
        started = time.time()
        try:
            self._ensure()
        except RuntimeError as e:
            return Outcome(self._ended(trial, started, str(e)), died=True)
        deadline = None if not self.timeout else time.monotonic() + self.timeout
        self._conn.send(("run", trial.to_json(), program_text, filename, device, base_dir, threads))
        while True:
            if not self._ready(deadline):
                self._kill()
                return Outcome(self._ended(trial, started, f"timed out after {self.timeout:g} s (--trial-timeout); "
                                                            "the trial's worker was killed"))
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                code = self._reap()
                return Outcome(self._ended(trial, started, f"the trial's worker died ({describe_exit(code)})"),
                               died=True)
            kind = message[0]
            if kind == "report":
                if report is not None:
                    try:
                        report(message[1])
                    except BaseException:  # a scheduler stopping the trial: it must not run on
                        self._kill()
                        raise
                continue
            _, record, fatal, has_model = message
            return Outcome(Trial.from_json(record), fatal=fatal, has_model=has_model)

    def run_pack(self, trials: Sequence[Trial], filename: Optional[str], device: str = "cpu",
                 base_dir: Optional[str] = None, threads: int = 1, repeats: int = 1,
                 weights: Optional[str] = None,
                 stopper: Optional[Callable[[int, Dict[int, float]], Any]] = None) -> Iterator[Outcome]:
        """Train trials as packs in the worker (`packed.loop.evaluate_pack`); an outcome per trial as
        each finishes (`has_model`: its weights are in WEIGHTS/ID.pt, `weights` given). When the
        worker dies (or the pack outlives the timeout, which then bounds the whole pack) the trials
        not finished yet end failed with the reason, `died` as for `run`. `stopper` (see
        `evaluate_pack`) is called here, in this process, for the worker's members after each epoch."""
        started = time.time()
        try:
            self._ensure()
        except RuntimeError as e:
            for t in trials:
                yield Outcome(self._ended(t, started, str(e)), died=True)
            return
        deadline = None if not self.timeout else time.monotonic() + self.timeout
        left = {t.id: t for t in trials}
        self._conn.send(("pack", [t.to_json() for t in trials], filename, device, base_dir, threads, repeats, weights,
                         stopper is not None))
        over = False  # the worker said the pack is over, or is gone
        try:
            while True:  # until the worker says the pack is over (its last message), or dies
                if not self._ready(deadline):
                    self._kill()
                    over = True
                    for t in left.values():
                        yield Outcome(self._ended(t, started, f"timed out: its pack ran past {self.timeout:g} s "
                                                              "(--trial-timeout); the pack's worker was killed"))
                    return
                try:
                    message = self._conn.recv()
                except (EOFError, OSError):
                    code = self._reap()
                    over = True
                    if not left:  # it died after its last member: the next pack gets a fresh one
                        return
                    for t in left.values():
                        yield Outcome(self._ended(t, started, f"the pack's worker died ({describe_exit(code)})"),
                                      died=True)
                    return
                if message[0] == "member":
                    _, record, fatal, has_model = message
                    finished = Trial.from_json(record)
                    if left.pop(finished.id, None) is not None:
                        yield Outcome(finished, fatal=fatal, has_model=has_model)
                elif message[0] == "ask":  # the members' epoch: which of them the stopper stops
                    try:
                        stop = [int(i) for i in stopper(message[1], message[2])] if stopper is not None else []
                    except Exception:  # the stopper unreachable (its actor gone): they train on
                        stop = []
                    self._conn.send(("stop", stop))
                elif message[0] == "packed":
                    over = True
                    break
        finally:
            if not over:  # the caller stopped reading mid-pack (or raised): the worker must not run on
                self._kill()
        for t in left.values():  # not reported by a worker that finished the pack: never silently lost
            yield Outcome(self._ended(t, started, "the pack ended without a result for this trial"))

    def save_model(self, path: str, program_text: str, hyp_file: Optional[str]) -> bool:
        """Save the last trial's model at `path` (False when the worker no longer holds one)."""
        if self._proc is None or not self._proc.is_alive():
            return False
        try:
            self._conn.send(("save", path, program_text, hyp_file))
            return bool(self._conn.recv())
        except (EOFError, OSError):
            self._reap()
            return False

    @staticmethod
    def _ended(trial: Trial, started: float, error: str) -> Trial:
        return dataclasses.replace(trial, status=Status.FAILED, error=error, started=started, finished=time.time())

    def _ready(self, deadline: Optional[float]) -> bool:
        """Whether the worker sent something (or is gone) before `deadline` (None: wait for it)."""
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return self._conn.poll(wait)
        except (EOFError, OSError):
            return True

    def _kill(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
        self._reap()

    def _reap(self) -> Optional[int]:
        proc = self._proc
        code = None
        if proc is not None:
            proc.join(5)
            code = proc.exitcode
        self._discard()
        return code

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)
        self._proc = self._conn = None

    def close(self) -> None:
        """Stop the worker (asks it to leave, kills it when it does not)."""
        if self._proc is not None and self._proc.is_alive():
            try:
                self._conn.send(("exit",))
                self._proc.join(2)
            except (OSError, EOFError):
                pass
        self._discard()


def _serve(conn: Any) -> None:
    """The worker's loop: run trials until told to exit or the driver goes away."""
    # Ctrl-C in the terminal reaches the whole process group: the driver handles it (the trial
    # stays pending for --resume). A KeyboardInterrupt seen here comes from the trial's own code.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .worker import rebuild, run_trial, save_weights

    conn.send(("ready",))
    model = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if message[0] == "exit":
            return
        if message[0] == "save":
            _, path, text, hyp_file = message
            ok = model is not None
            if ok:
                save_weights(path, model, text, hyp_file)
            conn.send(ok)
            continue
        if message[0] == "pack":
            model = None
            _serve_pack(conn, message)
            continue
        _, record, text, filename, device, base_dir, threads = message
        trial = Trial.from_json(record)
        model = None
        started = time.time()

        def report(metrics: Dict[str, Any]) -> None:
            conn.send(("report", metrics))

        try:
            program = rebuild(text, filename)
        except Exception as e:  # a program text that does not parse back: invalid, not retried
            conn.send(("done", dataclasses.replace(trial, status=Status.INVALID, error=f"{type(e).__name__}: {e}",
                                                   started=started, finished=time.time()).to_json(), False, False))
            continue
        try:
            finished, model, fatal = run_trial(trial, program, report=report, device=device, base_dir=base_dir,
                                               threads=threads)
        except BaseException as e:  # SystemExit, KeyboardInterrupt, BaseException from the trial itself
            detail = f": {e}" if str(e) else ""
            finished, model, fatal = dataclasses.replace(
                trial, status=Status.FAILED, error=f"the trial raised {type(e).__name__}{detail}",
                started=started, finished=time.time()), None, False
        conn.send(("done", finished.to_json(), fatal, model is not None))



def _serve_pack(conn: Any, message: Any) -> None:
    """Train one pack in the worker, sending each trial's record as it finishes (its weights, when
    it has a model, saved first as WEIGHTS/ID.pt: the driver keeps the best's, removes the others)."""
    import os

    from .packed.loop import evaluate_pack
    from .worker import rebuild, save_weights

    _, records, filename, device, base_dir, threads, repeats, weights, asks = message
    if device == "cpu":
        import torch
        torch.set_num_threads(max(1, int(threads)))
    trials, programs = [], []
    for record in records:
        trial = Trial.from_json(record)
        started = time.time()
        try:
            programs.append(rebuild(trial.program, filename))
            trials.append(trial)
        except Exception as e:  # a program text that does not parse back: invalid, not retried
            conn.send(("member", dataclasses.replace(trial, status=Status.INVALID, error=f"{type(e).__name__}: {e}",
                                                     started=started, finished=time.time()).to_json(), False, False))
    done = set()
    started = time.time()
    try:
        for finished, model, fatal in evaluate_pack(trials, programs, repeats=repeats, device=device,
                                                    base_dir=base_dir, threads=threads,
                                                    stopper=(lambda epoch, values: _ask(conn, epoch, values)) if asks else None):
            done.add(finished.id)
            saved = model is not None and weights is not None and finished.status.has_value
            if saved:
                os.makedirs(weights, exist_ok=True)
                save_weights(os.path.join(weights, f"{finished.id}.pt"), model, finished.program, filename)
            conn.send(("member", finished.to_json(), fatal, saved))
    except BaseException as e:  # SystemExit, KeyboardInterrupt, BaseException from a member's own code
        detail = f": {e}" if str(e) else ""
        for trial in trials:
            if trial.id not in done:
                conn.send(("member", dataclasses.replace(
                    trial, status=Status.FAILED, error=f"its pack raised {type(e).__name__}{detail}",
                    started=started, finished=time.time()).to_json(), False, False))
    conn.send(("packed",))


def _ask(conn: Any, epoch: int, values: Dict[int, float]) -> list:
    """The driver's stopper, asked over the pipe: the members to stop after this epoch."""
    conn.send(("ask", epoch, values))
    reply = conn.recv()
    return list(reply[1]) if reply and reply[0] == "stop" else []
