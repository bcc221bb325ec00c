"""Experiments: `hypsearch.run(...)`, the Python form of `hypsearch run`.

`run(path_or_space, algo=..., trials=..., ...)` searches a space, training and scoring each
proposed program on Ray Tune (default) or in this process (`executor="inline"`), records
everything in an experiment directory and returns the `Experiment` (its trials and best).
`run(resume=DIR)` continues an interrupted experiment. Ray and torch are imported only when a run
needs them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import sys
from typing import Any, List, Optional, Sequence

from hypsearch import search
from hypsearch.dsl.api import load
from hypsearch.dsl.errors import HypError

from . import journal, state as state_io
from .coordinator import Coordinator, objective_of, python_files
from .executor_inline import remove_stale_weights
from .experiment import DamagedRecord, Experiment, ExperimentDir, create, default_out, update_run
from .lock import DirectoryLock
from .progress import Progress, describe_start
from .settings import RunSettings, resolve
from .state import write_text_atomic

__all__ = ["run", "Experiment", "RunSettings"]

# Settings that decide what the algorithm proposes: fixed once an experiment has started.
_FIXED_ON_RESUME = ("algo", "seed", "algo_options", "repeats", "enqueue", "warm_start")


def run(path_or_space: Any = None, *, resume: Optional[str] = None, command: Optional[Sequence[str]] = None,
        **options: Any) -> Experiment:
    """Run (or with `resume=DIR` continue) an experiment; the Experiment with its trials and best.

    Options (the CLI's, with underscores; unset ones come from the file's search(...) block):
    algo, trials, seed, algo_options (dict), out, executor ("ray" | "inline"), address, storage,
    cpus_per_trial, gpus_per_trial, max_concurrent, scheduler ("fifo" | "asha"), max_failures,
    trial_timeout (seconds), pack (trials trained as one population), repeats (seeds per program),
    dashboard, progress (None: on a terminal or in a notebook; True: always; False: never). `command` is recorded in run.json.
    """
    held: List[DirectoryLock] = []  # one run per directory: released however this run ends
    try:
        return _run(path_or_space, resume, command, options, held)
    finally:
        for lock in held:
            lock.release()


def _run(path_or_space: Any, resume: Optional[str], command: Optional[Sequence[str]], options: dict,
         held: List[DirectoryLock]) -> Experiment:
    if resume is not None:
        exp, space, settings, history, saved, mode = _reopen(resume, options, command, held)
        done = sum(1 for t in history.finished if t.origin is None)
        if done >= settings.trials and not history.pending:  # no executor (nor Ray) to start
            print(f"nothing left to do: {exp.path} has {done} finished trials of the {settings.trials} asked; "
                  f"pass --trials N (more than {done}) to run more", file=sys.stderr)
            return Experiment.open(exp.path)
    else:
        if path_or_space is None:
            raise HypError("run needs a .hyp file (or a Space), or resume=DIR")
        exp, space, settings, mode, warm = _start(path_or_space, options, command, held)
        history, saved = journal.JournalContents(), None
    algorithm = _algorithm(space, settings, mode, history, saved)
    progress = Progress(settings.trials, enabled=settings.progress)
    progress.starting(describe_start(settings, space))
    coord = Coordinator(space, algorithm, settings.algo, settings.trials, mode, exp, exp.space_file(),
                        history=history, progress=progress, seq=saved.seq if saved is not None else 0,
                        max_failures=settings.max_failures)
    from .precheck import build_error
    coord.precheck = build_error
    coord.search_used = {"algo": settings.algo, "trials": settings.trials, "seed": settings.seed,
                         "options": dict(settings.algo_options)}
    if settings.log:
        from .loggers import make as make_loggers
        coord.loggers = make_loggers(settings.log, exp.path, space)
    if resume is None:
        enqueued, told = warm
        coord.warm_start(told)
        coord.enqueue(enqueued)
    remove_stale_weights(exp.weights)
    try:
        if settings.executor == "inline":
            from .executor_inline import default_device, run_inline
            run_inline(coord, device=default_device(settings.gpus_per_trial, settings.device), base_dir=os.path.dirname(exp.space_file()),
                       threads=max(1, int(settings.cpus_per_trial)), trial_timeout=settings.trial_timeout,
                       pack=settings.pack, repeats=settings.repeats)
        else:
            from .executor_ray import run_ray
            run_ray(coord, settings)
    except KeyboardInterrupt:  # the CLI names the command that resumes (the journal has every result)
        raise KeyboardInterrupt(exp.path) from None
    finally:
        coord.close()
        if os.path.isdir(exp.weights) and not os.listdir(exp.weights):
            os.rmdir(exp.weights)
    if coord.fatal is not None:
        reason = exp.to_user_paths(coord.fatal.removeprefix("error: "))
        raise HypError(f"the run stopped: {reason}\n(experiment so far in {exp.path})")
    if coord.exhausted and len(coord.records) < settings.trials:
        unbuilt = f", {coord.skipped} more that cannot be built skipped" if coord.skipped else ""
        print(f"the space is exhausted: {len(coord.records)} trials run{unbuilt}; "
              f"it has no program left for the {settings.trials} trials asked", file=sys.stderr)
    return Experiment.open(exp.path)


def _start(path_or_space: Any, options: dict, command: Optional[Sequence[str]], held: List[DirectoryLock]):
    space = load(os.fspath(path_or_space)) if isinstance(path_or_space, (str, os.PathLike)) else path_or_space
    settings = resolve(space.search_settings(), options)
    _algorithm(space, settings, "max")  # unknown options and the like fail before anything is written
    _prestart(settings)
    if settings.seed is None:
        settings.seed = secrets.randbelow(2**31)  # chosen now and recorded, so the run can be repeated
    program = space.sample(seed=0)
    mode, metric = objective_of(program, os.path.dirname(space.path) if getattr(space, "path", None) else None)
    _check_trainable(program, metric, getattr(space, "path", None))  # before anything is written
    from .precheck import precheck
    for warning in precheck(space, search_block=False):  # the whole space, as `hypsearch check` sees it
        print(warning, file=sys.stderr)
    warm = _warm_start(space, settings)  # read against the user's space: the copy's paths differ
    exp = ExperimentDir(settings.out or default_out(getattr(space, "path", None)))
    settings.out = exp.path
    if settings.executor == "ray" and settings.address:
        from .executor_ray import probe_address
        probe_address(settings.address)  # before the directory is made: a wrong address leaves nothing
    _make_dir(exp.path)
    held.append(DirectoryLock(exp.path).acquire())
    space_file = create(exp, space, settings, command if command is not None else sys.argv,
                        python_files(program))
    update_run(exp, mode=mode)
    # Trials run from the copy, as a resumed run does: every program text points at copied files.
    return exp, load(space_file), settings, mode, warm


def _prestart(settings: RunSettings) -> None:
    """Start the inline executor's trial forkserver now, so its imports overlap the checks that follow."""
    if settings.executor == "inline":
        from .sandbox import prestart
        prestart()


