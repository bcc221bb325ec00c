"""How one trial can end other than with a value: failed (it ran and broke) or invalid (it could
not be built). The executor records them as status `failed` / `invalid` and the search goes on."""

from __future__ import annotations

from typing import Any, Dict, List, Optional


class TrialFailed(Exception):
    """The trial ran and broke: an exception in the program or objective, a NaN or infinite
    loss, out of memory. `history` holds the epochs finished before it broke."""

    def __init__(self, reason: str, history: Optional[List[Dict[str, Any]]] = None,
                 traceback: Optional[str] = None):
        super().__init__(reason)
        self.reason = reason
        self.history = list(history or [])
        self.traceback = traceback


class TrialInvalid(Exception):
    """The program cannot be built or run as written (a `HypError` from the compiler, a model
    whose output does not fit the data); nothing was trained."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TrialInfeasible(Exception):
    """The built program violates a constraint decided before training (params, flops): it is
    recorded as infeasible, with its constraint values and built-in metrics, and never trained."""

    def __init__(self, reason: str, constraints: List[float], metrics: Dict[str, Any]):
        super().__init__(reason)
        self.reason = reason
        self.constraints = list(constraints)
        self.metrics = dict(metrics)
