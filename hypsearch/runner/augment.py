"""The registry of augmentations: `augment = [...]` items -> batch ops on the trial's device.

Each entry is a function `@augmentation("name")` that takes the component and the input shape of
one sample and gives a callable `(batch, generator) -> batch` built from torch tensor ops, so a
batch is augmented where it lives (no host round trip) and with the trainer's own generator (the
same seed gives the same augmented batches). Augmentations run on training batches only.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

import torch
import torch.nn.functional as F

from hypsearch.dsl.errors import HypError, suggest

BatchOp = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
Factory = Callable[[Any, Tuple[int, ...]], BatchOp]
AF = TypeVar("AF", bound=Factory)

AUGMENTATIONS: Dict[str, Factory] = {}


def augmentation(name: str) -> Callable[[AF], AF]:
    """Register the decorated factory as the augmentation component `name`."""
    def deco(fn: AF) -> AF:
        AUGMENTATIONS[name] = fn
        return fn
    return deco


def augment_of(program: Any) -> List[Any]:
    """The program's augmentation components (the top-level `augment` list; absent optional items dropped)."""
    items = getattr(program, "augment", None)
    if items is None:
        return []
    if not isinstance(items, (list, tuple)):
        items = [items]
    return [a for a in items if a is not None]


def make_augment(items: Sequence[Any], input_shape: Tuple[int, ...]) -> Optional[BatchOp]:
    """One batch op applying every augmentation in order, or None for an empty list."""
    ops = []
    for i, comp in enumerate(items):
        name = getattr(comp, "__hyp_name__", None)
        factory = AUGMENTATIONS.get(name) if isinstance(name, str) else None
        if factory is None:
            known = sorted(AUGMENTATIONS)
            raise HypError(f"augment[{i}]: `{name or type(comp).__name__}` is not an augmentation; use "
                           f"{', '.join(known)}{suggest(str(name), known)}")
        ops.append(factory(comp, tuple(input_shape)))
    if not ops:
        return None

    def apply(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for op in ops:
            x = op(x, generator)
        return x
    return apply


def _image(name: str, shape: Tuple[int, ...]) -> None:
    if len(shape) != 3:
        raise HypError(f"augment: {name}() works on images (channels, height, width), the data has "
                       f"samples of shape {shape}")


def _uniform(n: int, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    # Drawn on the generator's device (the CPU: one generator for every device keeps runs
    # reproducible), then moved; a few numbers per batch, no sync.
    return torch.rand(n, generator=generator).to(x.device, non_blocking=True)


@augmentation("random_crop")
def random_crop(comp: Any, shape: Tuple[int, ...]) -> BatchOp:
    """Zero-pad by `padding` and crop back at a per-sample random offset (one gather, no loop)."""
    _image("random_crop", shape)
    pad = int(comp.padding)
    if pad < 0:
        raise HypError(f"augment: random_crop padding must be >= 0, got {pad}")
    _, h, w = shape

    def op(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if pad == 0:
            return x
        n = x.shape[0]
        padded = F.pad(x, (pad, pad, pad, pad))
        dy = (_uniform(n, x, g) * (2 * pad + 1)).long().clamp_(max=2 * pad)
        dx = (_uniform(n, x, g) * (2 * pad + 1)).long().clamp_(max=2 * pad)
        rows = (dy[:, None] + torch.arange(h, device=x.device)[None])  # (n, h)
        cols = (dx[:, None] + torch.arange(w, device=x.device)[None])  # (n, w)
        index = rows[:, None, :, None] * padded.shape[-1] + cols[:, None, None, :]  # (n, 1, h, w)
        flat = padded.flatten(2)
        return flat.gather(2, index.flatten(2).expand(-1, x.shape[1], -1)).view_as(x)
    return op


@augmentation("flip")
def flip(comp: Any, shape: Tuple[int, ...]) -> BatchOp:
    """Mirror each image left-right with probability p."""
    _image("flip", shape)
    p = float(comp.p)
    if not 0.0 <= p <= 1.0:
        raise HypError(f"augment: flip p must be in [0, 1], got {p}")

    def op(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        mask = (_uniform(x.shape[0], x, g) < p).view(-1, 1, 1, 1)
        return torch.where(mask, x.flip(-1), x)
    return op


@augmentation("cutout")
def cutout(comp: Any, shape: Tuple[int, ...]) -> BatchOp:
    """Zero a size x size square at a random centre of each image (clipped at the borders)."""
    _image("cutout", shape)
    size = int(comp.size)
    if size < 1:
        raise HypError(f"augment: cutout size must be >= 1, got {size}")
    _, h, w = shape

    def op(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        n = x.shape[0]
        cy = (_uniform(n, x, g) * h).long()
        cx = (_uniform(n, x, g) * w).long()
        ys = torch.arange(h, device=x.device)[None]
        xs = torch.arange(w, device=x.device)[None]
        in_y = (ys >= (cy - size // 2)[:, None]) & (ys < (cy - size // 2 + size)[:, None])
        in_x = (xs >= (cx - size // 2)[:, None]) & (xs < (cx - size // 2 + size)[:, None])
        hole = (in_y[:, :, None] & in_x[:, None, :])[:, None]  # (n, 1, h, w)
        return x.masked_fill(hole, 0.0)
    return op


@augmentation("noise")
def noise(comp: Any, shape: Tuple[int, ...]) -> BatchOp:
    """Add N(0, std^2) to every input value."""
    std = float(comp.std)
    if std < 0:
        raise HypError(f"augment: noise std must be >= 0, got {std}")

    def op(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return x + std * torch.randn(x.shape, generator=g).to(x.device, non_blocking=True)
    return op
