"""`Dataset`: a loaded data set as numpy arrays (train and validation), its shape and tasks.

Loaders return one shared, read-only `Dataset` per data component (trials reuse it), so nothing
here mutates arrays; `tensors` makes torch copies on demand, cached per device.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Dict, Optional, Tuple

import numpy as np

from hypsearch.dsl.errors import HypError
from hypsearch.dsl.vocabulary.data import DataInfo

SPLITS = ("train", "val")


@dataclass(eq=False)
class Dataset:
    """Train and validation arrays of one data set, with task ids for multi-task sets.

    Classification labels are int64 of shape (n,); regression targets float32 of shape
    (n, outputs). Inputs are float32 of shape (n, *info.input_shape). `task_train` / `task_val`
    are int64 task ids per sample, or None for single-task sets. `normalization` is (mean, std),
    each broadcastable to one sample, when the loader standardised raw inputs with statistics of
    the training split: the arrays hold (raw - mean) / std, and an exported model applies the same
    to the raw inputs it is given. `classes` names the class labels when the files named them.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    info: DataInfo
    task_train: Optional[np.ndarray] = None
    task_val: Optional[np.ndarray] = None
    normalization: Optional[Tuple[np.ndarray, np.ndarray]] = None
    classes: Optional[Tuple[str, ...]] = None
    _tensors: Dict[Tuple[str, str], Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for a in (self.x_train, self.y_train, self.x_val, self.y_val, self.task_train, self.task_val):
            if a is not None:
                a.setflags(write=False)  # shared by every trial of the process

    @property
    def classification(self) -> bool:
        """Whether targets are class labels (False: regression)."""
        return self.info.num_classes is not None

    @property
    def tasks(self) -> int:
        """Number of tasks (1 for single-task sets)."""
        return self.info.tasks

    @property
    def multitask(self) -> bool:
        """Whether samples carry task ids."""
        return self.task_train is not None

    def arrays(self, split: str) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        """(x, y, task ids or None) of the "train" or "val" split."""
        if split == "train":
            return self.x_train, self.y_train, self.task_train
        if split == "val":
            return self.x_val, self.y_val, self.task_val
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")

    @property
    def nbytes(self) -> int:
        """Bytes the arrays of both splits take (what holding the set on a device costs)."""
        arrays = (self.x_train, self.y_train, self.x_val, self.y_val, self.task_train, self.task_val)
        return int(sum(a.nbytes for a in arrays if a is not None))

    def tensors(self, split: str, device: Any = "cpu") -> Tuple[Any, Any, Any]:
        """(x, y, task ids or None) of a split as torch tensors on `device` (imports torch)."""
        import torch

        key = (split, str(device))
        if key not in self._tensors:
            x, y, t = self.arrays(split)
            self._tensors[key] = (
                torch.tensor(x, dtype=torch.float32, device=device),
                torch.tensor(y, dtype=torch.int64 if self.classification else torch.float32, device=device),
                None if t is None else torch.tensor(t, dtype=torch.int64, device=device),
            )
        return self._tensors[key]

    def for_task(self, task: int) -> "Dataset":
        """The samples of one task only, as a single-task data set (labels unchanged)."""
        if not self.multitask:
            raise HypError(f"{self.name} has no tasks to select from")
        if not 0 <= task < self.tasks:
            raise HypError(f"task {task} is out of range: {self.name} has tasks 0-{self.tasks - 1}")
        tr, va = self.task_train == task, self.task_val == task
        return Dataset(
            name=f"{self.name}[task {task}]",
            x_train=self.x_train[tr], y_train=self.y_train[tr],
            x_val=self.x_val[va], y_val=self.y_val[va],
            info=replace(self.info, tasks=1), normalization=self.normalization, classes=self.classes,
        )

    def __repr__(self) -> str:
        tasks = f", tasks={self.tasks}" if self.multitask else ""
        kind = f"classes={self.info.num_classes}" if self.classification else f"outputs={self.info.outputs}"
        return (f"Dataset({self.name}: train={len(self.x_train)}, val={len(self.x_val)}, "
                f"input_shape={self.info.input_shape}, {kind}{tasks})")
