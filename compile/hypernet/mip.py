"""The magnitude-invariant parametrization (MIP) and the plain form it replaces.

MIP ("Magnitude Invariant Parametrizations Improve Hypernetwork Learning") keeps the generator's
input norm constant and makes its output additive:
- numeric inputs in [0, 1] are encoded as [cos(pi x / 2), sin(pi x / 2)] (unit norm per value);
- learned embeddings are L2-normalised, so scaling them changes nothing downstream;
- generated tensors are theta = theta0 + delta, with theta0 a learnable tensor initialised as the
  target layer's own default init, and the output layer scaled per tensor so that delta starts at
  `DELTA_SCALE` times that init's standard deviation.
Without MIP a generated tensor is mean + raw output (mean is 1 for norm scales, 0 otherwise), its
output layer scaled per tensor so that it starts at the scale of the target's default init.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# Initial size of delta relative to the default init of each tensor: small, so that training starts
# from the target's own initialisation.
DELTA_SCALE = 0.1


def encode_unit_interval(x: torch.Tensor) -> torch.Tensor:
    """[cos(pi x / 2), sin(pi x / 2)] per value of x (values in [0, 1]): a unit-norm pair each."""
    angle = x * (math.pi / 2)
    return torch.cat([torch.cos(angle), torch.sin(angle)], dim=-1)


def normalise(z: torch.Tensor) -> torch.Tensor:
    """Learned embeddings projected to unit norm (the MIP input encoding)."""
    return F.normalize(z, dim=-1)


def initial_scale(std: float, mip: bool) -> float:
    """The standard deviation a generated tensor's raw output should start with."""
    return std * DELTA_SCALE if mip else std
