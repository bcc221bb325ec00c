"""One trial, wherever it runs (a Ray worker or the driver itself): rebuild the concrete program,
train and score it with `evaluate`, and classify what happened as ok / failed / invalid.

Everything a program or its objective can throw is caught here and becomes a failed (or invalid)
trial with its message, so neither executor retries it; only a dead worker process escapes.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

from hypsearch.dsl.errors import HypError
from hypsearch.search.trial import Status, Trial

from .errors import TrialFailed, TrialInfeasible, TrialInvalid

WEIGHTS_FORMAT = "hypsearch-model/1"


def rebuild(program_text: str, filename: Optional[str]):
    """The concrete program from its `.hyp` text (as written by `hypsearch.dumps`)."""
    from hypsearch.dsl.api import loads
    return loads(program_text, filename=filename or "<trial>").sample()


def run_trial(trial: Trial, program: Any, report: Optional[Callable[[Dict[str, Any]], None]] = None,
              device: str = "cpu", base_dir: Optional[str] = None, should_stop: Optional[Callable[[], bool]] = None,
              threads: int = 1, checkpoint: Optional[Callable[[Dict[str, Any]], Any]] = None,
              resume: Optional[Dict[str, Any]] = None) -> Tuple[Trial, Any, bool]:
    """Evaluate one concrete program; never raises for a mistake of the program or its objective.
    Gives the finished trial, the trained model (None for a Python objective or a failure) and
    whether the error concerns every trial. `threads`: torch's CPU threads (its share of the CPUs).
    `checkpoint` / `resume`: the trainer's per-epoch state out and back in (see `train.fit`)."""
    from .trial import evaluate  # imports the training stack

    if device == "cpu" and getattr(program, "target", None) is not None:
        # torch defaults to one thread per core: trials sharing the cores then fight over them
        # (a quickstart trial took 3-10 s with 2 threads on 2 busy cores, 0.1-0.2 s with 1).
        import torch
        torch.set_num_threads(max(1, int(threads)))

    started = time.time()
    history: List[Dict[str, Any]] = list(resume.get("history", [])) if resume else []  # epochs done before

    def on_epoch(metrics: Dict[str, Any]) -> None:
        history.append(dict(metrics))
        if report is not None:
            report(metrics)

    def ended(status: Status, **fields: Any) -> Trial:
        fields.setdefault("metrics", history)
        return dataclasses.replace(trial, status=status, started=started, finished=time.time(), **fields)

    try:
        result = evaluate(program, report=on_epoch, device=device, base_dir=base_dir, should_stop=should_stop,
                          checkpoint=checkpoint, resume=resume)
    except TrialInvalid as e:
        return ended(Status.INVALID, error=e.reason), None, False
    except TrialInfeasible as e:  # decided before training: nothing ran
        return ended(Status.INFEASIBLE, error=f"infeasible: {e.reason}", feasible=False, constraints=e.constraints,
                     metrics=[e.metrics]), None, False
    except TrialFailed as e:
        error = e.reason + (f"\n{_tail(e.traceback)}" if e.traceback else "")
        return ended(Status.FAILED, error=error, metrics=list(e.history) or history), None, False
    except HypError as e:  # the same mistake would break every trial: stop the run and say why
        return ended(Status.FAILED, error=e.render()), None, True
    except Exception as e:  # the program's or the objective's own bug: recorded, never retried
        return ended(Status.FAILED, error=_message(e, with_trace=True)), None, False
    value = result.value
    hist = list(result.history) if result.history else history
    if not hist and result.metrics:
        hist = [dict(result.metrics)]
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        return ended(Status.FAILED, error=f"objective value is {value!r}", metrics=hist), None, False
    budget = float(getattr(result, "budget", 1.0) or 1.0)
    status = Status.OK if budget >= 1.0 else Status.STOPPED
    constraints = getattr(result, "constraints", None)
    extra = {"values": list(result.values)} if getattr(result, "values", None) is not None else {}
    if constraints is not None:
        extra.update(constraints=list(constraints), feasible=all(c <= 0 for c in constraints))
    return ended(status, value=float(value), metrics=hist, budget=budget, **extra), result.model, False


def _message(e: BaseException, with_trace: bool = False) -> str:
    text = f"{type(e).__name__}: {e}"
    if with_trace:
        text += "\n" + _tail("".join(traceback.format_exception(type(e), e, e.__traceback__)))
    return text


def _tail(trace: str, lines: int = 6) -> str:
    """The last lines of a traceback: where it broke, without the whole stack."""
    return "\n".join(trace.rstrip().splitlines()[-lines:])


def save_weights(path: str, model: Any, program_text: str, hyp_file: Optional[str]) -> None:
    """Save a trained model as a plain dict of tensors plus its `.hyp` text (no pickled modules);
    `hyp_file` is the file the text's relative paths (imports) are relative to."""
    import torch
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    data = {"format": WEIGHTS_FORMAT, "hyp": program_text, "hyp_file": hyp_file or "", "state_dict": state}
    if getattr(model, "input_shape", None) is not None:  # data sets that tell their shape only when loaded
        data["input_shape"] = [int(s) for s in model.input_shape]
        data["tasks"] = int(getattr(model, "tasks", 1) or 1)
    stats = getattr(model, "input_normalization", None)
    if stats is not None:  # the data's training statistics: load_model applies them to raw inputs
        data["normalization"] = {"mean": torch.as_tensor(stats[0]), "std": torch.as_tensor(stats[1])}
    tmp = f"{path}.tmp"
    torch.save(data, tmp)
    os.replace(tmp, path)
