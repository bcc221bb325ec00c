"""Data sets of the runner: built-in loaders, the seeded split, standardisation, user files."""

import os
import subprocess
import sys

import numpy as np
import pytest

from hypsearch import HypError
from hypsearch.data import clear_cache, load_data
from hypsearch.data.split import split_indices
from hypsearch.dsl.vocabulary import data as D
from hypsearch.dsl.vocabulary.objective import python


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_cache()
    yield
    clear_cache()


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


# built-in sets ------------------------------------------------------------------------------------

@pytest.mark.parametrize("comp, shape", [
    (D.digits(), (64,)), (D.digits(image=True), (1, 8, 8)), (D.digits(sequence=True), (8, 8)),
])
def test_digits_views_have_flat_image_and_sequence_shapes(comp, shape):
    ds = load_data(comp)
    assert ds.x_train.shape == (1347,) + shape and ds.x_val.shape == (450,) + shape
    assert ds.info.input_shape == shape and ds.info.num_classes == 10


def test_digits_image_rows_are_the_sequence_tokens():
    image, seq = load_data(D.digits(image=True)), load_data(D.digits(sequence=True))
    np.testing.assert_array_equal(image.x_val[:, 0], seq.x_val)


def test_digits_with_image_and_sequence_together_is_an_error():
    with pytest.raises(HypError, match="image.*sequence"):
        load_data(D.digits(image=True, sequence=True))


@pytest.mark.parametrize("comp", [
    D.digits(), D.split_digits(tasks=3), D.permuted_digits(tasks=2), D.wine(), D.breast_cancer(), D.iris(),
    D.regression(samples=100, features=3, outputs=2),
], ids=lambda c: type(c).__name__)
def test_every_builtin_set_matches_its_declared_info(comp):
    ds = load_data(comp)
    assert ds.info == comp.info()
    assert ds.x_train.shape[1:] == ds.x_val.shape[1:] == comp.info().input_shape
    assert len(ds.x_train) == len(ds.y_train) and len(ds.x_val) == len(ds.y_val)
    assert ds.x_train.dtype == np.float32
    if ds.classification:
        assert ds.y_train.dtype == np.int64 and ds.y_train.max() < ds.info.num_classes
    else:
        assert ds.y_train.shape[1:] == (ds.info.outputs,)


def test_split_is_the_same_on_every_load_and_changes_with_the_seed():
    first = load_data(D.wine(seed=3))
    clear_cache()
    again = load_data(D.wine(seed=3))
    other = load_data(D.wine(seed=4))
    np.testing.assert_array_equal(first.x_val, again.x_val)
    np.testing.assert_array_equal(first.y_train, again.y_train)
    assert not np.array_equal(first.x_val, other.x_val)


def test_classification_split_is_stratified():
    ds = load_data(D.iris(val_fraction=0.2))
    assert np.bincount(ds.y_val).tolist() == [10, 10, 10]
    assert np.bincount(ds.y_train).tolist() == [40, 40, 40]


def test_split_indices_cover_every_sample_once():
    labels = np.repeat(np.arange(4), [5, 7, 9, 11])
    train, val = split_indices(len(labels), 0.3, seed=1, labels=labels)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(len(labels)))
    assert set(labels[val]) == {0, 1, 2, 3}


def test_val_fraction_outside_zero_one_is_an_error():
    with pytest.raises(HypError, match="val_fraction"):
        load_data(D.wine(val_fraction=1.0))


def test_tabular_features_are_standardised_with_training_statistics_only():
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer()
    train, val = split_indices(len(raw.target), 0.25, 0, labels=raw.target)
    mean, std = raw.data[train].mean(axis=0), raw.data[train].std(axis=0)
    ds = load_data(D.breast_cancer())
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1, atol=1e-4)
    np.testing.assert_allclose(ds.x_val, (raw.data[val] - mean) / std, rtol=1e-4, atol=1e-4)
    assert np.abs(ds.x_val.mean(axis=0)).max() > 1e-3  # validation statistics were not used


