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
