"""The registry of learning-rate schedules: schedule component -> lr factor per optimizer step.

Each entry, `@schedule("name")`, takes the component, the steps per epoch and the total steps and
returns `factor(step) -> float`, the multiple of the optimizer's lr at that step; `make_scheduler`
wraps it in torch's `LambdaLR`, stepped after every optimizer step, so its state is saved and
restored with a checkpoint.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional, TypeVar

import torch

from hypsearch.dsl.errors import HypError, suggest

Factor = Callable[[int], float]
Factory = Callable[[Any, int, int], Factor]
SF = TypeVar("SF", bound=Factory)

SCHEDULES: Dict[str, Factory] = {}


def schedule(name: str) -> Callable[[SF], SF]:
    """Register the decorated factory as the schedule component `name`."""
    def deco(fn: SF) -> SF:
        SCHEDULES[name] = fn
        return fn
    return deco


def make_scheduler(component: Any, optimizer: torch.optim.Optimizer, steps_per_epoch: int,
                   epochs: int) -> Optional[torch.optim.lr_scheduler.LambdaLR]:
    """The torch scheduler of a schedule component (None for no schedule)."""
    factor = schedule_factor(component, steps_per_epoch, epochs)
    return None if factor is None else torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def schedule_factor(component: Any, steps_per_epoch: int, epochs: int) -> Optional[Factor]:
    """The lr factor per step of a schedule component (None for no schedule); HypError for a bad one."""
    if component is None:
        return None
    name = getattr(component, "__hyp_name__", type(component).__name__)
    factory = SCHEDULES.get(name)
    if factory is None:
        known = sorted(SCHEDULES)
        raise HypError(f"train: `{name}` is not a schedule; use {', '.join(known)}{suggest(str(name), known)}")
    return factory(component, max(1, steps_per_epoch), max(1, steps_per_epoch * epochs))


def _warmup_steps(name: str, warmup: float, steps_per_epoch: int) -> int:
    if warmup < 0:
        raise HypError(f"{name}: warmup must be >= 0 epochs, got {warmup}")
    return int(round(warmup * steps_per_epoch))


@schedule("cosine")
def cosine(comp: Any, steps_per_epoch: int, total: int) -> Factor:
    """Linear warmup over `warmup` epochs, then cosine from 1 down to `final`."""
    warm = _warmup_steps("cosine", comp.warmup, steps_per_epoch)
    final = float(comp.final)
    if not 0.0 <= final <= 1.0:
        raise HypError(f"cosine: final must be in [0, 1], got {final}")

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        t = min(1.0, (step - warm) / max(1, total - warm))
        return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * t))
    return factor


@schedule("step")
def step(comp: Any, steps_per_epoch: int, total: int) -> Factor:
    """Linear warmup, then gamma ** (epochs done // every)."""
    if comp.every < 1 or not comp.gamma > 0:
        raise HypError(f"step: every must be >= 1 and gamma > 0, got every = {comp.every}, gamma = {comp.gamma}")
    warm = _warmup_steps("step", comp.warmup, steps_per_epoch)

    def factor(s: int) -> float:
        if s < warm:
            return (s + 1) / warm
        return float(comp.gamma) ** (s // steps_per_epoch // comp.every)
    return factor


@schedule("onecycle")
def onecycle(comp: Any, steps_per_epoch: int, total: int) -> Factor:
    """From 1/div up to 1 over the first `peak` of training (cosine), then down to 1/(div * final_div)."""
    if not 0.0 < comp.peak < 1.0 or comp.div < 1 or comp.final_div < 1:
        raise HypError(f"onecycle: needs 0 < peak < 1, div >= 1 and final_div >= 1, got peak = {comp.peak}, "
                       f"div = {comp.div}, final_div = {comp.final_div}")
    up = max(1, int(round(comp.peak * total)))
    start, end = 1.0 / comp.div, 1.0 / (comp.div * comp.final_div)

    def anneal(a: float, b: float, t: float) -> float:
        return b + (a - b) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))

    def factor(s: int) -> float:
        if s < up:
            return anneal(start, 1.0, s / up)
        return anneal(1.0, end, (s - up) / max(1, total - up))
    return factor
