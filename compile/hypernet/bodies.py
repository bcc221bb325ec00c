"""Generator bodies: what maps the body input (conditions x units x features) to hidden vectors.

`mlp` applies the same layers to every (condition, unit) pair. `rnn` runs a GRU over the units in
order (tensors or chunks in target order), so the hidden vector of step t, and with it every tensor
generated from it, depends on the earlier steps through the state, so it declares units
"tensors": with an input that gives no units, it steps over learned per-tensor step embeddings.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from .registry import activation, check_positive, hypernet_body


class MLPBody(nn.Module):
    """Linear layers, each followed by the activation."""

    def __init__(self, d_in: int, hidden: Sequence[int], activation: Callable) -> None:
        super().__init__()
        widths = [d_in] + list(hidden)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.activation = activation
        self.out_features = widths[-1]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            h = self.activation(layer(h))
        return h


class RNNBody(nn.Module):
    """A GRU over the units: input (N, U, d) -> hidden states (N, U, hidden)."""

    def __init__(self, d_in: int, hidden: int) -> None:
        super().__init__()
        self.gru = nn.GRU(d_in, hidden, batch_first=True)
        self.out_features = hidden

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.gru(h)[0]


@hypernet_body("mlp")
def mlp(comp, d_in: int) -> MLPBody:
    """mlp(hidden, activation)."""
    hidden = list(comp.hidden)
    for h in hidden:
        check_positive(comp, "hypernet.body", hidden=h)
    return MLPBody(d_in, hidden, activation(comp.activation, "hypernet.body.activation"))


@hypernet_body("rnn", units="tensors")
def rnn(comp, d_in: int) -> RNNBody:
    """rnn(hidden): a GRU over the generated tensors in target order."""
    check_positive(comp, "hypernet.body", hidden=comp.hidden)
    return RNNBody(d_in, comp.hidden)
