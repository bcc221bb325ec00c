"""The training recipe: schedules, precision, losses, gradient accumulation, early stopping,
augmentation, the two data paths, checkpoints and compilation, on small real data and models."""

import numpy as np
import pytest
import torch

import hypsearch
from hypsearch.data import DataInfo, Dataset, load_data
from hypsearch.dsl.vocabulary import data as D
from hypsearch.runner.augment import make_augment
from hypsearch.runner.schedules import make_scheduler
from hypsearch.runner.train import data_plan, fit


def same(a, b):
    """Two histories agree epoch by epoch, metric by metric (to float rounding)."""
    assert [sorted(h) for h in a] == [sorted(h) for h in b]
    for ha, hb in zip(a, b):
        for k in ha:
            assert ha[k] == pytest.approx(hb[k], rel=1e-5, abs=1e-6), (ha["epoch"], k)
    return True


def recipe(text="train()"):
    return hypsearch.loads(f"train = {text}").sample().train


def images(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, 6, 6)).astype(np.float32)
    y = (x[:, 0, :3].mean(axis=(1, 2)) > 0).astype(np.int64)
    return Dataset("imgs", x[: n * 3 // 4], y[: n * 3 // 4], x[n * 3 // 4:], y[n * 3 // 4:], DataInfo((1, 6, 6), 2))


def conv_net():
    program = hypsearch.loads("target = sequential(conv2d(out = 4), relu(), global_avgpool(), linear(out = 2))")
    return hypsearch.build(program.sample(), input_shape=(1, 6, 6))


def mlp(inputs=64, out=10):
    return hypsearch.build(hypsearch.loads(f"target = sequential(linear(out = 16), relu(), linear(out = {out}))")
                           .sample(), input_shape=(inputs,))


def lrs(schedule, steps_per_epoch=10, epochs=3):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make_scheduler(recipe(f"train(schedule = {schedule})").schedule, opt, steps_per_epoch, epochs)
    out = []
    for _ in range(steps_per_epoch * epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


# ---- schedules ---------------------------------------------------------------------------------

def test_cosine_warms_up_linearly_then_decays_to_its_final_fraction():
    lr = lrs("cosine(warmup = 1, final = 0.1)")
    assert lr[:3] == pytest.approx([0.1, 0.2, 0.3])
    assert lr[9] == pytest.approx(1.0) and max(lr) == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lr[10:], lr[11:]))
    assert lr[-1] == pytest.approx(0.1, abs=0.01)


def test_step_multiplies_the_lr_by_gamma_every_few_epochs():
    lr = lrs("step(every = 1, gamma = 0.5)")
    assert (lr[0], lr[10], lr[20]) == pytest.approx((1.0, 0.5, 0.25))


def test_onecycle_rises_from_lr_over_div_to_lr_and_anneals_far_below():
    lr = lrs("onecycle(peak = 0.3, div = 10, final_div = 100)")
    assert lr[0] == pytest.approx(0.1) and max(lr) == pytest.approx(1.0, abs=1e-3)
    assert int(np.argmax(lr)) == 9 and lr[-1] < 0.01


# ---- precision, losses, accumulation, patience --------------------------------------------------

def test_mixed_precision_on_a_cpu_warns_and_trains_in_fp32():
    ds = load_data(D.iris())
    a, b = mlp(4, 3), mlp(4, 3)
    b.load_state_dict(a.state_dict())
    with pytest.warns(RuntimeWarning, match=r"precision = \"bf16\".* CPU in fp32"):
        mixed = fit(a, ds, recipe('train(epochs = 1, precision = "bf16")'))
    assert mixed == fit(b, ds, recipe('train(epochs = 1, precision = "fp32")'))


def test_two_accumulated_batches_of_four_step_as_one_batch_of_eight():
    ds = load_data(D.iris())
    a, b = mlp(4, 3), mlp(4, 3)
    b.load_state_dict(a.state_dict())
    n = len(ds.x_train) // 8 * 8
    ds = Dataset("iris8", ds.x_train[:n], ds.y_train[:n], ds.x_val, ds.y_val, ds.info)
    fit(a, ds, recipe("train(epochs = 1, batch_size = 8, optimizer = sgd(lr = 0.1, momentum = 0.0))"))
    fit(b, ds, recipe("train(epochs = 1, batch_size = 4, accumulate = 2, optimizer = sgd(lr = 0.1, momentum = 0.0))"))
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-5)


def test_patience_stops_training_when_the_monitored_metric_stops_improving():
    ds = load_data(D.iris())
    history = fit(mlp(4, 3), ds, recipe("train(epochs = 20, patience = 2, optimizer = adam(lr = 1e-9))"),
                  monitor=("val_accuracy", "max"))
    assert len(history) == 3  # the first epoch sets the best; two more without a better one


def test_mse_loss_trains_a_classifier_and_cross_entropy_refuses_regression_targets():
    history = fit(mlp(4, 3), load_data(D.iris()), recipe('train(epochs = 2, loss = "mse")'))
    assert history[-1]["train_loss"] < 1.0
    with pytest.raises(hypsearch.HypError, match=r"loss = \"cross_entropy\"\) needs class labels"):
        fit(mlp(8, 1), load_data(D.regression(samples=64)), recipe('train(epochs = 1, loss = "cross_entropy")'))


