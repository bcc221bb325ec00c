"""Layers of target networks. Input sizes are inferred by the compiler, never written."""


from typing import Annotated, Optional, Union

from ..registry import Component, builtin

Padding = Union[int, str]


@builtin("layer")
class linear(Component):
    """Fully connected layer over the last dimension."""

    out: Annotated[int, "output features"]
    bias: Annotated[bool, "learn an additive bias"] = True


@builtin("layer")
class conv1d(Component):
    """1-D convolution over (channels, length)."""

    out: Annotated[int, "output channels"]
    kernel: Annotated[int, "kernel size"] = 3
    stride: Annotated[int, "stride"] = 1
    padding: Annotated[Padding, "zero padding: an int or \"same\""] = "same"
    groups: Annotated[int, "channel groups"] = 1
    bias: Annotated[bool, "learn an additive bias"] = True


@builtin("layer")
class conv2d(Component):
    """2-D convolution over (channels, height, width)."""

    out: Annotated[int, "output channels"]
    kernel: Annotated[int, "kernel size"] = 3
    stride: Annotated[int, "stride"] = 1
    padding: Annotated[Padding, "zero padding: an int or \"same\""] = "same"
    groups: Annotated[int, "channel groups"] = 1
    bias: Annotated[bool, "learn an additive bias"] = True


@builtin("layer")
class batchnorm(Component):
    """Batch normalisation over the channel (or feature) dimension."""

    momentum: Annotated[float, "running-statistics momentum"] = 0.1


@builtin("layer")
class layernorm(Component):
    """Layer normalisation over the last dimension."""


@builtin("layer")
class dropout(Component):
    """Zero each activation with probability p during training."""

    p: Annotated[float, "drop probability in [0, 1)"] = 0.5


@builtin("layer")
class relu(Component):
    """max(x, 0)."""


@builtin("layer")
class gelu(Component):
    """Gaussian error linear unit."""


@builtin("layer")
class silu(Component):
    """x * sigmoid(x)."""


@builtin("layer")
class tanh(Component):
    """Hyperbolic tangent."""


@builtin("layer")
class sigmoid(Component):
    """Logistic sigmoid."""


@builtin("layer")
class leaky_relu(Component):
    """max(x, slope * x)."""

    slope: Annotated[float, "negative slope"] = 0.01


@builtin("layer")
class identity(Component):
    """Pass the input through unchanged."""


@builtin("layer")
class maxpool(Component):
    """Max pooling over the spatial dimensions."""

    kernel: Annotated[int, "window and stride"] = 2


@builtin("layer")
class avgpool(Component):
    """Average pooling over the spatial dimensions."""

    kernel: Annotated[int, "window and stride"] = 2


@builtin("layer")
class global_avgpool(Component):
    """Average over every spatial (or sequence) position: (C, ...) -> (C,)."""


@builtin("layer")
class flatten(Component):
    """Flatten every dimension after the batch into one."""


@builtin("layer")
class attention(Component):
    """Pre-norm multi-head self-attention block with a residual connection over (tokens, dim)."""

    heads: Annotated[int, "attention heads (must divide the model width)"] = 4
    dim: Annotated[Optional[int], "model width; none keeps the input width"] = None
    dropout: Annotated[float, "attention dropout"] = 0.0


@builtin("layer")
class moe(Component):
    """Top-k mixture of experts with sparse dispatch and a load-balancing loss."""

    experts: Annotated[int, "number of experts"] = 4
    k: Annotated[int, "experts run per token"] = 1
    body: Annotated[Optional[Component], "expert network (default: linear to the input width)"] = None
    balance: Annotated[float, "weight of the load-balancing loss"] = 0.01


@builtin("layer")
class phm_linear(Component):
    """Parameterized hypercomplex linear layer: weight = sum of n Kronecker products (1/n params)."""

    out: Annotated[int, "output features (divisible by n)"]
    n: Annotated[int, "hypercomplex dimension"] = 4
    bias: Annotated[bool, "learn an additive bias"] = True


@builtin("layer")
class phm_conv2d(Component):
    """Parameterized hypercomplex 2-D convolution (1/n of the parameters of conv2d)."""

    out: Annotated[int, "output channels (divisible by n)"]
    kernel: Annotated[int, "kernel size"] = 3
    n: Annotated[int, "hypercomplex dimension"] = 4
    stride: Annotated[int, "stride"] = 1
    padding: Annotated[Padding, "zero padding: an int or \"same\""] = "same"
    bias: Annotated[bool, "learn an additive bias"] = True
