"""Experiments: `hypsearch.run(...)`, the Python form of `hypsearch run`.

`run(path_or_space, algo=..., trials=..., ...)` searches a space, training and scoring each
proposed program on Ray Tune (default) or in this process (`executor="inline"`), records
everything in an experiment directory and returns the `Experiment` (its trials and best).
`run(resume=DIR)` continues an interrupted experiment. Ray and torch are imported only when a run
needs them.
"""

from __future__ import annotations

import os
import secrets
import sys
from typing import Any, Optional, Sequence

from hypsearch import search
from hypsearch.dsl.api import load
from hypsearch.dsl.errors import HypError

from . import journal, state as state_io
from .coordinator import Coordinator, objective_of, python_files
from .executor_inline import remove_stale_weights
from .experiment import Experiment, ExperimentDir, create, default_out, update_run
from .progress import Progress
from .settings import RunSettings, resolve

__all__ = ["run", "Experiment", "RunSettings"]

# Settings that decide what the algorithm proposes: fixed once an experiment has started.
_FIXED_ON_RESUME = ("algo", "seed", "algo_options")


def run(path_or_space: Any = None, *, resume: Optional[str] = None, command: Optional[Sequence[str]] = None,
        **options: Any) -> Experiment:
    """Run (or with `resume=DIR` continue) an experiment; the Experiment with its trials and best.

    Options (the CLI's, with underscores; unset ones come from the file's search(...) block):
    algo, trials, seed, algo_options (dict), out, executor ("ray" | "inline"), address, storage,
    cpus_per_trial, gpus_per_trial, max_concurrent, scheduler ("fifo" | "asha"), max_failures,
    dashboard, progress (live progress line on stderr). `command` is recorded in run.json.
    """
    if resume is not None:
        exp, space, settings, history, saved, mode = _reopen(resume, options, command)
    else:
        if path_or_space is None:
            raise HypError("run needs a .hyp file (or a Space), or resume=DIR")
        exp, space, settings, mode = _start(path_or_space, options, command)
        history, saved = journal.JournalContents(), None
    algorithm = _algorithm(space, settings, mode, history, saved)
    progress = Progress(settings.trials, enabled=settings.progress)
    coord = Coordinator(space, algorithm, settings.algo, settings.trials, mode, exp, exp.space_file(),
                        history=history, progress=progress, seq=saved.seq if saved is not None else 0)
    remove_stale_weights(exp.weights)
    try:
        if settings.executor == "inline":
            from .executor_inline import default_device, run_inline
            run_inline(coord, device=default_device(settings.gpus_per_trial), base_dir=os.path.dirname(exp.space_file()),
                       threads=max(1, int(settings.cpus_per_trial)))
        else:
            from .executor_ray import run_ray
            run_ray(coord, settings)
    finally:
        coord.close()
        if os.path.isdir(exp.weights) and not os.listdir(exp.weights):
            os.rmdir(exp.weights)
    if coord.fatal is not None:
        raise HypError(f"the run stopped: {coord.fatal.removeprefix('error: ')}\n(experiment so far in {exp.path})")
    return Experiment.open(exp.path)


def _start(path_or_space: Any, options: dict, command: Optional[Sequence[str]]):
    space = load(os.fspath(path_or_space)) if isinstance(path_or_space, (str, os.PathLike)) else path_or_space
    settings = resolve(space.search_settings(), options)
    _algorithm(space, settings, "max")  # unknown options and the like fail before anything is written
    if settings.seed is None:
        settings.seed = secrets.randbelow(2**31)  # chosen now and recorded, so the run can be repeated
    program = space.sample(seed=0)
    mode, metric = objective_of(program, os.path.dirname(space.path) if getattr(space, "path", None) else None)
    _check_trainable(program, metric, getattr(space, "path", None))  # before anything is written
    exp = ExperimentDir(settings.out or default_out(getattr(space, "path", None)))
    settings.out = exp.path
    space_file = create(exp, space, settings, command if command is not None else sys.argv,
                        python_files(program))
    update_run(exp, mode=mode)
    # Trials run from the copy, as a resumed run does: every program text points at copied files.
    return exp, load(space_file), settings, mode


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


def _reopen(directory: str, options: dict, command: Optional[Sequence[str]]):
    exp = ExperimentDir(directory)
    record = exp.read_run()
    base = RunSettings.from_json(record["settings"])
    if options.get("out") is not None and os.path.abspath(options["out"]) != exp.path:
        raise HypError("--out cannot be given with --resume: the experiment stays in its directory")
    for key in _FIXED_ON_RESUME:
        if options.get(key) is not None and options[key] != getattr(base, key):
            raise HypError(f"--{key.replace('_', '-')} cannot change on resume (the experiment uses "
                           f"{getattr(base, key)!r}); start a new experiment instead")
    settings = resolve(None, {k: v for k, v in options.items() if k not in _FIXED_ON_RESUME and k != "out"}, base=base)
    space = load(exp.space_file())
    history = journal.read_all(exp.journal)
    saved = state_io.load(exp.state)
    update_run(exp, resumes=[{"command": list(command if command is not None else sys.argv),
                              "finished_trials": len(history.finished), "settings": settings.to_json()}])
    return exp, space, settings, history, saved, record.get("mode", "max")


def _algorithm(space: Any, settings: RunSettings, mode: str, history: Optional[journal.JournalContents] = None,
               saved: Optional[state_io.Checkpoint] = None):
    """The algorithm, rebuilt from the journal's lines when resuming; the checkpoint, when it
    matches them, only restores the random stream (exact continuation)."""
    try:
        algorithm = search.algorithm(settings.algo, space.decisions, seed=settings.seed, direction=mode,
                                     **settings.algo_options)
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
