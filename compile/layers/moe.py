"""Lowering of `moe`: a top-k mixture of experts with sparse dispatch and a load-balancing loss.

Tokens are every position of the last dimension (samples for flat inputs, tokens for sequences).
A linear gate scores the experts; each token runs through its k best experts only (tokens are
grouped per expert, so an expert sees exactly the tokens routed to it) and their outputs are summed,
weighted by the gate probabilities (renormalised over the k chosen when k > 1; with k = 1 the
output is scaled by the probability itself, as in the Switch Transformer, so the gate still learns
from the task loss). The Switch-Transformer balance loss
`balance * E * sum_e f_e * P_e` (f_e: share of routed tokens, P_e: mean gate probability) of the
latest forward is kept in `aux`, for `Model.aux_loss()` and so for the trainer.
"""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import nn

from hypsearch.dsl.vocabulary import layers as vocab

from ..shapes import fmt
from .base import Generated, Layer, default_uniform, linear, uniform_std
from .registry import lowers


class MixtureOfExperts(Layer):
    """Route each token to its top-k experts and combine their weighted outputs."""

    def __init__(self, width: int, experts: List[nn.Module], k: int, balance: float, out_width: int) -> None:
        super().__init__()
        self.experts = nn.ModuleList(experts)
        self.k, self.balance, self.width, self.out_width = k, balance, width, out_width
        self.add_tensor("gate_weight", default_uniform((len(experts), width), width), uniform_std(width))
        self.aux: Optional[torch.Tensor] = None

    def forward(self, x: torch.Tensor, gen: Optional[Generated] = None) -> torch.Tensor:
        lead = x.shape[:-1]
        n_experts = len(self.experts)
        logits = linear(x, self.tensor("gate_weight", gen), None).reshape(-1, n_experts)
        tokens = x.reshape(-1, self.width)
        n = tokens.shape[0]
        probs = logits.softmax(-1)
        top_p, top_i = probs.topk(self.k, dim=-1)
        if self.k > 1:
            top_p = top_p / top_p.sum(-1, keepdim=True)
        choice = top_i.reshape(-1)
        order = torch.argsort(choice, stable=True)
        counts = torch.bincount(choice, minlength=n_experts)
        token_of, weight_of = order // self.k, top_p.reshape(-1)[order]
        sample_of = None
        if gen is not None and gen.batched:
            sample_of = torch.arange(n, device=x.device) // max(n // max(x.shape[0], 1), 1)
        out = tokens.new_zeros(n, self.out_width)
        start = 0
        for e, count in enumerate(counts.tolist()):
            if count == 0:
                continue
            idx = token_of[start:start + count]
            start += count
            g = gen if sample_of is None else gen.rows(f"{self.path}.experts[{e}].", sample_of[idx])
            y = self.experts[e](tokens.index_select(0, idx), g)
            out.index_add_(0, idx, y * weight_of[start - count:start].unsqueeze(-1))
        share = counts.to(probs.dtype) / max(choice.numel(), 1)
        self.aux = self.balance * n_experts * (share * probs.mean(0)).sum()
        return out.reshape(*lead, self.out_width)


@lowers("moe")
def lower_moe(lw, comp, shape, path):
    """moe(experts, k, body, balance): `experts` copies of the body, each with its own parameters."""
    if len(shape) == 0:
        raise lw.shape_error(comp, path, "(..., features)", shape)
    if comp.experts < 1:
        raise lw.error(comp, path, f"experts must be at least 1, got {comp.experts}")
    if not 1 <= comp.k <= comp.experts:
        raise lw.error(comp, path, f"k = {comp.k} must be between 1 and experts = {comp.experts}")
    width = shape[-1]
    body = comp.body if comp.body is not None else vocab.linear(out=width)
    experts, out_shape = [], None
    for e in range(comp.experts):
        module, out_shape = lw.lower(body, (width,), f"{path}.experts[{e}]")
        experts.append(module)
    if len(out_shape) != 1:
        raise lw.error(comp, path, f"each expert must map a token of {width} features to a vector, "
                       f"but the body outputs {fmt(out_shape)}")
    module = MixtureOfExperts(width, experts, comp.k, float(comp.balance), out_shape[0])
    return module, shape[:-1] + out_shape