def test_digits_pixels_are_scaled_to_unit_range():
    ds = load_data(D.digits())
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0


def _digits_as_sklearn_gives_them():
    from sklearn.datasets import load_digits

    raw = load_digits()
    comp = D.digits()
    tr, va = split_indices(len(raw.target), comp.val_fraction, comp.seed, labels=raw.target)
    return (raw.data / 16.0).astype(np.float32), raw.target, tr, va


def test_digits_are_scikit_learns_digits_read_without_importing_scikit_learn():
    x, y, tr, va = _digits_as_sklearn_gives_them()
    ds = load_data(D.digits())
    assert np.array_equal(ds.x_train, x[tr]) and np.array_equal(ds.y_train, y[tr])
    assert np.array_equal(ds.x_val, x[va]) and np.array_equal(ds.y_val, y[va])
    # A fresh process that loads digits never imports scikit-learn (1.6 s a worker used to pay).
    code = ("import sys; from hypsearch.data import load_data; from hypsearch.dsl.vocabulary import data as D; "
            "d = load_data(D.digits()); print(len(d.y_train) + len(d.y_val), 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1797", "False"]


def test_digits_fall_back_to_load_digits_without_the_bundled_table(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name, *a))
    x, y, tr, va = _digits_as_sklearn_gives_them()
    ds = load_data(D.digits())
    assert np.array_equal(ds.x_train, x[tr]) and np.array_equal(ds.y_val, y[va])


