"""The training recipe: epochs, batches, optimizer, learning-rate schedule, precision and regularisation."""


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


class Schedule(Component):
    """Base of learning-rate schedules: a factor on the optimizer's lr at every step."""


@builtin("schedule")
class cosine(Schedule):
    """Linear warmup, then cosine decay of the lr to `final` times its value at the last step."""

    warmup: Annotated[float, "epochs of linear warmup from 0"] = 0.0
    final: Annotated[float, "the lr at the end, as a fraction of the optimizer's lr"] = 0.0


@builtin("schedule")
class step(Schedule):
    """Multiply the lr by `gamma` every `every` epochs (after an optional linear warmup)."""

    every: Annotated[int, "epochs between decays"] = 30
    gamma: Annotated[float, "the factor of each decay"] = 0.1
    warmup: Annotated[float, "epochs of linear warmup from 0"] = 0.0


@builtin("schedule")
class onecycle(Schedule):
    """The one-cycle policy: the lr rises to the optimizer's lr, then anneals (cosine) far below it."""

    peak: Annotated[float, "fraction of training spent rising"] = 0.3
    div: Annotated[float, "the starting lr is lr / div"] = 25.0
    final_div: Annotated[float, "the last lr is lr / (div * final_div)"] = 1e4


class Regime(Component):
    """Base of training regimes: how the tasks of a multi-task data set reach the model."""


@builtin("regime")
class joint(Regime):
    """All tasks at once, batches mixing them (the default; the upper bound of a sequential run)."""


@builtin("regime")
class finetune(Regime):
    """Tasks one after another in task order, nothing protecting earlier ones (the forgetting baseline)."""

    epochs_per_task: Annotated[Optional[int], "epochs on each task (none: train.epochs)"] = None
    fresh_optimizer: Annotated[bool, "a new optimizer (and schedule) for each task"] = True


@builtin("regime")
class continual(Regime):
    """Tasks one after another; the hypernetwork's outputs for earlier task embeddings are held to
    their snapshots by an output regulariser (von Oswald et al., ICLR 2020)."""

    beta: Annotated[float, "weight of the output regulariser"] = 0.01
    epochs_per_task: Annotated[Optional[int], "epochs on each task (none: train.epochs)"] = None
    fresh_optimizer: Annotated[bool, "a new optimizer (and schedule) for each task"] = True


@builtin("regime")
class ewc(Regime):
    """Tasks one after another with (online) elastic weight consolidation on every trained parameter."""

    strength: Annotated[float, "weight of the quadratic penalty (lambda)"] = 100.0
    samples: Annotated[int, "training samples per task for the diagonal Fisher estimate"] = 200
    epochs_per_task: Annotated[Optional[int], "epochs on each task (none: train.epochs)"] = None
    fresh_optimizer: Annotated[bool, "a new optimizer (and schedule) for each task"] = True


@builtin("train")
class train(Component):
    """How a trial trains its program."""

    epochs: Annotated[int, "passes over the training data"] = 5
    batch_size: Annotated[int, "samples per step"] = 64
    optimizer: Annotated[Optimizer, "the optimizer"] = adam()
    weight_decay: Annotated[float, "L2 penalty added by the optimizer"] = 0.0
    clip: Annotated[Optional[float], "gradient-norm clipping (none: off)"] = None
    seed: Annotated[int, "seed of initialisation and batch order"] = 0
    schedule: Annotated[Optional[Schedule], "learning-rate schedule, stepped every batch (none: constant)"] = None
    precision: Annotated[str, "\"fp32\", \"bf16\" or \"fp16\": mixed precision on a GPU (fp32 on a CPU)"] = "fp32"
    label_smoothing: Annotated[float, "label smoothing of the cross-entropy loss"] = 0.0
    loss: Annotated[str, "\"auto\" (the data's natural loss), \"cross_entropy\" or \"mse\""] = "auto"
    accumulate: Annotated[int, "batches whose gradients add up to one optimizer step"] = 1
    patience: Annotated[Optional[int], "stop after this many epochs without a better val_loss (none: off)"] = None
    compile: Annotated[bool, "run the model through torch.compile (falls back, with a warning, if it fails)"] = False
    loading: Annotated[str, "\"auto\", \"device\" (held on the device) or \"stream\" (DataLoader)"] = "auto"
    workers: Annotated[int, "DataLoader worker processes when streaming"] = 2
    regime: Annotated[Regime, "joint(), or tasks one after another: finetune(), continual(...), ewc(...)"] = joint()
