"""Loaders of image data on disk: `image_folder(path, size)` and the CIFAR python-pickle batches.

Nothing is downloaded: a missing folder or file is a `HypError` that says what to put where.
Images become float32 arrays (n, channels, size, size), standardised per channel with statistics
of the training split; the statistics travel with the `Dataset` (`normalization`) and with an
exported model, so a loaded model takes raw images scaled to [0, 1].
CIFAR batches are pickles: they are read with an unpickler that builds numpy arrays and nothing
else, so a file that is not one fails instead of running code.
"""

from __future__ import annotations

import os
import pickle
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from hypsearch.dsl.errors import HypError
from hypsearch.dsl.pyref import absolute
from hypsearch.dsl.vocabulary.data import DataInfo

from .dataset import Dataset
from .registry import data_loader
from .split import split_indices

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
CIFAR100_FILES = ("train", "test")
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"


def channel_normalize(x_train: np.ndarray, x_val: np.ndarray
                      ) -> Tuple[np.ndarray, np.ndarray, Tuple[np.ndarray, np.ndarray]]:
    """Both splits standardised per channel (axis 1) with training statistics, and (mean, std)."""
    axes = (0,) + tuple(range(2, x_train.ndim))
    mean = x_train.mean(axis=axes, dtype=np.float64)
    std = x_train.std(axis=axes, dtype=np.float64)
    std = np.where(std > 0, std, 1.0)
    shape = (-1,) + (1,) * (x_train.ndim - 2)  # broadcast over one sample (C, H, W)
    mean, std = mean.reshape(shape).astype(np.float32), std.reshape(shape).astype(np.float32)
    return (x_train - mean) / std, (x_val - mean) / std, (mean, std)


# ---- image_folder ------------------------------------------------------------------------------

def _folder(comp, base_dir: Optional[str]) -> str:
    return absolute(comp.path, base_dir)


def _class_dirs(root: str) -> List[str]:
    return sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith("."))


def _folder_files(comp, base_dir: Optional[str]) -> Tuple[str, ...]:
    # Folder stamps change when a file is added or removed below them: the cache reads again.
    root = _folder(comp, base_dir)
    if not os.path.isdir(root):
        return (root,)
    found = [root]
    for split in ("", "train", "val"):
        top = os.path.join(root, split) if split else root
        if os.path.isdir(top):
            found += [os.path.join(top, d) for d in _class_dirs(top)]
    return tuple(found)


@data_loader("image_folder", reads_files=True, files=_folder_files)
def load_image_folder(comp, base_dir: Optional[str] = None) -> Dataset:
    """image_folder(path, size): class-per-subfolder images; train/ and val/ inside, or split here."""
    root = _folder(comp, base_dir)
    where = f"image_folder({comp.path!r})"
    if not os.path.isdir(root):
        raise HypError(f"{where}: no such folder {root}; put one subfolder of images per class in it "
                       "(e.g. cat/1.png, dog/2.png), or train/<class>/... and val/<class>/...")
    if comp.size < 1:
        raise HypError(f"{where}: size must be >= 1, got {comp.size}")
    channels = 1 if comp.grayscale else 3
    has_split = os.path.isdir(os.path.join(root, "train")) and os.path.isdir(os.path.join(root, "val"))
    if has_split:
        classes = _class_dirs(os.path.join(root, "train"))
        x_tr, y_tr = _read_classes(os.path.join(root, "train"), classes, comp, where)
        extra = sorted(set(_class_dirs(os.path.join(root, "val"))) - set(classes))
        if extra:
            raise HypError(f"{where}: val/ has classes that train/ lacks: {', '.join(extra)}")
        x_va, y_va = _read_classes(os.path.join(root, "val"), classes, comp, where)
    else:
        classes = _class_dirs(root)
        x, y = _read_classes(root, classes, comp, where)
        tr, va = split_indices(len(y), comp.val_fraction, comp.seed, labels=y)
        x_tr, y_tr, x_va, y_va = x[tr], y[tr], x[va], y[va]
    if len(classes) < 2:
        raise HypError(f"{where}: found {len(classes)} class folder(s) in {root}; a classification set needs "
                       "at least 2 (one subfolder of images per class)")
    x_tr, x_va, stats = channel_normalize(x_tr, x_va)
    info = DataInfo((channels, comp.size, comp.size), len(classes))
    return Dataset(f"image_folder({os.path.basename(root)})", x_tr, y_tr, x_va, y_va, info,
                   normalization=stats, classes=tuple(classes))


def _read_classes(root: str, classes: Sequence[str], comp, where: str) -> Tuple[np.ndarray, np.ndarray]:
    from PIL import Image, UnidentifiedImageError

    mode = "L" if comp.grayscale else "RGB"
    images: List[np.ndarray] = []
    labels: List[int] = []
    for label, name in enumerate(classes):
        folder = os.path.join(root, name)
        if not os.path.isdir(folder):
            continue  # a val/ folder may lack a class
        files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))
        for f in files:
            path = os.path.join(folder, f)
            try:
                with Image.open(path) as im:
                    im = im.convert(mode)
                    if im.size != (comp.size, comp.size):
                        im = im.resize((comp.size, comp.size), Image.BILINEAR)
                    a = np.asarray(im, dtype=np.uint8)
            except (OSError, UnidentifiedImageError) as e:
                raise HypError(f"{where}: cannot read image {path}: {e}") from None
            images.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
            labels.append(label)
    if not images:
        raise HypError(f"{where}: no images ({', '.join(IMAGE_EXTENSIONS)}) in the class folders of {root}")
    x = np.stack(images).astype(np.float32) / 255.0
    return x, np.asarray(labels, dtype=np.int64)