def _warm_start(space: Any, settings: RunSettings) -> tuple:
    """(assignments of the --enqueue programs, the --warm-start experiment's finished trials that
    fit the space, matched by decision name); HypError for a program outside the space."""
    base = os.path.dirname(os.path.abspath(space.path)) if getattr(space, "path", None) else os.getcwd()
    enqueued = []
    for path in settings.enqueue:
        full = path if os.path.isabs(path) else os.path.join(base, path)
        program = load(full).program({})  # its own errors carry FILE:LINE:COL
        try:
            enqueued.append(space.assignment_of(program))
        except HypError as e:
            raise HypError(f"--enqueue {path}: {e}") from None
    told, skipped = [], 0
    if settings.warm_start:
        earlier = Experiment.open(settings.warm_start)
        for t in earlier.trials:
            try:
                assignment = space.encode(t.choices)
            except HypError:
                skipped += 1  # a program of the earlier space that this one cannot make
                continue
            told.append(dataclasses.replace(t, assignment=assignment, origin=f"{earlier.dir}#{t.id}"))
        print(f"warm start: {len(told)} finished trials of {earlier.dir} told to the algorithm"
              + (f", {skipped} that do not fit the space skipped" if skipped else ""), file=sys.stderr)
    return enqueued, told


def _check_trainable(program: Any, metric: Optional[str], path: Optional[str]) -> None:
    """A space whose programs cannot be scored at all is the user's mistake, not a run of failures."""
    where = f"{path}: " if path else ""
    if metric is None:  # a Python objective scores the program: nothing else is needed
        return
    if program.target is None:
        raise HypError(f"{where}nothing to train or score: add a `target` network (with `data`), or a Python "
                       "objective such as objective = maximize(python(\"score.py:fn\"))")
    if program.data is None:
        raise HypError(f"{where}the `target` network has no `data` to train on: add e.g. data = digits()")


