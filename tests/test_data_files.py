"""Data sets from disk (image folders, CIFAR python batches, CSV tables), made by each test, and the
CIFAR example run end to end on a tiny generated CIFAR-format folder."""

import os
import pickle
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import hypsearch
from hypsearch.data import clear_cache, load_data
from hypsearch.dsl.vocabulary import data as D
from hypsearch.runner.export import load_model

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "cifar10.hyp")


def write_cifar10(root, per_batch=8, seed=0):
    """A CIFAR-10 folder in the python-pickle format: 5 training batches and a test batch."""
    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        with open(os.path.join(root, name), "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data,
                         b"filenames": [b"x.png"] * per_batch}, f)
    return root


def write_image_folder(root, classes=("cat", "dog"), per_class=6, size=12, seed=0):
    """One subfolder of PNGs per class; class c is brighter in channel c, so it can be learned."""
    rng = np.random.default_rng(seed)
    for c, name in enumerate(classes):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            a = rng.integers(0, 100, (size, size, 3), dtype=np.uint8)
            a[..., c % 3] += 150
            Image.fromarray(a).save(os.path.join(root, name, f"{i}.png"))
    return root


# ---- image_folder ------------------------------------------------------------------------------

def test_image_folder_reads_one_class_per_subfolder_resized_and_standardised(tmp_path):
    write_image_folder(str(tmp_path / "imgs"), per_class=10, size=12)
    ds = load_data(D.image_folder(path=str(tmp_path / "imgs"), size=8))
    assert ds.classes == ("cat", "dog")
    assert ds.info.input_shape == (3, 8, 8) and ds.info.num_classes == 2
    assert len(ds.x_train) + len(ds.x_val) == 20
    assert np.allclose(ds.x_train.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    assert np.allclose(ds.x_train.std(axis=(0, 2, 3)), 1, atol=1e-3)
    mean, std = ds.normalization
    assert mean.shape == (3, 1, 1) and std.shape == (3, 1, 1)


def test_image_folder_uses_train_and_val_subfolders_when_present(tmp_path):
    write_image_folder(str(tmp_path / "d" / "train"), per_class=4)
    write_image_folder(str(tmp_path / "d" / "val"), per_class=2, seed=1)
    ds = load_data(D.image_folder(path=str(tmp_path / "d"), size=12, grayscale=True))
    assert (len(ds.x_train), len(ds.x_val)) == (8, 4)
    assert ds.info.input_shape == (1, 12, 12)


def test_a_missing_image_folder_says_what_to_put_there(tmp_path):
    with pytest.raises(hypsearch.HypError, match=r"no such folder .*one subfolder of images per class"):
        load_data(D.image_folder(path=str(tmp_path / "nowhere")))


# ---- CIFAR -------------------------------------------------------------------------------------

def test_cifar10_reads_the_five_training_batches_and_validates_on_the_test_batch(tmp_path):
    write_cifar10(str(tmp_path / "cifar-10-batches-py"), per_batch=6)
    ds = load_data(D.cifar10(root=str(tmp_path)))  # the folder above cifar-10-batches-py works too
    assert ds.x_train.shape == (30, 3, 32, 32) and ds.x_val.shape == (6, 3, 32, 32)
    assert ds.info.num_classes == 10 and ds.y_train.dtype == np.int64


def test_a_missing_cifar_folder_names_the_files_and_where_they_come_from(tmp_path):
    with pytest.raises(hypsearch.HypError, match=r"missing data_batch_1.*test_batch.*nothing is downloaded.*"
                       r"cifar-10-python.tar.gz"):
        load_data(D.cifar10(root=str(tmp_path)))


def test_cifar100_reads_fine_or_coarse_labels(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("train", "test"):
        with open(tmp_path / name, "wb") as f:
            pickle.dump({b"data": rng.integers(0, 256, (5, 3072), dtype=np.uint8),
                         b"fine_labels": [99, 1, 2, 3, 4], b"coarse_labels": [19, 0, 1, 2, 3]}, f)
    assert load_data(D.cifar100(root=str(tmp_path))).info.num_classes == 100
    coarse = load_data(D.cifar100(root=str(tmp_path), coarse=True))
    assert coarse.info.num_classes == 20 and int(coarse.y_train.max()) == 19


def test_a_cifar_batch_that_would_run_code_is_refused(tmp_path):
    write_cifar10(str(tmp_path), per_batch=2)
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({b"data": os.system}, f)  # a pickle that names a function to call
    with pytest.raises(hypsearch.HypError, match=r"cannot read .*test_batch as a CIFAR python batch"):
        load_data(D.cifar10(root=str(tmp_path)))


# ---- csv ---------------------------------------------------------------------------------------

CSV = """id,age,city,score,label
1,30,paris,1.5,yes
2,,london,2.5,no
3,50,paris,,yes
4,40,,3.0,no
5,35,rome,2.0,yes
6,45,london,1.0,no
7,25,paris,2.2,yes
8,55,rome,0.5,no
"""


def test_csv_one_hot_encodes_text_columns_imputes_missing_values_and_reads_text_labels(tmp_path):
    (tmp_path / "t.csv").write_text(CSV)
    ds = load_data(D.csv(path=str(tmp_path / "t.csv"), target="label", drop=["id"], val_fraction=0.25))
    # age and score (numeric) + city one-hot over the training categories (a missing city is one)
    assert ds.classification and ds.classes == ("no", "yes")
    assert ds.x_train.shape[1] >= 2 + 3 and np.isfinite(ds.x_train).all() and np.isfinite(ds.x_val).all()
    assert np.allclose(ds.x_train.mean(axis=0), 0, atol=1e-5)
    assert len(ds.x_train) + len(ds.x_val) == 8


def test_csv_with_a_numeric_target_of_many_values_is_regression(tmp_path):
    rows = ["a,b,y"] + [f"{i},{i % 3},{i * 0.37:.2f}" for i in range(30)]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    ds = load_data(D.csv(path=str(tmp_path / "r.csv"), target="y"))
    assert not ds.classification and ds.y_train.shape[1] == 1


def test_csv_with_an_unknown_target_suggests_the_column(tmp_path):
    (tmp_path / "t.csv").write_text(CSV)
    with pytest.raises(hypsearch.HypError, match=r"no target column `lable`.*did you mean `label`"):
        load_data(D.csv(path=str(tmp_path / "t.csv"), target="lable"))


# ---- the exported model takes raw inputs --------------------------------------------------------

def test_a_trained_image_model_predicts_on_raw_images_after_load_model(tmp_path):
    folder = write_image_folder(str(tmp_path / "imgs"), per_class=8, size=8)
    (tmp_path / "s.hyp").write_text(
        f'data = image_folder("{folder}", size = 8)\n'
        "target = sequential(conv2d(out = 4), relu(), global_avgpool(), linear(out = 2))\n"
        "train = train(epochs = 1, batch_size = 8)\n")
    exp = hypsearch.run(str(tmp_path / "s.hyp"), executor="inline", trials=1, algo="random", seed=0,
                        out=str(tmp_path / "exp"))
    model = load_model(str(tmp_path / "exp" / "best.pt"))
    ds = load_data(D.image_folder(path=folder, size=8))
    mean, std = ds.normalization
    raw = torch.tensor(ds.x_val * std + mean)  # the images as [0, 1] pixels
    trained = hypsearch.build(hypsearch.loads((tmp_path / "exp" / "best.hyp").read_text(),
                                              filename=str(tmp_path / "exp" / "best.hyp")).sample(),
                              input_shape=(3, 8, 8))
    trained.load_state_dict(model.model.state_dict())
    trained.eval()
    with torch.no_grad():
        assert torch.allclose(model(raw), trained(torch.tensor(ds.x_val)), atol=1e-5)


# ---- the example -------------------------------------------------------------------------------

def test_the_cifar10_example_runs_end_to_end_on_a_tiny_cifar_folder(tmp_path):
    clear_cache()
    write_cifar10(str(tmp_path / "cifar-10-batches-py"), per_batch=8)
    text = open(EXAMPLE).read()
    assert "epochs = 30" in text and "batch_size = oneof(128, 256)" in text
    # The example as written, shrunk to one epoch of small batches for a CPU test.
    text = text.replace("epochs = 30", "epochs = 1").replace("batch_size = oneof(128, 256)", "batch_size = 16")
    text = text.replace('precision = "bf16"', 'precision = "fp32"')
    # An absolute path: the experiment directory copies the .hyp file but not its data folder.
    text = text.replace('cifar10("cifar-10-batches-py")', f'cifar10("{tmp_path / "cifar-10-batches-py"}")')
    (tmp_path / "cifar10.hyp").write_text(text)
    exp = hypsearch.run(str(tmp_path / "cifar10.hyp"), executor="inline", trials=2, algo="random", seed=3,
                        out=str(tmp_path / "exp"))
    statuses = [t.status.value for t in exp.trials]
    assert len(exp.trials) == 2 and statuses == ["ok", "ok"], [t.error for t in exp.trials]
    assert all(0.0 <= t.value <= 1.0 for t in exp.trials)
    assert os.path.exists(tmp_path / "exp" / "best.pt")
    shutil.rmtree(tmp_path / "exp")
