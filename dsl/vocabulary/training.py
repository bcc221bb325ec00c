"""The training recipe: epochs, batches, optimizer and regularisation."""


from typing import Annotated, List, Optional

from ..registry import Component, builtin


class Optimizer(Component):
    """Base of optimizer components."""


@builtin("optimizer")
class adam(Optimizer):
    """Adam."""

    lr: Annotated[float, "learning rate"] = 1e-3
    betas: Annotated[List[float], "moment decay rates"] = [0.9, 0.999]


@builtin("optimizer")
class adamw(Optimizer):
    """Adam with decoupled weight decay."""

    lr: Annotated[float, "learning rate"] = 1e-3
    weight_decay: Annotated[float, "decoupled weight decay"] = 0.01


@builtin("optimizer")
class sgd(Optimizer):
    """Stochastic gradient descent with momentum."""

    lr: Annotated[float, "learning rate"] = 0.01
    momentum: Annotated[float, "momentum"] = 0.9
    nesterov: Annotated[bool, "Nesterov momentum"] = False


@builtin("train")
class train(Component):
    """How a trial trains its program."""

    epochs: Annotated[int, "passes over the training data"] = 5
    batch_size: Annotated[int, "samples per step"] = 64
    optimizer: Annotated[Optimizer, "the optimizer"] = adam()
    weight_decay: Annotated[float, "L2 penalty added by the optimizer"] = 0.0
    clip: Annotated[Optional[float], "gradient-norm clipping (none: off)"] = None
    seed: Annotated[int, "seed of initialisation and batch order"] = 0