def _make_dir(path: str) -> None:
    """Create the experiment directory, or a HypError saying why it cannot be one."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise HypError(f"--out {path}: a file is there, not a directory; choose another --out")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise HypError(f"--out {path}: cannot create the experiment directory ({e.strerror or e})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise HypError(f"--out {path}: the directory is not writable")


def _reopen(directory: str, options: dict, command: Optional[Sequence[str]], held: List[DirectoryLock]):
    exp = ExperimentDir(directory)
    if not os.path.isdir(exp.path):
        raise HypError(f"--resume {directory}: no such experiment directory")
    held.append(DirectoryLock(exp.path).acquire())  # before reading: the holder may be writing
    try:
        record = exp.read_run()
    except DamagedRecord as e:
        record = _recover_run(exp, e)
    if record.get("space_sha256") and record["space_sha256"] != exp.space_digest():
        raise HypError(f"the space copy in {exp.space_dir} was edited after the experiment started: its trials "
                       f"belong to the original space. Restore the copy, or start a new experiment with the "
                       f"edited file (hypsearch run FILE)")
    base = RunSettings.from_json(record["settings"])
    if options.get("out") is not None and os.path.abspath(options["out"]) != exp.path:
        raise HypError("--out cannot be given with --resume: the experiment stays in its directory")
    for key in _FIXED_ON_RESUME:
        if options.get(key) is not None and options[key] != getattr(base, key):
            raise HypError(f"--{key.replace('_', '-')} cannot change on resume (the experiment uses "
                           f"{getattr(base, key)!r}); start a new experiment instead")
    settings = resolve(None, {k: v for k, v in options.items() if k not in _FIXED_ON_RESUME and k != "out"}, base=base)
    _prestart(settings)
    space = load(exp.space_file())
    history = journal.read_all(exp.journal)
    for line in history.damaged:  # kept in the file as they are; the intact lines are resumed from
        print(f"warning: {exp.journal}: {line} (skipped)", file=sys.stderr)
    saved = state_io.load(exp.state)
    update_run(exp, resumes=[{"command": list(command if command is not None else sys.argv),
                              "finished_trials": len(history.finished), "settings": settings.to_json()}])
    return exp, space, settings, history, saved, record.get("mode", "max")


def _recover_run(exp: ExperimentDir, damage: HypError) -> dict:
    """Rebuild run.json from what the directory still holds (the space copy, its search block,
    the checkpoint's algorithm); the damaged file is kept beside it as run.json.damaged."""
    candidates = sorted(n for n in os.listdir(exp.space_dir) if n.endswith(".hyp")) if os.path.isdir(exp.space_dir) else []
    if len(candidates) != 1:
        raise HypError(f"{damage.message}, and the space copy cannot be told apart in {exp.space_dir} "
                       f"({len(candidates)} .hyp files there): the experiment cannot be resumed") from None
    space_file = os.path.join(exp.space_dir, candidates[0])
    space = load(space_file)
    settings = resolve(space.search_settings(), {})
    saved = state_io.load(exp.state)
    if saved is not None and saved.algo in search.names():
        settings.algo = saved.algo
    settings.out = exp.path
    settings.executor = "ray" if os.path.isdir(exp.ray) else "inline"  # only Ray runs leave DIR/ray
    mode, _ = objective_of(space.sample(seed=0), exp.space_dir)
    shutil.copyfile(exp.run_json, exp.run_json + ".damaged")
    record = {"space_file": candidates[0], "settings": settings.to_json(), "mode": mode, "recovered": True,
              "seeds": {"algorithm": settings.seed}}
    write_text_atomic(exp.run_json, json.dumps(record, indent=2))
    print(f"warning: {damage.message}; rebuilt it from the space copy and the checkpoint (algorithm "
          f"{settings.algo}, executor {settings.executor}, mode {mode}); the damaged file is kept as {exp.run_json}.damaged", file=sys.stderr)
    return record


def _algorithm(space: Any, settings: RunSettings, mode: str, history: Optional[journal.JournalContents] = None,
               saved: Optional[state_io.Checkpoint] = None):
    """The algorithm, rebuilt from the journal's lines when resuming; the checkpoint, when it
    matches them, only restores the random stream (exact continuation)."""
    from .objectives import search_directions
    directions, constraints = search_directions(space.sample(seed=0), mode)
    try:
        algorithm = search.algorithm(settings.algo, space.decisions, seed=settings.seed, direction=mode,
                                     directions=directions, constraints=constraints, **settings.algo_options)
    except ValueError as e:
        raise HypError(f"algorithm `{settings.algo}`: {e}")
    if history is None or not history.events:
        return algorithm
    try:
        for record in history.events:
            algorithm.observe(record)
    except ValueError as e:
        raise HypError(f"the journal does not fit the space: {e}") from None
    state = saved.algorithm if saved is not None and saved.algo == settings.algo else None
    algorithm.resume_randomness(state)
    return algorithm