def test_label_smoothing_changes_the_training_loss_but_not_how_val_loss_is_measured():
    ds = load_data(D.iris())
    plain, smooth = mlp(4, 3), mlp(4, 3)
    smooth.load_state_dict(plain.state_dict())
    h1 = fit(plain, ds, recipe("train(epochs = 1, optimizer = adam(lr = 1e-9))"))
    h2 = fit(smooth, ds, recipe("train(epochs = 1, label_smoothing = 0.2, optimizer = adam(lr = 1e-9))"))
    assert h1[0]["train_loss"] != pytest.approx(h2[0]["train_loss"], abs=1e-4)
    assert h1[0]["val_loss"] == pytest.approx(h2[0]["val_loss"], abs=1e-5)


# ---- augmentation ------------------------------------------------------------------------------

def test_augmentations_act_on_the_batch_and_repeat_with_the_seed():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(make_augment([D.flip(p=1.0)], (1, 4, 4))(x, g), x.flip(-1))
    assert torch.equal(make_augment([D.random_crop(padding=0)], (1, 4, 4))(x, g), x)
    crop = make_augment([D.random_crop(padding=2), D.cutout(size=2)], (1, 4, 4))
    one, two = crop(x, torch.Generator().manual_seed(5)), crop(x, torch.Generator().manual_seed(5))
    assert torch.equal(one, two) and one.shape == x.shape and not torch.equal(one, x)


def test_an_image_augmentation_on_tabular_data_says_it_needs_images():
    with pytest.raises(hypsearch.HypError, match=r"random_crop\(\) works on images"):
        make_augment([D.random_crop()], (64,))


def test_a_program_with_augment_trains_through_evaluate():
    from hypsearch.runner.trial import evaluate
    program = hypsearch.loads("data = digits(image = true)\naugment = [random_crop(padding = 1), optional(flip())]\n"
                              "target = sequential(conv2d(out = 4), relu(), global_avgpool(), linear(out = 10))\n"
                              "train = train(epochs = 1)").sample(seed=0)
    assert evaluate(program).history[0]["epoch"] == 1


# ---- the two data paths ------------------------------------------------------------------------

def test_a_set_that_does_not_fit_the_device_streams_and_one_that_fits_is_held():
    ds = images()
    assert data_plan(ds, "cuda", free=10 * ds.nbytes).mode == "device"
    plan = data_plan(ds, "cuda", free=ds.nbytes)
    assert plan.mode == "stream" and "does not fit" in plan.reason
    assert data_plan(ds, "cpu").mode == "device"


def test_streaming_through_dataloader_workers_trains_exactly_as_holding_the_set():
    ds = images()
    a, b = conv_net(), conv_net()
    b.load_state_dict(a.state_dict())
    held = fit(a, ds, recipe('train(epochs = 2, batch_size = 8, loading = "device")'))
    streamed = fit(b, ds, recipe('train(epochs = 2, batch_size = 8, loading = "stream", workers = 1)'))
    assert same(held, streamed)


# ---- checkpoints -------------------------------------------------------------------------------

def test_a_run_resumed_from_its_epoch_checkpoint_ends_as_an_uninterrupted_one():
    ds = load_data(D.iris())
    r = recipe("train(epochs = 3, batch_size = 16, schedule = cosine(warmup = 1))")
    whole, first = mlp(4, 3), mlp(4, 3)
    first.load_state_dict(whole.state_dict())
    straight = fit(whole, ds, r)
    saved = []
    fit(first, ds, r, checkpoint=saved.append, should_stop=lambda: True)  # paused after epoch 1
    resumed = fit(mlp(4, 3), ds, r, resume=saved[-1])
    assert [h["epoch"] for h in resumed] == [1, 2, 3]
    assert same(resumed, straight)


# ---- compile -----------------------------------------------------------------------------------

def test_compile_that_fails_falls_back_to_the_plain_model_with_a_warning(monkeypatch):
    def broken(model, **kwargs):
        def run(*args, **kw):
            raise RuntimeError("no C++ compiler")
        return run
    monkeypatch.setattr(torch, "compile", broken)
    with pytest.warns(RuntimeWarning, match=r"torch.compile failed \(RuntimeError: no C\+\+ compiler\)"):
        history = fit(mlp(4, 3), load_data(D.iris()), recipe("train(epochs = 1, compile = true)"))
    assert len(history) == 1


# ---- the inline executor's device --------------------------------------------------------------

@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_inline_device_cuda_without_a_gpu_is_a_clear_error(tmp_path):
    (tmp_path / "s.hyp").write_text("data = iris()\ntarget = linear(out = 3)\ntrain = train(epochs = 1)\n")
    with pytest.raises(hypsearch.HypError, match=r"--device cuda: torch sees no CUDA GPU"):
        hypsearch.run(str(tmp_path / "s.hyp"), executor="inline", device="cuda", trials=1, algo="random", seed=0,
                      out=str(tmp_path / "exp"))


def test_an_unknown_device_lists_the_valid_ones(tmp_path):
    (tmp_path / "s.hyp").write_text("data = iris()\ntarget = linear(out = 3)\n")
    with pytest.raises(hypsearch.HypError, match=r"unknown device `tpu`; valid: auto, cpu, cuda"):
        hypsearch.run(str(tmp_path / "s.hyp"), executor="inline", device="tpu", trials=1, out=str(tmp_path / "exp"))
