"""Data sets. Each built-in one knows its shape without loading (`info()`), so the compiler can
infer layer sizes from the program alone; the loaders themselves live with the runner."""


from dataclasses import dataclass
from typing import Annotated, Optional, Tuple

from ..registry import Component, builtin


@dataclass(frozen=True)
class DataInfo:
    """What a data set looks like: per-sample input shape, outputs, tasks."""

    input_shape: Tuple[int, ...]
    num_classes: Optional[int]  # None for regression
    tasks: int = 1
    outputs: int = 1  # regression targets

    @property
    def out_features(self) -> int:
        return self.num_classes if self.num_classes is not None else self.outputs


class DataSet(Component):
    """Base of data-set components."""

    def info(self) -> Optional[DataInfo]:
        """Shape and classes without loading, or None when only loading can tell."""
        return None


@builtin("data")
class digits(DataSet):
    """scikit-learn's 8x8 digits (1,797 samples, 10 classes)."""

    image: Annotated[bool, "shape 1x8x8 instead of 64 flat features"] = False
    sequence: Annotated[bool, "8 tokens of 8 features (rows as a sequence)"] = False
    val_fraction: Annotated[float, "held-out fraction for validation"] = 0.25
    seed: Annotated[int, "seed of the train / validation split"] = 0

    def info(self) -> DataInfo:
        shape = (1, 8, 8) if self.image else (8, 8) if self.sequence else (64,)
        return DataInfo(shape, 10)


@builtin("data")
class split_digits(DataSet):
    """Digits split into tasks of 2 classes each (the split protocol; labels stay 0-9)."""

    tasks: Annotated[int, "number of tasks (1-5)"] = 5
    val_fraction: Annotated[float, "held-out fraction for validation"] = 0.25
    seed: Annotated[int, "seed of the train / validation split"] = 0

    def info(self) -> DataInfo:
        return DataInfo((64,), 10, tasks=self.tasks)


@builtin("data")
class permuted_digits(DataSet):
    """Digits where each task applies its own fixed pixel permutation."""

    tasks: Annotated[int, "number of tasks"] = 5
    val_fraction: Annotated[float, "held-out fraction for validation"] = 0.25
    seed: Annotated[int, "seed of the split and the permutations"] = 0

    def info(self) -> DataInfo:
        return DataInfo((64,), 10, tasks=self.tasks)


@builtin("data")
class wine(DataSet):
    """scikit-learn's wine recognition set (178 samples, 13 features, 3 classes)."""

    val_fraction: Annotated[float, "held-out fraction for validation"] = 0.25
    seed: Annotated[int, "seed of the train / validation split"] = 0

    def info(self) -> DataInfo:
        return DataInfo((13,), 3)


@builtin("data")
class breast_cancer(DataSet):
    """scikit-learn's breast cancer set (569 samples, 30 features, 2 classes)."""

    val_fraction: Annotated[float, "held-out fraction for validation"] = 0.25
    seed: Annotated[int, "seed of the train / validation split"] = 0

    def info(self) -> DataInfo:
        return DataInfo((30,), 2)


@builtin("data")
class iris(DataSet):
    """scikit-learn's iris set (150 samples, 4 features, 3 classes)."""

    val_fraction: Annotated[float, "held-out fraction for validation"] = 0.25
    seed: Annotated[int, "seed of the train / validation split"] = 0

    def info(self) -> DataInfo:
        return DataInfo((4,), 3)


@builtin("data")
class regression(DataSet):
    """A synthetic nonlinear regression set."""

    samples: Annotated[int, "number of samples"] = 1024
    features: Annotated[int, "input features"] = 8
    outputs: Annotated[int, "regression targets"] = 1
    noise: Annotated[float, "standard deviation of the added noise"] = 0.1
    val_fraction: Annotated[float, "held-out fraction for validation"] = 0.25
    seed: Annotated[int, "seed of the data and the split"] = 0

    def info(self) -> DataInfo:
        return DataInfo((self.features,), None, outputs=self.outputs)


@builtin("data")
class npz(DataSet):
    """Arrays `x`, `y` (and optionally `x_val`, `y_val`) from a `.npz` file."""

    __hyp_positional__ = True
    __hyp_path_fields__ = ("path",)  # stored absolute, printed relative to the .hyp file

    path: Annotated[str, "the file, relative to the .hyp file"]
    classification: Annotated[bool, "integer class labels (false: regression targets)"] = True
    val_fraction: Annotated[float, "held-out fraction when x_val is absent"] = 0.25
    seed: Annotated[int, "seed of the train / validation split"] = 0
