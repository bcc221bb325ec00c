"""One trial: training with the program's recipe, per-epoch reports, objectives and failure statuses."""

import numpy as np
import pytest
import torch
from torch import nn

import hypsearch
from hypsearch import HypError
from hypsearch.data import load_data
from hypsearch.dsl.vocabulary import Program
from hypsearch.dsl.vocabulary import data as D
from hypsearch.dsl.vocabulary import hypernet as H
from hypsearch.dsl.vocabulary import layers as L
from hypsearch.dsl.vocabulary import structure as S
from hypsearch.dsl.vocabulary import training as T
from hypsearch.dsl.vocabulary.objective import maximize, minimize, python
from hypsearch.runner.errors import TrialFailed, TrialInvalid
from hypsearch.runner.train import fit, make_optimizer, metric_names
from hypsearch.runner.trial import evaluate


@hypsearch.component
class poison(nn.Module):
    """Breaks training on purpose (NaN outputs or an exception in forward); inert in eval mode,
    where the compiler probes its output shape."""

    def __init__(self, mode: str = "nan"):
        super().__init__()
        self.mode = mode

    def forward(self, x):
        if not self.training:
            return x
        if self.mode == "raise":
            raise RuntimeError("poisoned forward")
        if self.mode == "oom":
            raise MemoryError("cannot allocate 80 GiB")
        return x * float("nan")


@hypsearch.component
class unbuildable(nn.Module):
    """A layer whose lowering rejects its arguments."""

    def __init__(self, width: int = 0):
        raise HypError(f"unbuildable: width must be > 0, got {width}")


Poison = poison.__hyp_component__
Unbuildable = unbuildable.__hyp_component__


def mlp(out=3, hidden=16, *extra):
    return S.sequential(layers=[L.linear(out=hidden), L.relu(), L.linear(out=out), *extra])


def program(target=None, data=None, epochs=2, objective=None, **train):
    return Program(target=target if target is not None else mlp(), data=data if data is not None else D.iris(),
                   train=T.train(epochs=epochs, batch_size=train.pop("batch_size", 32), **train),
                   objective=objective)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only add overhead on a shared machine
    yield
    torch.set_num_threads(threads)


# training through evaluate ---------------------------------------------------------------------

def test_report_is_called_once_per_epoch_with_the_objective_value():
    reports = []
    result = evaluate(program(epochs=3), report=reports.append)
    assert [r["epoch"] for r in reports] == [1, 2, 3]
    assert all(r["objective"] == r["val_accuracy"] for r in reports)
    assert result.value == reports[-1]["val_accuracy"] and result.mode == "max"
    assert isinstance(result.model, nn.Module) and result.budget == 1.0 and not result.stopped


def test_history_reports_losses_and_accuracy_every_epoch():
    result = evaluate(program(epochs=2))
    assert len(result.history) == 2
    assert list(result.history[0]) == metric_names(load_data(D.iris()).info, multitask=False)
    assert result.metrics == result.history[-1]
    assert 0.0 <= result.metrics["val_accuracy"] <= 1.0 and result.metrics["train_loss"] > 0


def test_training_improves_on_a_real_data_set():
    result = evaluate(program(epochs=12, optimizer=T.adam(lr=0.01)))
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]
    assert result.value > 0.8


def test_same_seed_gives_the_same_history_and_another_seed_does_not():
    from hypsearch.runner.measure import MEASURED

    def trained(history):  # the timed forwards of the last epoch are wall-clock figures
        return [{k: v for k, v in epoch.items() if k not in MEASURED} for epoch in history]

    first = trained(evaluate(program(seed=5)).history)
    again = trained(evaluate(program(seed=5)).history)
    other = trained(evaluate(program(seed=6)).history)
    assert first == again
    assert first != other


def test_multitask_set_reports_per_task_accuracies_and_their_mean():
    result = evaluate(program(target=mlp(out=10), data=D.split_digits(tasks=2), epochs=1))
    m = result.metrics
    assert {"val_accuracy_task0", "val_accuracy_task1"} <= set(m)
    assert m["val_accuracy"] == pytest.approx((m["val_accuracy_task0"] + m["val_accuracy_task1"]) / 2)


def test_regression_reports_val_mse_and_is_minimised_by_default():
    result = evaluate(program(target=mlp(out=1), data=D.regression(samples=200, features=4), epochs=2))
    assert result.mode == "min" and result.objective == "val_loss"
    assert result.metrics["val_mse"] == pytest.approx(result.metrics["val_loss"])
    assert "val_r2" in result.metrics


