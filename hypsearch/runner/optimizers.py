"""The registry of optimizers: optimizer component name -> the function that builds its torch optimizer.

`make_optimizer` checks what every optimizer shares (trainable parameters, `train(weight_decay)`),
then the entry's own `check` of its arguments, and hands the rest to the entry;
`check_optimizer` runs the same checks without building anything. Each entry is one
function with `@optimizer("name")`, so a new optimizer is its declaration in
`dsl/vocabulary/training.py` and one entry here (or in a user's imported file).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Protocol, TypeVar

import torch

from hypsearch.dsl.errors import HypError, suggest


class OptimizerFactory(Protocol):
    """Builds a torch optimizer: `(component, trainable parameters, train's weight_decay)`."""

    def __call__(self, component: Any, params: List[torch.nn.Parameter], weight_decay: float, /
                 ) -> torch.optim.Optimizer:
        ...


OF = TypeVar("OF", bound=OptimizerFactory)

OPTIMIZERS: Dict[str, OptimizerFactory] = {}
# name -> the check of its arguments alone (HypError), for the entries that declare one.
CHECKS: Dict[str, Callable[[Any], None]] = {}


def optimizer(name: str, check: Optional[Callable[[Any], None]] = None) -> Callable[[OF], OF]:
    """Register the decorated factory as the optimizer component `name`; `check(component)`, when
    given, validates the component's arguments without building anything (run before the factory)."""
    def deco(fn: OF) -> OF:
        old = OPTIMIZERS.get(name)
        if old is not None and _qualname(old) != _qualname(fn):
            raise ValueError(f"optimizer `{name}` is already registered ({_qualname(old)})")
        OPTIMIZERS[name] = fn
        if check is not None:
            CHECKS[name] = check
        return fn
    return deco


def make_optimizer(component: Any, params: Iterable[Any], weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """The torch optimizer an optimizer component (`adam(...)`, `adamw(...)`, `sgd(...)`) stands for.

    `weight_decay` is `train(weight_decay = ...)`: the L2 penalty of adam and sgd; for adamw a
    nonzero value replaces adamw's own decoupled `weight_decay`.
    """
    name, factory = _entry(component)
    trainable = [p for p in params if p.requires_grad]
    if not trainable:
        raise HypError("the model has no trainable parameters to optimise")
    _check_shared(name, component, weight_decay)
    return factory(component, trainable, weight_decay)


def check_optimizer(component: Any, weight_decay: float = 0.0) -> bool:
    """HypError for the arguments `make_optimizer` would refuse, found without building a torch
    optimizer (the first one built in a process imports torch._dynamo: 1.1 s, which packed trials,
    whose optimizer is not torch's, need not pay); False when the entry declares no check, so only
    building it would tell."""
    name, _ = _entry(component)
    _check_shared(name, component, weight_decay)
    return name in CHECKS


def _entry(component: Any):
    name = getattr(component, "__hyp_name__", type(component).__name__)
    factory = OPTIMIZERS.get(name)
    if factory is None:
        known = list(OPTIMIZERS)
        raise HypError(f"`{name}` is not an optimizer; use {_either(known)}{suggest(str(name), known)}")
    return name, factory


def _check_shared(name: str, component: Any, weight_decay: float) -> None:
    if weight_decay < 0:
        raise HypError(f"train: weight_decay must be >= 0, got {weight_decay}")
    check = CHECKS.get(name)
    if check is not None:
        check(component)


def check_lr(name: str, component: Any) -> None:
    """Raise unless the component's learning rate is positive."""
    if not component.lr > 0:
        raise HypError(f"{name}: lr must be > 0, got {component.lr}")


def _check_adam(component: Any) -> None:
    check_lr("adam", component)
    betas = tuple(component.betas)
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        raise HypError(f"adam: betas must be two values in [0, 1), got {list(component.betas)}")


@optimizer("adam", check=_check_adam)
def adam(component: Any, params: List[torch.nn.Parameter], weight_decay: float) -> torch.optim.Optimizer:
    """adam(lr, betas); train's weight_decay is its L2 penalty."""
    return torch.optim.Adam(params, lr=component.lr, betas=tuple(component.betas), weight_decay=weight_decay)


@optimizer("adamw", check=lambda component: check_lr("adamw", component))
def adamw(component: Any, params: List[torch.nn.Parameter], weight_decay: float) -> torch.optim.Optimizer:
    """adamw(lr, weight_decay); a nonzero train weight_decay replaces its own."""
    return torch.optim.AdamW(params, lr=component.lr, weight_decay=weight_decay or component.weight_decay)


def _check_sgd(component: Any) -> None:
    check_lr("sgd", component)
    if component.nesterov and component.momentum <= 0:
        raise HypError(f"sgd: nesterov = true needs momentum > 0, got momentum = {component.momentum}")


@optimizer("sgd", check=_check_sgd)
def sgd(component: Any, params: List[torch.nn.Parameter], weight_decay: float) -> torch.optim.Optimizer:
    """sgd(lr, momentum, nesterov); train's weight_decay is its L2 penalty."""
    return torch.optim.SGD(params, lr=component.lr, momentum=component.momentum,
                           nesterov=component.nesterov, weight_decay=weight_decay)


def _either(names: List[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _qualname(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
