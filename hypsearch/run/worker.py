"""One trial, wherever it runs (a Ray worker or the driver itself): rebuild the concrete program,
train and score it with `evaluate`, and classify what happened as ok / failed / invalid.

Everything a program or its objective can throw is caught here and becomes a failed (or invalid)
outcome with its message, so neither executor retries it; only a dead worker process escapes.
"""

from __future__ import annotations

import math
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

WEIGHTS_FORMAT = "hypsearch-model/1"


@dataclass
class Outcome:
    """What a trial produced."""

    status: str  # ok | failed | stopped | invalid
    value: Optional[float] = None
    history: List[Dict[str, Any]] = field(default_factory=list)  # per-epoch metrics
    error: Optional[str] = None
    started: float = 0.0
    finished: float = 0.0
    budget: float = 1.0
    attempts: int = 1
    fatal: bool = False  # a mistake that concerns every trial (HypError): the run stops
    model: Any = None  # the trained nn.Module (inline only; never sent between processes)


def rebuild(program_text: str, filename: Optional[str]):
    """The concrete program from its `.hyp` text (as written by `hypsearch.dumps`)."""
    import hypsearch
    return hypsearch.loads(program_text, filename=filename or "<trial>").sample()


def run_trial(program: Any, report: Optional[Callable[[Dict[str, Any]], None]] = None, device: str = "cpu",
              base_dir: Optional[str] = None, should_stop: Optional[Callable[[], bool]] = None,
              threads: int = 1) -> Outcome:
    """Evaluate one concrete program; never raises for a mistake of the program or its objective.
    `threads`: torch's CPU threads for this trial (its share of the CPUs)."""
    from ..dsl.errors import HypError
    from .errors import TrialFailed, TrialInvalid
    from .trial import evaluate

    if device == "cpu" and getattr(program, "target", None) is not None:
        # torch defaults to one thread per core: trials sharing the cores then fight over them
        # (a quickstart trial took 3-10 s with 2 threads on 2 busy cores, 0.1-0.2 s with 1).
        import torch
        torch.set_num_threads(max(1, int(threads)))

    started = time.time()
    history: List[Dict[str, Any]] = []

    def on_epoch(metrics: Dict[str, Any]) -> None:
        history.append(dict(metrics))
        if report is not None:
            report(metrics)

    try:
        result = evaluate(program, report=on_epoch, device=device, base_dir=base_dir, should_stop=should_stop)
    except TrialInvalid as e:
        return Outcome("invalid", error=e.reason, history=history, started=started, finished=time.time())
    except TrialFailed as e:
        error = e.reason + (f"\n{_tail(e.traceback)}" if e.traceback else "")
        return Outcome("failed", error=error, history=list(e.history) or history, started=started,
                       finished=time.time())
    except HypError as e:  # the same mistake would break every trial: stop the run and say why
        return Outcome("failed", error=e.render(), history=history, started=started, finished=time.time(),
                       fatal=True)
    except Exception as e:  # the program's or the objective's own bug: recorded, never retried
        return Outcome("failed", error=_message(e, with_trace=True), history=history, started=started,
                       finished=time.time())
    value = result.value
    hist = list(result.history) if result.history else history
    if not hist and result.metrics:
        hist = [dict(result.metrics)]
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        return Outcome("failed", error=f"objective value is {value!r}", history=hist, started=started,
                       finished=time.time())
    return Outcome("ok", value=float(value), history=hist, started=started, finished=time.time(),
                   model=result.model, budget=float(getattr(result, "budget", 1.0) or 1.0))


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
    tmp = f"{path}.tmp"
    torch.save({"format": WEIGHTS_FORMAT, "hyp": program_text, "hyp_file": hyp_file or "", "state_dict": state}, tmp)
    os.replace(tmp, path)
