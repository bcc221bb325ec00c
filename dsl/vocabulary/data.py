"""Data sets and augmentations. A built-in data set knows its shape without loading (`info()`)
where it can, so the compiler can infer layer sizes from the program alone; the loaders, and the
tensor ops of the augmentations (the top-level `augment = [...]` list), live with the runner."""


from dataclasses import dataclass
from typing import Annotated, List, Optional, Tuple

import pyglove as pg

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


@builtin("data")
class image_folder(DataSet):
    """Images from a folder with one subfolder per class (PNG, JPEG, ...), resized to size x size."""

    __hyp_positional__ = True
    __hyp_path_fields__ = ("path",)

    path: Annotated[str, "the folder (train/ and val/ inside it, or one folder to split)"]
    size: Annotated[int, "side length the images are resized to"] = 32
    grayscale: Annotated[bool, "one channel instead of three (RGB)"] = False
    val_fraction: Annotated[float, "held-out fraction when there is no val/ folder"] = 0.2
    seed: Annotated[int, "seed of the train / validation split"] = 0

    def info(self) -> Optional[DataInfo]:
        return None  # the classes are the subfolders: only loading can tell


@builtin("data")
class cifar10(DataSet):
    """CIFAR-10 from a local folder of the python-pickle batches (data_batch_1-5, test_batch)."""

    __hyp_positional__ = True
    __hyp_path_fields__ = ("root",)

    root: Annotated[str, "the folder holding the batches (cifar-10-batches-py)"]

    def info(self) -> DataInfo:
        return DataInfo((3, 32, 32), 10)


@builtin("data")
class cifar100(DataSet):
    """CIFAR-100 from a local folder of the python-pickle files (train, test)."""

    __hyp_positional__ = True
    __hyp_path_fields__ = ("root",)

    root: Annotated[str, "the folder holding the files (cifar-100-python)"]
    coarse: Annotated[bool, "the 20 superclasses instead of the 100 classes"] = False

    def info(self) -> DataInfo:
        return DataInfo((3, 32, 32), 20 if self.coarse else 100)


@builtin("data")
class csv(DataSet):
    """A table from a CSV file with a header row: one column is the target, the others features.

    Numeric columns are standardised and their missing values imputed with the training median;
    other columns are categorical, one-hot encoded (a missing value is a category of its own).
    A target of text or of a few integers makes a classification set, otherwise regression.
    """

    __hyp_positional__ = True
    __hyp_path_fields__ = ("path",)

    path: Annotated[str, "the file, relative to the .hyp file"]
    target: Annotated[str, "the target column's name"] = "target"
    classification: Annotated[Optional[bool], "class labels (none: decided from the target column)"] = None
    drop: Annotated[List[str], "columns to leave out (ids, leaks)"] = []
    delimiter: Annotated[str, "the field separator"] = ","
    val_fraction: Annotated[float, "held-out fraction for validation"] = 0.25
    seed: Annotated[int, "seed of the train / validation split"] = 0


# ---- augmentations: the top-level `augment = [...]` list, applied to training batches ----------

class Augmentation(Component):
    """Base of augmentation components (applied on the trial's device, to training batches only)."""


@builtin("augment")
class random_crop(Augmentation):
    """Pad images by `padding` pixels (zeros) and crop back to their size at a random offset."""

    padding: Annotated[pg.typing.Int(min_value=0), "pixels of zero padding on each side"] = 4


@builtin("augment")
class flip(Augmentation):
    """Mirror images left-right with probability p."""

    p: Annotated[pg.typing.Float(min_value=0.0, max_value=1.0), "probability of mirroring a sample"] = 0.5


@builtin("augment")
class cutout(Augmentation):
    """Zero one random size x size square of each image."""

    size: Annotated[pg.typing.Int(min_value=1), "side of the square"] = 8


@builtin("augment")
class noise(Augmentation):
    """Add Gaussian noise to every input value (images or tabular features)."""

    std: Annotated[pg.typing.Float(min_value=0.0), "standard deviation, in normalised units"] = 0.1
