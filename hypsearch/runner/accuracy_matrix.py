"""The accuracy matrix of a sequential training regime as text (`hypsearch show`) or an image.

A[i][j] is the accuracy on task j after training task i (see `regimes`); the matrix is lower
triangular in what it means (a task not yet trained has a chance-level accuracy) and printed
whole, with the final average accuracy and the forgetting of its last row beneath. A trial that a
scheduler stopped (ASHA on Ray) keeps the matrix of its last reported epoch: the rows of the tasks
it finished and the one it was training, which the table marks.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence


def summary(matrix: Sequence[Sequence[float]]) -> tuple:
    """(final average accuracy, forgetting) of a full matrix: the last row's mean, and the mean
    drop from A[j][j] to A[T-1][j] over the earlier tasks j."""
    last = list(matrix[-1])
    drops = [matrix[j][j] - last[j] for j in range(min(len(matrix) - 1, len(last)))]
    return sum(last) / len(last), (sum(drops) / len(drops) if drops else 0.0)


def table(matrix: Sequence[Sequence[float]], stopped_at: Optional[int] = None) -> str:
    """The matrix as a fixed-width table: a row per trained task, a column per evaluated task.
    `stopped_at`: the epoch a trial was stopped after (a scheduler's stop), whose last row is the
    task then in training, marked, and whose summary is left out (the sequence never ended)."""
    width = len(matrix[-1])
    lines = ["accuracy matrix (row: after training task i; column: accuracy on task j)",
             "after  " + " ".join(f"{'t' + str(j):>6}" for j in range(width))]
    for i, row in enumerate(matrix):
        cells = " ".join(f"{v:6.3f}" if isinstance(v, (int, float)) and math.isfinite(v) else f"{'-':>6}"
                         for v in row)
        mark = "*" if stopped_at is not None and i == len(matrix) - 1 else " "
        lines.append(f"{'t' + str(i):>5}{mark} {cells}")
    if stopped_at is not None:
        lines.append(f"* stopped after epoch {stopped_at}, while training task {len(matrix) - 1}: "
                     "its accuracies at that epoch")
    elif len(matrix) == width:
        acc, forgetting = summary(matrix)
        lines.append(f"final average accuracy {acc:.4f}, forgetting {forgetting:.4f}")
    return "\n".join(lines)


def draw(matrix: Sequence[Sequence[float]], path: str, title: str = "") -> str:
    """Write the matrix as a heat map with its values (PNG, SVG or PDF by the path's suffix)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    a = np.array([[float(v) for v in row] for row in matrix], dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * a.shape[1], 1.0 + 0.5 * a.shape[0]))
    ax.imshow(a, vmin=0.0, vmax=1.0, cmap="viridis")
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            ax.text(j, i, f"{a[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if a[i, j] < 0.6 else "black")
    ax.set_xlabel("accuracy on task j")
    ax.set_ylabel("after training task i")
    ax.set_xticks(range(a.shape[1]))
    ax.set_yticks(range(a.shape[0]))
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
