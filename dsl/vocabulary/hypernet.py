"""Hypernetworks: what conditions the generator, its body, its output head."""


from typing import Annotated, List, Optional, Union

from ..registry import Component, builtin
from .layers import relu


@builtin("hypernet")
class hypernet(Component):
    """A network that generates the parameters of the target components `generate` selects."""

    input: Annotated[Component, "what conditions the generator (task_embedding, ...)"]
    body: Annotated[Optional[Component], "the generator body (mlp, rnn)"] = None
    head: Annotated[Optional[Component], "output head (full, chunked, lowrank)"] = None
    mip: Annotated[bool, "magnitude-invariant parametrization"] = False
    generate: Annotated[Union[str, List[str]], "\"all\", component kinds, or path patterns with *"] = "all"


@builtin("hypernet_input")
class task_embedding(Component):
    """One learned embedding per task; the model's forward takes the task id."""

    dim: Annotated[int, "embedding size"] = 16


@builtin("hypernet_input")
class layer_embedding(Component):
    """One learned embedding per generated tensor: one generator shared across them."""

    dim: Annotated[int, "embedding size"] = 16


@builtin("hypernet_input")
class data_conditioned(Component):
    """Weights generated per sample from an encoding of that sample."""

    encoder: Annotated[Optional[Component], "encoder of one sample (default: linear to dim)"] = None
    dim: Annotated[int, "conditioning size"] = 16


@builtin("hypernet_input")
class coordinates(Component):
    """An implicit network over the coordinates of each weight (Fourier features)."""

    hidden: Annotated[int, "width of the implicit network"] = 32
    frequencies: Annotated[int, "Fourier frequencies per coordinate"] = 4


@builtin("hypernet_input")
class feature_subsets(Component):
    """An ensemble over random subsets of the input features (HyperTab): each member's weights are
    generated from its binary feature mask; prediction averages the members of fixed test masks."""

    members: Annotated[int, "members of the test-time ensemble (and masks drawn per training step)"] = 32
    fraction: Annotated[float, "share of the features each mask keeps"] = 0.5
    seed: Annotated[int, "seed of the test-time masks"] = 0
    vote: Annotated[str, "\"probabilities\" (mean softmax, as log-probabilities) or \"outputs\" (mean)"] = "probabilities"
    training: Annotated[str, "\"drawn\" (fresh masks each step, one member per sample) or \"members\" (the test "
                             "members themselves, each on every sample, HyperTab's way)"] = "drawn"


@builtin("hypernet_body")
class mlp(Component):
    """Multi-layer perceptron body."""

    hidden: Annotated[List[int], "hidden widths"] = [64]
    activation: Annotated[Component, "activation between layers"] = relu()


@builtin("hypernet_body")
class rnn(Component):
    """GRU over the generated tensors in order: each step sees the earlier ones."""

    hidden: Annotated[int, "state size"] = 64


@builtin("hypernet_head")
class full(Component):
    """One linear head per generated tensor."""


@builtin("hypernet_head")
class chunked(Component):
    """One shared head emits fixed-size chunks indexed by learned chunk embeddings."""

    size: Annotated[int, "chunk size"] = 1024
    dim: Annotated[int, "chunk-embedding size"] = 8


@builtin("hypernet_head")
class lowrank(Component):
    """Factors U (out x r) and V (r x in) whose product is the weight."""

    rank: Annotated[int, "rank of the factors"] = 4