# ---- CIFAR -------------------------------------------------------------------------------------

class _ArrayUnpickler(pickle.Unpickler):
    """Builds numpy arrays, lists, dicts, strings and numbers: nothing a pickle could run."""

    _ALLOWED = {"_reconstruct", "ndarray", "dtype", "scalar", "_frombuffer"}

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] == "numpy" and name in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a CIFAR batch")


def _cifar_root(comp, base_dir: Optional[str], files: Sequence[str], sub: str) -> str:
    root = absolute(comp.root, base_dir)
    nested = os.path.join(root, sub)
    if not os.path.exists(os.path.join(root, files[0])) and os.path.exists(os.path.join(nested, files[0])):
        return nested
    return root


def _cifar_files(files: Sequence[str], sub: str):
    def of(comp, base_dir: Optional[str]) -> Tuple[str, ...]:
        root = _cifar_root(comp, base_dir, files, sub)
        return tuple(os.path.join(root, f) for f in files)
    return of


def _read_batch(path: str, where: str) -> Dict[str, Any]:
    try:
        with open(path, "rb") as f:
            raw = _ArrayUnpickler(f, encoding="bytes").load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, AttributeError, ImportError) as e:
        raise HypError(f"{where}: cannot read {path} as a CIFAR python batch: {e}") from None
    if not isinstance(raw, dict):
        raise HypError(f"{where}: {path} is not a CIFAR python batch (a dict of data and labels)")
    return {k.decode() if isinstance(k, bytes) else str(k): v for k, v in raw.items()}


def _images(batch: Dict[str, Any], path: str, where: str) -> np.ndarray:
    data = np.asarray(batch.get("data"))
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise HypError(f"{where}: {path} holds `data` of shape {data.shape}; CIFAR batches hold (n, 3072) bytes")
    return data.reshape(-1, 3, 32, 32).astype(np.float32) / 255.0


def _labels(batch: Dict[str, Any], key: str, n: int, path: str, where: str) -> np.ndarray:
    if key not in batch:
        raise HypError(f"{where}: {path} has no `{key}` (found: {', '.join(sorted(batch))})")
    y = np.asarray(batch[key], dtype=np.int64)
    if y.shape != (n,):
        raise HypError(f"{where}: {path} has {len(y)} labels for {n} images")
    return y


def _missing(where: str, root: str, files: Sequence[str], archive: str, sub: str) -> HypError:
    return HypError(f"{where}: missing {', '.join(f for f in files if not os.path.exists(os.path.join(root, f)))} "
                    f"in {root}; nothing is downloaded: unpack {archive} (the python version, from {CIFAR_URL}) "
                    f"and give its {sub} folder, which holds {', '.join(files)}")


@data_loader("cifar10", reads_files=True, files=_cifar_files(CIFAR10_FILES, "cifar-10-batches-py"))
def load_cifar10(comp, base_dir: Optional[str] = None) -> Dataset:
    """cifar10(root): data_batch_1-5 train, test_batch validates; standardised per channel."""
    where = f"cifar10({comp.root!r})"
    root = _cifar_root(comp, base_dir, CIFAR10_FILES, "cifar-10-batches-py")
    if not all(os.path.exists(os.path.join(root, f)) for f in CIFAR10_FILES):
        raise _missing(where, root, CIFAR10_FILES, "cifar-10-python.tar.gz", "cifar-10-batches-py")
    parts = []
    for f in CIFAR10_FILES:
        path = os.path.join(root, f)
        batch = _read_batch(path, where)
        x = _images(batch, path, where)
        parts.append((x, _labels(batch, "labels", len(x), path, where)))
    x_tr = np.concatenate([p[0] for p in parts[:-1]])
    y_tr = np.concatenate([p[1] for p in parts[:-1]])
    return _cifar_set("cifar10", x_tr, y_tr, *parts[-1], comp.info(), where)


@data_loader("cifar100", reads_files=True, files=_cifar_files(CIFAR100_FILES, "cifar-100-python"))
def load_cifar100(comp, base_dir: Optional[str] = None) -> Dataset:
    """cifar100(root, coarse): `train` trains, `test` validates; fine (100) or coarse (20) labels."""
    where = f"cifar100({comp.root!r})"
    root = _cifar_root(comp, base_dir, CIFAR100_FILES, "cifar-100-python")
    if not all(os.path.exists(os.path.join(root, f)) for f in CIFAR100_FILES):
        raise _missing(where, root, CIFAR100_FILES, "cifar-100-python.tar.gz", "cifar-100-python")
    key = "coarse_labels" if comp.coarse else "fine_labels"
    parts = []
    for f in CIFAR100_FILES:
        path = os.path.join(root, f)
        batch = _read_batch(path, where)
        x = _images(batch, path, where)
        parts.append((x, _labels(batch, key, len(x), path, where)))
    return _cifar_set("cifar100", *parts[0], *parts[1], comp.info(), where)


def _cifar_set(name: str, x_tr, y_tr, x_va, y_va, info: DataInfo, where: str) -> Dataset:
    top = int(max(y_tr.max(), y_va.max()))
    if y_tr.min() < 0 or top >= info.num_classes:
        raise HypError(f"{where}: labels must be 0-{info.num_classes - 1}, found {int(y_tr.min())}-{top}")
    x_tr, x_va, stats = channel_normalize(x_tr, x_va)
    return Dataset(name, x_tr, y_tr, x_va, y_va, info, normalization=stats)
