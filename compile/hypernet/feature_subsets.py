"""The `feature_subsets` input: an ensemble of targets over random subsets of the input features.

HyperTab (Wydmański, Bulenok and Śmieja, 2023): a member of the ensemble is a binary mask over the
input features; the hypernetwork generates the member's target weights from its mask, and the
member sees only the features its mask keeps (the others are zeroed before its first layer). Each
mask keeps `round(fraction * features)` features (at least one), drawn without replacement.
- Training, `training = "drawn"` (the default): every forward draws `members` fresh masks (from
  torch's generator, which `train.seed` seeds), generates their weights in one batched call and
  gives each sample of the batch one of them at random, so the batch's loss is the mean loss of the
  members it drew; the target then runs with per-sample weights (batched matrix products).
- Training, `training = "members"` (HyperTab's own way): the test members themselves train, each
  on every sample of the batch; the forward returns every member's outputs, member after member
  (`outputs_per_sample` of them per sample), and `fit` scores each against the sample's target, so
  the loss is the mean of the members' losses. It costs `members` target passes per sample.
- Prediction (eval mode, an exported model): the `members` test masks, drawn once from `seed` and
  kept with the weights, are generated in one call and applied to the whole batch as a batch of
  targets (`torch.func.vmap` over the members); the members' class probabilities are averaged
  (returned as log-probabilities, so argmax and the cross-entropy read them), or their outputs
  averaged with `vote = "outputs"` (regression).
Under MIP the mask is encoded on the unit circle like any numeric input in [0, 1].
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple

import torch
from torch import nn

from ..layers.base import Generated
from ..lowering import error
from .mip import encode_unit_interval
from .registry import InputContext, InputParts, check_positive, hypernet_input

VOTES = ("probabilities", "outputs")
TRAINING = ("drawn", "members")


def draw_masks(members: int, features: int, keep: int, generator: Optional[torch.Generator] = None,
               device: Any = None) -> torch.Tensor:
    """(members x features) float masks, each with `keep` ones at random positions."""
    scores = torch.rand(members, features, generator=generator)
    picked = scores.argsort(dim=1)[:, :keep]
    masks = torch.zeros(members, features).scatter_(1, picked, 1.0)
    return masks if device is None else masks.to(device)


class FeatureSubsets(nn.Module):
    """The members' masks as conditions; runs the target as an ensemble (see the module docstring)."""

    def __init__(self, features: int, members: int, keep: int, seed: int, vote: str, mip: bool,
                 training: str = "drawn") -> None:
        super().__init__()
        self.features, self.members, self.keep, self.vote, self.mip = features, members, keep, vote, mip
        self.training_mode = training
        # Kept with the weights: a loaded model predicts with exactly the masks it was scored with.
        self.register_buffer("test_masks", draw_masks(members, features, keep, torch.Generator().manual_seed(seed)))

    def encode(self, masks: torch.Tensor) -> torch.Tensor:
        """The body's input for each mask."""
        return encode_unit_interval(masks) if self.mip else masks

    def condition(self, x: Optional[torch.Tensor], task: Any) -> Tuple[torch.Tensor, None, bool]:
        """The test members' conditions, one row per member (not per sample: `run_target` applies
        each member to the whole batch)."""
        return self.encode(self.test_masks), None, True

    @property
    def outputs_per_sample(self) -> int:
        """Outputs a training forward returns per sample (member-major): `members` under
        `training = "members"`, else 1."""
        return self.members if self.training_mode == "members" and self.training else 1

    def calibration(self, x: Optional[torch.Tensor]) -> torch.Tensor:
        """The test members' conditions."""
        return self.encode(self.test_masks)

    def run_target(self, target: nn.Module, hypernet: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The target's output for the batch: one drawn member per sample in training, the average
        over the test members otherwise."""
        if x.dim() != 2 or x.shape[1] != self.features:
            raise error(None, "hypernet.input", f"feature_subsets: expected a batch of {self.features} features, "
                        f"got shape {tuple(x.shape)}")
        if self.training and self.training_mode == "drawn":
            masks = draw_masks(self.members, self.features, self.keep, device=x.device)
            member = torch.randint(self.members, (x.shape[0],), device=x.device)
            params = {k: v.index_select(0, member) for k, v in hypernet.generate(self.encode(masks)).items()}
            return target(x * masks.index_select(0, member), Generated(params, True))
        params = hypernet.generate(self.encode(self.test_masks))

        def member_output(p: Dict[str, torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
            return target(x * mask, Generated(p, False))

        outs = torch.func.vmap(member_output)(params, self.test_masks)  # (members, batch, outputs)
        if self.training:  # "members": every member's outputs, scored one by one against the targets
            return outs.reshape(-1, *outs.shape[2:])
        if self.vote == "outputs":
            return outs.mean(dim=0)
        return torch.logsumexp(outs.float().log_softmax(dim=-1), dim=0) - math.log(self.members)


@hypernet_input("feature_subsets", per_sample=True)
def feature_subsets(comp, ctx: InputContext) -> InputParts:
    """feature_subsets(members, fraction, seed, vote, training): an ensemble over random feature masks."""
    check_positive(comp, "hypernet.input", members=comp.members)
    if len(ctx.in_shape) != 1:
        raise error(comp, "hypernet.input", f"feature_subsets masks the features of tabular rows; the input has "
                    f"shape {tuple(ctx.in_shape)} (flatten it first, or use another input)")
    if not isinstance(comp.fraction, (int, float)) or not 0.0 < comp.fraction <= 1.0:
        raise error(comp, "hypernet.input", f"fraction must be in (0, 1], got {comp.fraction!r}")
    if comp.vote not in VOTES:
        raise error(comp, "hypernet.input", f"vote must be one of {', '.join(repr(v) for v in VOTES)}, "
                    f"got {comp.vote!r}")
    if comp.training not in TRAINING:
        raise error(comp, "hypernet.input", f"training must be one of {', '.join(repr(t) for t in TRAINING)}, "
                    f"got {comp.training!r}")
    features = int(ctx.in_shape[0])
    keep = min(features, max(1, int(round(comp.fraction * features))))
    cond = FeatureSubsets(features, comp.members, keep, int(comp.seed), comp.vote, ctx.mip, comp.training)
    return InputParts(conditioner=cond, width=2 * features if ctx.mip else features)