def test_minimize_a_named_metric():
    result = evaluate(program(objective=minimize(metric="val_loss")))
    assert result.mode == "min" and result.value == result.metrics["val_loss"]


def test_unknown_metric_is_an_error_listing_the_reported_ones():
    with pytest.raises(HypError, match=r"`val_acc` is not reported.*val_loss, val_accuracy"):
        evaluate(program(objective=maximize(metric="val_acc")))


def test_nan_loss_fails_the_trial():
    with pytest.raises(TrialFailed, match="train_loss is nan at epoch 1"):
        evaluate(program(target=mlp(3, 16, Poison(mode="nan"))))


def test_exception_in_the_program_fails_the_trial_with_its_message():
    with pytest.raises(TrialFailed, match="RuntimeError: poisoned forward") as info:
        evaluate(program(target=mlp(3, 16, Poison(mode="raise"))))
    assert "poisoned forward" in info.value.traceback


def test_running_out_of_memory_fails_the_trial_saying_so():
    with pytest.raises(TrialFailed, match="out of memory: MemoryError"):
        evaluate(program(target=mlp(3, 16, Poison(mode="oom"))))


def test_output_that_does_not_fit_the_classes_is_invalid():
    with pytest.raises(TrialInvalid, match=r"3 classes.*linear\(out = 3\)"):
        evaluate(program(target=mlp(out=2)))


def test_output_that_does_not_fit_a_files_classes_is_invalid(tmp_path):
    np.savez(tmp_path / "three.npz", x=np.ones((40, 4)), y=np.arange(40) % 3)
    bad = Program(target=mlp(out=2), data=D.npz(path="three.npz"), train=T.train(epochs=1, batch_size=16),
                  source=str(tmp_path / "space.hyp"))
    with pytest.raises(TrialInvalid, match=r"needs \(16, 3\) class scores.*linear\(out = 3\)"):
        evaluate(bad)


def test_task_conditioned_hypernetwork_trains_on_all_tasks_jointly():
    hyper = H.hypernet(input=H.task_embedding(dim=4), body=H.mlp(hidden=[16]), head=H.full())
    result = evaluate(Program(target=mlp(out=10), hypernet=hyper, data=D.split_digits(tasks=3),
                              train=T.train(epochs=2, optimizer=T.adam(lr=0.01))))
    accs = [result.metrics[f"val_accuracy_task{t}"] for t in range(3)]
    assert result.value == pytest.approx(sum(accs) / 3)
    assert min(accs) > 0.8  # every task is learned, through the weights generated for it


def test_program_that_cannot_be_built_is_invalid():
    with pytest.raises(TrialInvalid, match="width must be > 0"):
        evaluate(program(target=S.sequential(layers=[Unbuildable(width=0)])))


def test_program_without_a_target_is_invalid():
    with pytest.raises(TrialInvalid, match="no `target`"):
        evaluate(Program(data=D.iris()))


def test_should_stop_ends_training_early_with_its_budget():
    result = evaluate(program(epochs=4), should_stop=lambda: True)
    assert result.stopped and len(result.history) == 1 and result.budget == 0.25


def test_an_exception_from_report_passes_through_unchanged():
    class Stop(BaseException):
        pass

    def report(metrics):
        raise Stop()

    with pytest.raises(Stop):
        evaluate(program(), report=report)


# Python objectives -----------------------------------------------------------------------------

OBJECTIVES_PY = '''
def number(program):
    return program.params["x"] * 2

def metrics(program):
    return {"value": 0.25, "loss": 3.0}

def unnamed(program):
    return {"a": 1.0, "b": 2.0}

def broken(program):
    raise ValueError("bad program " + str(program.params["x"]))

def nan(program):
    return float("nan")
'''


@pytest.fixture
def objectives(tmp_path):
    (tmp_path / "objectives.py").write_text(OBJECTIVES_PY)
    return tmp_path


def scored(fn, objectives, mode=maximize):
    return Program(objective=mode(metric=python(ref=f"objectives.py:{fn}")), params={"x": 21},
                   source=str(objectives / "space.hyp"))


def test_python_objective_returning_a_number_replaces_training(objectives):
    reports = []
    result = evaluate(scored("number", objectives), report=reports.append)
    assert result.value == 42.0 and result.model is None and result.mode == "max"
    assert reports == [{"value": 42.0, "objective": 42.0}]


def test_python_objective_returning_a_dict_uses_its_value_entry(objectives):
    result = evaluate(scored("metrics", objectives, minimize))
    assert result.value == 0.25 and result.mode == "min" and result.metrics == {"value": 0.25, "loss": 3.0}


