"""Shape arithmetic for lowering: per-sample shapes (no batch dimension) as tuples of ints.

Each lowering computes its output shape from its input shape with these helpers, so that sizes
never have to be written in `.hyp` text (`linear(out = 64)` finds its input size here) and a
mismatch is caught while building, with both shapes in the message, not in the first forward.
"""

from __future__ import annotations

import math
from typing import Sequence, Tuple, Union

Shape = Tuple[int, ...]


def fmt(shape: Sequence[int]) -> str:
    """A shape as people write it: `64`, `8x8`, `1x8x8`."""
    return "x".join(str(int(s)) for s in shape) if len(shape) else "scalar"


def numel(shape: Sequence[int]) -> int:
    """Number of elements of one sample of this shape."""
    return int(math.prod(shape))


def conv_out(size: int, kernel: int, stride: int, pad_total: int) -> int:
    """Output length of a convolution or pooling window along one dimension."""
    return (size + pad_total - kernel) // stride + 1


def same_padding(size: int, kernel: int, stride: int) -> Tuple[int, int]:
    """(left, right) zero padding that makes the output ceil(size / stride) long (TF's "same")."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def padding_pairs(padding: Union[int, str], spatial: Sequence[int], kernel: int, stride: int):
    """Per-dimension (left, right) padding for an int or "same" / "valid" padding."""
    if padding == "same":
        return [same_padding(s, kernel, stride) for s in spatial]
    if padding == "valid":
        return [(0, 0) for _ in spatial]
    return [(int(padding), int(padding)) for _ in spatial]