def test_split_digits_task_t_holds_digits_2t_and_2t_plus_1_with_labels_kept():
    ds = load_data(D.split_digits(tasks=5))
    for y, task in ((ds.y_train, ds.task_train), (ds.y_val, ds.task_val)):
        np.testing.assert_array_equal(task, y // 2)
    assert set(ds.y_val.tolist()) == set(range(10))
    assert ds.tasks == 5 and np.bincount(ds.task_val).min() >= 85


def test_split_digits_with_fewer_tasks_keeps_only_their_digits():
    ds = load_data(D.split_digits(tasks=2))
    assert set(ds.y_train.tolist()) == {0, 1, 2, 3}


def test_split_digits_with_more_than_five_tasks_is_an_error():
    with pytest.raises(HypError, match="tasks must be 1-5"):
        load_data(D.split_digits(tasks=6))


def test_permuted_digits_tasks_permute_the_pixels_of_the_same_images():
    ds = load_data(D.permuted_digits(tasks=3))
    n = len(ds.x_val) // 3
    tasks = [ds.x_val[ds.task_val == t] for t in range(3)]
    labels = [ds.y_val[ds.task_val == t] for t in range(3)]
    assert all(len(x) == n for x in tasks)
    np.testing.assert_array_equal(labels[0], labels[2])
    np.testing.assert_array_equal(np.sort(tasks[0], axis=1), np.sort(tasks[2], axis=1))
    assert not np.array_equal(tasks[0], tasks[2])
    # one fixed permutation per task: the same column order maps every image of task 0 to task 2
    order0, order2 = np.argsort(tasks[0].var(axis=0)), np.argsort(tasks[2].var(axis=0))
    assert sorted(tasks[0].var(axis=0).round(6)) == sorted(tasks[2].var(axis=0).round(6))
    assert not np.array_equal(order0, order2)


def test_permuted_digits_validation_images_are_never_trained_on():
    ds = load_data(D.permuted_digits(tasks=2))
    train_rows = {row.tobytes() for row in np.sort(ds.x_train, axis=1)}
    assert not any(row.tobytes() in train_rows for row in np.sort(ds.x_val, axis=1)[:50] if row.any())


def test_regression_is_seeded_and_its_features_standardised():
    a = load_data(D.regression(samples=200, features=4, seed=1))
    clear_cache()
    b = load_data(D.regression(samples=200, features=4, seed=1))
    np.testing.assert_array_equal(a.y_val, b.y_val)
    np.testing.assert_allclose(a.x_train.mean(axis=0), 0, atol=1e-5)
    assert a.y_train.shape == (150, 1) and not a.classification


def test_loaded_sets_are_cached_and_read_only():
    first = load_data(D.iris())
    assert load_data(D.iris()) is first
    with pytest.raises(ValueError):
        first.x_train[0, 0] = 1.0


def test_tensors_have_torch_dtypes_and_are_reused():
    import torch

    ds = load_data(D.split_digits(tasks=2))
    x, y, task = ds.tensors("val")
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and task.dtype == torch.int64
    assert ds.tensors("val")[0] is x
    reg = load_data(D.regression(samples=40))
    assert reg.tensors("train")[1].dtype == torch.float32


def test_for_task_keeps_one_tasks_samples():
    one = load_data(D.split_digits(tasks=5)).for_task(3)
    assert set(one.y_train.tolist()) == {6, 7} and not one.multitask and one.info.num_classes == 10


# npz files -------------------------------------------------------------------------------------

def test_npz_validation_arrays_are_used_as_given_relative_to_base_dir(tmp_path):
    rng = np.random.default_rng(0)
    write_npz(tmp_path / "set.npz", x=rng.normal(size=(30, 5)), y=np.arange(30) % 3,
              x_val=rng.normal(size=(6, 5)), y_val=np.arange(6) % 3)
    ds = load_data(D.npz(path="set.npz"), base_dir=str(tmp_path))
    assert (len(ds.x_train), len(ds.x_val)) == (30, 6)
    assert ds.info.input_shape == (5,) and ds.info.num_classes == 3


def test_npz_without_validation_arrays_is_split_stratified(tmp_path):
    path = write_npz(tmp_path / "set.npz", x=np.arange(80.0).reshape(40, 2), y=np.repeat([0, 1], 20))
    ds = load_data(D.npz(path=path))
    assert np.bincount(ds.y_val).tolist() == [5, 5] and len(ds.x_train) == 30


def test_npz_regression_targets_get_an_output_dimension(tmp_path):
    write_npz(tmp_path / "r.npz", x=np.ones((10, 2, 3)), y=np.linspace(0, 1, 10))
    ds = load_data(D.npz(path="r.npz", classification=False), base_dir=str(tmp_path))
    assert ds.y_train.shape[1:] == (1,) and ds.info.input_shape == (2, 3) and ds.info.outputs == 1


def test_npz_task_ids_make_a_multitask_set(tmp_path):
    write_npz(tmp_path / "t.npz", x=np.ones((20, 2)), y=np.arange(20) % 2, task=np.arange(20) % 4)
    ds = load_data(D.npz(path="t.npz"), base_dir=str(tmp_path))
    assert ds.tasks == 4 and ds.multitask


def test_npz_missing_file_error_names_the_resolved_path(tmp_path):
    with pytest.raises(HypError, match=f"no such file {os.path.join(str(tmp_path), 'nope.npz')}"):
        load_data(D.npz(path="nope.npz"), base_dir=str(tmp_path))


def test_npz_without_y_lists_the_arrays_found(tmp_path):
    write_npz(tmp_path / "a.npz", x=np.ones((4, 2)), labels=np.zeros(4))
    with pytest.raises(HypError, match=r"missing array `y` \(found: labels, x\)"):
        load_data(D.npz(path="a.npz"), base_dir=str(tmp_path))


def test_npz_arrays_of_different_lengths_name_both_shapes(tmp_path):
    write_npz(tmp_path / "a.npz", x=np.ones((4, 2)), y=np.zeros(5, dtype=int))
    with pytest.raises(HypError, match=r"x \(4, 2\), y \(5,\)"):
        load_data(D.npz(path="a.npz"), base_dir=str(tmp_path))


def test_npz_x_val_without_y_val_is_an_error(tmp_path):
    write_npz(tmp_path / "a.npz", x=np.ones((4, 2)), y=np.zeros(4, dtype=int), x_val=np.ones((2, 2)))
    with pytest.raises(HypError, match="`x_val` is given without `y_val`"):
        load_data(D.npz(path="a.npz"), base_dir=str(tmp_path))


def test_npz_fractional_class_labels_are_an_error(tmp_path):
    write_npz(tmp_path / "a.npz", x=np.ones((4, 2)), y=np.array([0.5, 1, 0, 1]))
    with pytest.raises(HypError, match="integers >= 0"):
        load_data(D.npz(path="a.npz"), base_dir=str(tmp_path))


def test_npz_validation_shape_must_match_training_shape(tmp_path):
    write_npz(tmp_path / "a.npz", x=np.ones((4, 2)), y=np.zeros(4, dtype=int),
              x_val=np.ones((2, 3)), y_val=np.zeros(2, dtype=int))
    with pytest.raises(HypError, match=r"shape \(2,\) but x_val of shape \(3,\)"):
        load_data(D.npz(path="a.npz"), base_dir=str(tmp_path))


def test_a_file_that_is_not_npz_is_an_error(tmp_path):
    (tmp_path / "bad.npz").write_text("not a zip")
    with pytest.raises(HypError, match="cannot read"):
        load_data(D.npz(path="bad.npz"), base_dir=str(tmp_path))


def test_an_edited_npz_file_is_read_again(tmp_path):
    write_npz(tmp_path / "a.npz", x=np.ones((10, 2)), y=np.arange(10) % 2)
    first = load_data(D.npz(path="a.npz"), base_dir=str(tmp_path))
    write_npz(tmp_path / "a.npz", x=np.ones((20, 2)), y=np.arange(20) % 2)
    os.utime(tmp_path / "a.npz", ns=(1, 10**18))  # a distinct mtime even on a coarse clock
    again = load_data(D.npz(path="a.npz"), base_dir=str(tmp_path))
    assert len(first.x_train) + len(first.x_val) == 10 and len(again.x_train) + len(again.x_val) == 20


# python loaders --------------------------------------------------------------------------------

LOADERS_PY = '''
import numpy as np

def as_dict():
    x = np.arange(40, dtype=float).reshape(20, 2)
    return {"x": x, "y": np.arange(20) % 2, "x_val": x[:4], "y_val": np.array([0, 1, 0, 1])}

def as_tuple():
    return np.ones((12, 3)), np.linspace(0.0, 1.0, 12)

def broken():
    raise RuntimeError("disk on fire")

def wrong():
    return [1, 2, 3]
'''


@pytest.fixture
def loaders(tmp_path):
    (tmp_path / "loaders.py").write_text(LOADERS_PY)
    return str(tmp_path)


def test_python_loader_returning_a_dict(loaders):
    ds = load_data(python(ref="loaders.py:as_dict"), base_dir=loaders)
    assert (len(ds.x_train), len(ds.x_val)) == (20, 4) and ds.classification and ds.info.num_classes == 2


def test_python_loader_returning_a_tuple_of_float_targets_is_regression(loaders):
    ds = load_data(python(ref="loaders.py:as_tuple"), base_dir=loaders)
    assert not ds.classification and len(ds.x_train) + len(ds.x_val) == 12 and ds.info.input_shape == (3,)


def test_python_loader_that_raises_is_a_hyp_error_naming_it(loaders):
    with pytest.raises(HypError, match=r"python\('loaders.py:broken'\) raised RuntimeError: disk on fire"):
        load_data(python(ref="loaders.py:broken"), base_dir=loaders)


def test_python_loader_returning_something_else_is_an_error(loaders):
    with pytest.raises(HypError, match="must return a dict"):
        load_data(python(ref="loaders.py:wrong"), base_dir=loaders)


def test_loading_data_does_not_import_torch():
    code = ("import sys; from hypsearch.data import load_data; from hypsearch.dsl.vocabulary import data as D; "
            "load_data(D.wine()); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_unknown_data_component_is_an_error():
    from hypsearch.dsl.vocabulary.training import adam

    with pytest.raises(HypError, match="is not a data set"):
        load_data(adam())