def test_python_objective_dict_without_a_value_fails_naming_its_keys(objectives):
    with pytest.raises(TrialFailed, match="without a `value` entry.*keys: a, b"):
        evaluate(scored("unnamed", objectives))


def test_python_objective_exception_fails_the_trial_with_its_message(objectives):
    with pytest.raises(TrialFailed, match="objectives.py:broken raised ValueError: bad program 21"):
        evaluate(scored("broken", objectives))


def test_python_objective_returning_nan_fails(objectives):
    with pytest.raises(TrialFailed, match="returned nan"):
        evaluate(scored("nan", objectives))


# the loop itself -------------------------------------------------------------------------------

class TaskModel(nn.Module):
    """Records the task ids it is called with."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 10)
        self.tasks_seen = set()

    def forward(self, x, task=None):
        self.tasks_seen.update(task.tolist())
        return self.embed(task) + x[:, :10]


def test_task_conditioned_models_get_each_samples_task_id():
    model = TaskModel()
    fit(model, load_data(D.split_digits(tasks=3)), T.train(epochs=1, batch_size=256), task_input=True)
    assert model.tasks_seen == {0, 1, 2}


class AuxModel(nn.Module):
    """A classifier with a load-balancing style penalty on a parameter the task loss never uses."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(4, 3)
        self.balance = nn.Parameter(torch.tensor(5.0))

    def forward(self, x):
        return self.head(x)

    def aux_loss(self):
        return self.balance ** 2


def test_aux_loss_is_added_to_the_training_loss():
    model = AuxModel()
    fit(model, load_data(D.iris()), T.train(epochs=3, optimizer=T.sgd(lr=0.1, momentum=0.0)))
    assert abs(model.balance.item()) < 2.0  # from 5.0; without the penalty it never moves


def test_clip_bounds_the_gradient_norm_of_each_step():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    recipe = T.train(epochs=1, batch_size=1000, clip=0.01, optimizer=T.sgd(lr=1.0, momentum=0.0))
    fit(model, load_data(D.iris()), recipe)  # one step: the update is lr * clipped gradient
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert (after - before).norm().item() == pytest.approx(0.01, rel=1e-3)


def test_optimizers_take_their_options_and_the_recipes_weight_decay():
    params = list(nn.Linear(2, 2).parameters())
    adam = make_optimizer(T.adam(lr=0.02, betas=[0.8, 0.9]), params, weight_decay=0.1)
    assert isinstance(adam, torch.optim.Adam)
    assert adam.defaults["betas"] == (0.8, 0.9) and adam.defaults["weight_decay"] == 0.1
    sgd = make_optimizer(T.sgd(lr=0.1, momentum=0.5, nesterov=True), params)
    assert sgd.defaults["nesterov"] and sgd.defaults["momentum"] == 0.5
    assert make_optimizer(T.adamw(weight_decay=0.03), params).defaults["weight_decay"] == 0.03
    assert make_optimizer(T.adamw(weight_decay=0.03), params, 0.2).defaults["weight_decay"] == 0.2


def test_bad_optimizer_settings_are_errors_naming_the_field():
    params = list(nn.Linear(2, 2).parameters())
    with pytest.raises(HypError, match="adam: lr must be > 0"):
        make_optimizer(T.adam(lr=0.0), params)
    with pytest.raises(HypError, match="nesterov = true needs momentum > 0"):
        make_optimizer(T.sgd(momentum=0.0, nesterov=True), params)


def test_nan_loss_in_fit_keeps_the_epochs_before_it():
    class LateNaN(nn.Linear):
        def forward(self, x):
            out = super().forward(x)
            return out * float("nan") if self.calls_left == 0 else out

    model = LateNaN(4, 3)
    model.calls_left = 1

    def report(metrics):
        model.calls_left = 0

    with pytest.raises(TrialFailed) as info:
        fit(model, load_data(D.iris()), T.train(epochs=3), report=report)
    assert [m["epoch"] for m in info.value.history] == [1]


def test_task_conditioned_hypernetwork_on_multitask_npz_data_gets_the_task_count(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 4)).astype(np.float32)
    task = np.arange(90) % 3
    y = (x[:, 0] * (task - 1) > 0).astype(np.int64)  # each task wants another sign
    np.savez(tmp_path / "tasks.npz", x=x, y=y, task=task)
    p = Program(target=mlp(out=2), data=D.npz(path=str(tmp_path / "tasks.npz")),
                hypernet=H.hypernet(input=H.task_embedding(dim=4)), train=T.train(epochs=1, batch_size=16))
    result = evaluate(p)
    assert result.model.tasks == 3
    assert {f"val_accuracy_task{t}" for t in range(3)} <= set(result.metrics)
