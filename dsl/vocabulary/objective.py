"""Objectives, Python hooks and the search block."""


from typing import Annotated, Any, Dict, Optional, Union

from ..registry import Component, builtin


@builtin("python")
class python(Component):
    """A Python function: `file.py:name` (relative to the .hyp file), `module:name`, or the name of
    an objective registered with `@hypsearch.objective` in an imported file."""

    __hyp_positional__ = True

    ref: Annotated[str, "\"file.py:function\", \"package.module:function\" or a registered objective's name"]


class Objective(Component):
    """Base of objectives."""


@builtin("objective")
class maximize(Objective):
    """Maximise a reported metric or a Python scoring function."""

    __hyp_positional__ = True

    metric: Annotated[Union[str, python], "metric name or python(\"f.py:fn\")"] = "val_accuracy"


@builtin("objective")
class minimize(Objective):
    """Minimise a reported metric or a Python scoring function."""

    __hyp_positional__ = True

    metric: Annotated[Union[str, python], "metric name or python(\"f.py:fn\")"] = "val_loss"


@builtin("search", extra_kwargs="options")
class search(Component):
    """Default search settings; command-line options override them."""

    algo: Annotated[str, "random, mcts, smbo or evolution"] = "random"
    trials: Annotated[int, "number of programs to evaluate"] = 20
    seed: Annotated[Optional[int], "seed of the algorithm"] = None
    options: Annotated[Dict[str, Any], "algorithm options (population, exploration, ...)"] = {}


class Constraint(Component):
    """Base of constraints: a bound on a metric a trial reports (or a built-in one: params, flops,
    latency_ms), listed in the top-level `constraints = [...]`."""


@builtin("constraint")
class at_most(Constraint):
    """The metric must not exceed the bound (`at_most("params", 50000)`)."""

    metric: Annotated[str, "metric name (params, flops, latency_ms or any reported metric)"]
    bound: Annotated[float, "the largest value allowed"]


@builtin("constraint")
class at_least(Constraint):
    """The metric must reach the bound (`at_least("val_accuracy", 0.9)`)."""

    metric: Annotated[str, "metric name (params, flops, latency_ms or any reported metric)"]
    bound: Annotated[float, "the smallest value allowed"]
