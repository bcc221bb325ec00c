"""Lowering of user components registered with `@hypsearch.component`.

The user's lowering (a class or function) is called with the component's concrete arguments, plus
`in_shape=` (the per-sample input shape, a tuple) when its signature has that parameter, and must
return an `nn.Module` taking the batch. Its output shape is found by running it once on a zero
batch. A hypernetwork may generate its parameters: the module then runs through
`torch.func.functional_call` with the generated tensors (one set for the batch, not per sample).
"""

from __future__ import annotations

import inspect
from typing import Optional

import torch
from torch import nn

from hypsearch.dsl.errors import HypError

from ..shapes import fmt
from .base import Generated, Layer, TensorSpec
from .registry import USER, lowers


class UserLayer(Layer):
    """A user's module behind the layer protocol."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        for name, p in module.named_parameters():
            std = float(p.detach().std()) if p.numel() > 1 else 0.0
            self.specs[name] = TensorSpec(name, tuple(p.shape), std if std > 0 else 0.02,
                                          float(p.detach().mean()) if p.dim() < 2 else 0.0,
                                          "weight" if p.dim() > 1 else "bias")

    def take(self, name: str, key: str) -> nn.Parameter:
        owner_name, _, leaf = name.rpartition(".")
        owner = self.module.get_submodule(owner_name) if owner_name else self.module
        param = owner._parameters.pop(leaf)
        # A plain tensor attribute of the same shape keeps the module's own code working; the
        # functional call replaces it by the generated tensor in every forward.
        setattr(owner, leaf, param.detach().clone())
        self.keys[name] = key
        return param

    def forward(self, x: torch.Tensor, gen: Optional[Generated] = None) -> torch.Tensor:
        if not self.keys:
            return self.module(x)
        if gen is None:
            self.tensor(next(iter(self.keys)), None)  # raises the explanatory error
        if gen.batched:
            raise HypError(f"{self.path}: user components take one set of generated weights per batch, "
                               "not per sample (data_conditioned inputs or mixed task ids)")
        tensors = {name: gen.params[key] for name, key in self.keys.items()}
        return torch.func.functional_call(self.module, tensors, (x,))


def _accepts(fn, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        """Hand the user module's parameter `name` (dotted) to a hypernetwork."""
        return False
    return name in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


@lowers(USER)
def lower_user(lw, comp, shape, path):
    """A user component: its lowering called with its arguments (and in_shape when accepted)."""
    fn = type(comp).__hyp_lowering__
    args = {str(k): v for k, v in comp.sym_init_args.items()}
    if _accepts(fn, "in_shape"):
        args["in_shape"] = tuple(shape)
    try:
        module = fn(**args)
    except Exception as e:  # the user's code: report it against the component
        raise lw.error(comp, path, f"its lowering failed: {type(e).__name__}: {e}") from e
    if not isinstance(module, nn.Module):
        raise lw.error(comp, path, f"its lowering must return an nn.Module, got {type(module).__name__}")
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(torch.zeros((2,) + tuple(shape)))
    except Exception as e:
        raise lw.error(comp, path, f"fails on an input of shape {fmt(shape)}: {type(e).__name__}: {e}") from e
    finally:
        module.train(was_training)
    if not isinstance(out, torch.Tensor):
        raise lw.error(comp, path, f"must return a tensor, returned {type(out).__name__}")
    return UserLayer(module), tuple(out.shape[1:])
