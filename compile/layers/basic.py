"""Lowerings of the basic layers: linear, activations, dropout, flatten, normalisation."""

from __future__ import annotations

import functools
from typing import Optional

import torch
import torch.nn.functional as F

from ..shapes import numel
from .base import Generated, Layer, Stateless, affine, default_uniform, is_batched, linear, uniform_std
from .registry import lowers


class Linear(Layer):
    """Fully connected layer over the last dimension."""

    def __init__(self, in_features: int, out_features: int, bias: bool) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        std = uniform_std(in_features)
        self.add_tensor("weight", default_uniform((out_features, in_features), in_features), std)
        if bias:
            self.add_tensor("bias", default_uniform((out_features,), in_features), std, role="bias")
        self.has_bias = bias

    def forward(self, x: torch.Tensor, gen: Optional[Generated] = None) -> torch.Tensor:
        if gen is None and not self.keys:
            return F.linear(x, self.weight, self.bias if self.has_bias else None)
        return linear(x, self.tensor("weight", gen), self.tensor("bias", gen))

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}"


@lowers("linear")
def lower_linear(lw, comp, shape, path):
    """linear(out, bias) over the last dimension."""
    if len(shape) == 0:
        raise lw.shape_error(comp, path, "(..., features)", shape)
    if comp.out < 1:
        raise lw.error(comp, path, f"out must be at least 1, got {comp.out}")
    return Linear(shape[-1], comp.out, comp.bias), shape[:-1] + (comp.out,)


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


_ACTIVATIONS = {
    "relu": F.relu,
    "gelu": F.gelu,
    "silu": F.silu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "identity": _identity,
}


def activation_fn(comp):
    """The torch function of an activation component, or None when `comp` is not one."""
    name = getattr(type(comp), "__hyp_name__", "")
    if name == "leaky_relu":
        return functools.partial(F.leaky_relu, negative_slope=float(comp.slope))
    return _ACTIVATIONS.get(name)


@lowers("relu", "gelu", "silu", "tanh", "sigmoid", "identity", "leaky_relu")
def lower_activation(lw, comp, shape, path):
    """An elementwise activation; the shape is unchanged."""
    return Stateless(activation_fn(comp), type(comp).__hyp_name__), shape


class Dropout(Layer):
    """Zero each activation with probability p while training."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor, gen: Optional[Generated] = None) -> torch.Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


@lowers("dropout")
def lower_dropout(lw, comp, shape, path):
    """dropout(p); the shape is unchanged."""
    if not 0.0 <= comp.p < 1.0:
        raise lw.error(comp, path, f"p must be in [0, 1), got {comp.p}")
    return Dropout(float(comp.p)), shape


def _flatten(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1)


@lowers("flatten")
def lower_flatten(lw, comp, shape, path):
    """flatten(): every dimension after the batch joined into one."""
    return Stateless(_flatten, "flatten"), (numel(shape),)


class BatchNorm(Layer):
    """Batch normalisation over dim 1 of the batch (the channels, or the features)."""

    def __init__(self, channels: int, momentum: float) -> None:
        super().__init__()
        self.momentum = momentum
        self.add_tensor("weight", torch.ones(channels), 0.1, mean=1.0, role="scale")
        self.add_tensor("bias", torch.zeros(channels), 0.1, role="shift")
        # Running statistics are buffers: saved with the model, never generated nor trained.
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor, gen: Optional[Generated] = None) -> torch.Tensor:
        w, b = self.tensor("weight", gen), self.tensor("bias", gen)
        per_sample = is_batched(w, 1) or is_batched(b, 1)
        y = F.batch_norm(x, self.running_mean, self.running_var, None if per_sample else w,
                         None if per_sample else b, self.training, self.momentum, 1e-5)
        return affine(y, w, b, 1) if per_sample else y


@lowers("batchnorm")
def lower_batchnorm(lw, comp, shape, path):
    """batchnorm(momentum) over the first per-sample dimension (features or channels)."""
    if len(shape) not in (1, 2, 3):
        raise lw.shape_error(comp, path, "features, channels x length or channels x height x width", shape)
    if not 0.0 <= comp.momentum <= 1.0:
        raise lw.error(comp, path, f"momentum must be in [0, 1], got {comp.momentum}")
    return BatchNorm(shape[0], float(comp.momentum)), shape


class LayerNorm(Layer):
    """Layer normalisation over the last dimension."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.features = features
        self.add_tensor("weight", torch.ones(features), 0.1, mean=1.0, role="scale")
        self.add_tensor("bias", torch.zeros(features), 0.1, role="shift")

    def forward(self, x: torch.Tensor, gen: Optional[Generated] = None) -> torch.Tensor:
        w, b = self.tensor("weight", gen), self.tensor("bias", gen)
        if is_batched(w, 1) or is_batched(b, 1):
            return affine(F.layer_norm(x, (self.features,)), w, b, x.dim() - 1)
        return F.layer_norm(x, (self.features,), w, b)


@lowers("layernorm")
def lower_layernorm(lw, comp, shape, path):
    """layernorm() over the last dimension."""
    if len(shape) == 0:
        raise lw.shape_error(comp, path, "(..., features)", shape)
    return LayerNorm(shape[-1]), shape
