"""Packed trials: populations train each member as `fit` trains it alone, members fail alone, dropout
is per member, packs split to fit memory, and `--pack` / `--repeats` runs record a line per trial."""

import json
import logging
import os
import subprocess
import sys

import pytest
import torch

import hypsearch
from hypsearch.compile import build
from hypsearch.data import load_data
from hypsearch.runner.packed.layout import unpackable_reason
from hypsearch.runner.packed.loop import evaluate_pack
from hypsearch.runner.packed.population import Member, train_population
from hypsearch.runner.train import fit, seed_everything
from hypsearch.runner.trial import evaluate
from hypsearch.search.trial import Status, Trial

MLP = """
data = digits()
target = sequential(linear(out = 16), relu(), {drop}linear(out = 16), tanh(), linear(out = 10))
train = train(epochs = 2, batch_size = 64, optimizer = {opt}, weight_decay = {wd}, seed = {seed}{extra})
"""
CONV = """
data = digits(image = true)
target = sequential(conv2d(out = 4), relu(), global_avgpool(), linear(out = 10))
train = train(epochs = 2, batch_size = 64, optimizer = {opt}, weight_decay = {wd}, seed = {seed}{extra})
"""
HYPER = """
data = split_digits(tasks = 5)
target = sequential(linear(out = 16), relu(), linear(out = 10))
hypernet = hypernet(input = task_embedding(dim = 8), body = mlp(hidden = [16], activation = relu()),
                    head = full(), generate = ["linear"])
train = train(epochs = 2, batch_size = 64, optimizer = {opt}, weight_decay = {wd}, seed = {seed}{extra})
"""

# Members differ in everything a member keeps for itself.
VARIANTS = [
    dict(opt="adam(lr = 0.003)", wd=0.0, seed=1, extra=""),
    dict(opt="adam(lr = 0.01, betas = [0.8, 0.99])", wd=0.001, seed=2, extra=", clip = 0.5"),
    dict(opt="adam(lr = 0.002)", wd=0.0, seed=1, extra=", label_smoothing = 0.1, schedule = cosine(warmup = 0.5)"),
]
SGD_VARIANTS = [
    dict(opt="sgd(lr = 0.05, momentum = 0.9)", wd=0.0, seed=1, extra=""),
    dict(opt="sgd(lr = 0.1, momentum = 0.0)", wd=0.001, seed=2, extra=", clip = 1.0"),
    dict(opt="sgd(lr = 0.05, momentum = 0.9, nesterov = true)", wd=0.0, seed=3, extra=", schedule = cosine()"),
]


def program(text, drop="", **kw):
    return hypsearch.loads(text.format(drop=drop, **kw)).sample()


def built(p, dataset):
    seed_everything(p.train.seed)
    return build(p, input_shape=tuple(dataset.info.input_shape), tasks=max(1, dataset.tasks))


def same(a, b, rel):
    assert len(a) == len(b)
    for ha, hb in zip(a, b):
        assert sorted(ha) == sorted(hb)
        for key in ha:
            assert hb[key] == pytest.approx(ha[key], rel=rel, abs=rel), (ha["epoch"], key)


@pytest.mark.parametrize("text,task_input,layout,rel", [
    (MLP, False, "chain", 1e-4), (MLP, False, "vmap", 1e-4), (CONV, False, "auto", 1e-4),
    # the task-conditioned generator selects rows of all tasks' weights: other rounding, same values
    (HYPER, True, "auto", 1e-3),
])
def test_each_member_matches_the_same_program_trained_alone(text, task_input, layout, rel):
    programs = [program(text, **v) for v in VARIANTS]
    if text is CONV:  # sgd with and without (nesterov) momentum
        programs = [program(text, **v) for v in SGD_VARIANTS]
    dataset = load_data(programs[0].data, None)
    torch.set_num_threads(1)
    alone = [fit(built(p, dataset), dataset, p.train, task_input=task_input) for p in programs]
    members = [Member(built(p, dataset), p.train, p.train.seed) for p in programs]
    results, pop = train_population(members, dataset, task_input=task_input, layout=layout)
    assert pop.kind == ("chain" if text is MLP and layout != "vmap" else "vmap")
    for a, r in zip(alone, results):
        assert r.error is None
        same(a, r.history, rel)


def test_a_member_whose_loss_diverges_fails_alone():
    good = program(MLP, opt="sgd(lr = 0.05, momentum = 0.9)", wd=0.0, seed=1, extra="")
    bad = program(MLP, opt="sgd(lr = 1e30, momentum = 0.9)", wd=0.0, seed=1, extra="")
    dataset = load_data(good.data, None)
    members = [Member(built(p, dataset), p.train, p.train.seed) for p in (bad, good)]
    results, _ = train_population(members, dataset)
    error = results[0].error or ""
    assert "is nan" in error or "is inf" in error
    assert results[1].error is None
    same(fit(built(good, dataset), dataset, good.train), results[1].history, 1e-4)


@pytest.mark.parametrize("layout", ["chain", "vmap"])
def test_dropout_is_per_member_with_independent_masks(layout):
    ps = [0.0, 0.5, 0.5]
    programs = [program(MLP, drop=f"dropout(p = {p}), ", opt="adam(lr = 0.003)", wd=0.0, seed=1, extra="")
                for p in ps]
    dataset = load_data(programs[0].data, None)
    members = [Member(built(p, dataset), p.train, p.train.seed) for p in programs]
    results, _ = train_population(members, dataset, layout=layout)
    # p = 0 is no dropout at all: exactly the program trained alone
    same(fit(built(programs[0], dataset), dataset, programs[0].train), results[0].history, 1e-4)
    losses = [r.history[0]["train_loss"] for r in results]
    assert losses[1] != losses[2]  # same seed, same p: different masks
    assert min(losses[1:]) > losses[0]  # dropping half the units slows the first epoch's fit


def trials_of(programs):
    return [Trial(i, {}, program=hypsearch.dumps(p)) for i, p in enumerate(programs)]


def test_packs_over_the_memory_estimate_split_and_give_the_same_results(caplog):
    programs = [program(MLP, **v) for v in VARIANTS]
    dataset = load_data(programs[0].data, None)
    with caplog.at_level(logging.INFO, logger="hypsearch.packed"):
        packed = {t.id: t for t, _, _ in evaluate_pack(trials_of(programs), programs, memory_budget=1)}
    assert "split in 3 parts" in caplog.text
    for i, p in enumerate(programs):
        assert packed[i].status is Status.OK
        alone = fit(built(p, dataset), dataset, p.train)
        same(alone, [{k: m[k] for k in alone[0]} for m in packed[i].metrics], 1e-4)
        # A packed trial records the built-in metrics an unpacked one does (runner.measure).
        unpacked = evaluate(p).metrics
        final = packed[i].metrics[-1]
        assert set(unpacked) <= set(final), set(unpacked) - set(final)
        for key in ("params", "params_target", "params_hypernet", "flops"):
            assert final[key] == unpacked[key] and all(m[key] == unpacked[key] for m in packed[i].metrics), key
        assert final["latency_ms"] > 0 and final["latency_ms_batch"] > 0


def test_batch_norm_programs_train_alone_as_unpacked():
    text = MLP.replace("relu(), {drop}", "batchnorm(), relu(), {drop}")
    programs = [program(text, **v) for v in VARIANTS[:2]]
    dataset = load_data(programs[0].data, None)
    assert "batch-norm" in unpackable_reason(built(programs[0], dataset))
    finished = {t.id: t for t, _, _ in evaluate_pack(trials_of(programs), programs)}
    for i, p in enumerate(programs):
        assert finished[i].status is Status.OK
        alone = fit(built(p, dataset), dataset, p.train)
        # A trial also records the built program's measurements (flops, ...): compare fit's own.
        same(alone, [{k: m[k] for k in alone[0]} for m in finished[i].metrics], 1e-6)


def test_a_scheduler_stops_the_repeats_of_a_trial_that_cannot_pack_at_the_same_epoch():
    # Batch norm trains alone, seed after seed: the stopper judges the first seed, and the other
    # seeds stop where it stopped, so the trial's mean is over the same budget.
    text = MLP.replace("relu(), {drop}", "batchnorm(), relu(), {drop}").replace("epochs = 2", "epochs = 3")
    programs = [program(text, **VARIANTS[0])]
    asked = []

    def stopper(epoch, values):
        asked.append((epoch, sorted(values)))
        return list(values) if epoch == 2 else []

    finished = [t for t, _, _ in evaluate_pack(trials_of(programs), programs, repeats=2, stopper=stopper)]
    assert len(finished) == 1
    trial = finished[0]
    assert trial.status is Status.STOPPED and trial.budget == pytest.approx(2 / 3)
    assert asked == [(1, [0]), (2, [0])]  # the first seed only
    assert [m["epoch"] for m in trial.metrics] == [1, 2]
    assert len(trial.repeats["values"]) == 2 and None not in trial.repeats["values"]
    assert trial.value == pytest.approx(sum(trial.repeats["values"]) / 2)


SPACE = """
data = digits()
target = sequential(linear(out = 16), relu(), dropout(p = floatv(0.0, 0.3)), linear(out = 10))
train = train(epochs = 1, batch_size = 64, optimizer = adam(lr = floatv(1e-3, 1e-2, log = true)),
              weight_decay = floatv(1e-6, 1e-3, log = true), seed = intv(0, 1000))
objective = maximize("val_accuracy")
search = search(algo = "random", trials = 6, pack = 4, repeats = 2)
"""


def test_search_block_pack_and_repeats_record_each_seed_and_the_std(tmp_path):
    space = tmp_path / "space.hyp"
    space.write_text(SPACE)
    exp = hypsearch.run(str(space), executor="inline", seed=3, out=str(tmp_path / "exp"))
    run = json.loads((tmp_path / "exp" / "run.json").read_text())
    assert run["settings"]["pack"] == 4 and run["settings"]["repeats"] == 2
    assert len(exp.trials) == 6 and all(t.status is Status.OK for t in exp.trials)
    lines = [json.loads(line) for line in (tmp_path / "exp" / "trials.jsonl").read_text().splitlines()]
    finished = [line for line in lines if line["status"] == "ok"]
    assert len(finished) == 6
    for line in finished:
        rep = line["repeats"]
        assert rep["seeds"] == [line["choices"]["train.seed"], line["choices"]["train.seed"] + 1]
        assert line["value"] == pytest.approx(sum(rep["values"]) / 2)
        assert rep["std"] == pytest.approx(abs(rep["values"][0] - rep["values"][1]) / 2 ** 0.5)
    assert os.path.exists(tmp_path / "exp" / "best.pt")
    model = hypsearch.load_model(str(tmp_path / "exp" / "best.pt"))
    assert model(torch.zeros(2, 64)).shape == (2, 10)


def test_cli_pack_with_pbt_is_a_clear_error(tmp_path):
    space = tmp_path / "space.hyp"
    space.write_text(SPACE)
    proc = subprocess.run([sys.executable, "-m", "hypsearch.cli", "run", str(space), "--pack", "8", "--executor", "ray",
                           "--scheduler", "pbt", "--out", str(tmp_path / "exp")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "--scheduler pbt" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("opt,extra,says", [
    ("adam(lr = 0.003)", ", clip = -1.0", "clip must be > 0"),
    ("adam(lr = 0.0)", "", "lr must be > 0"),
    ("adam(lr = 0.01, betas = [0.9, 1.5])", "", "betas must be two values"),
    ("sgd(lr = 0.1, momentum = 0.0, nesterov = true)", "", "nesterov = true needs momentum > 0"),
    ("adam(lr = 0.003)", ", schedule = cosine(final = 2.0)", "cosine"),
])
def test_a_recipe_fit_rejects_is_reported_as_unpacked(opt, extra, says):
    # The pack checks optimizer arguments without building a torch optimizer; what it lets through
    # must be what fit accepts, and the rest reaches fit, which reports it.
    programs = [program(MLP, **VARIANTS[0]), program(MLP, opt=opt, wd=0.0, seed=1, extra=extra),
                program(MLP, **VARIANTS[1])]
    finished = {t.id: t for t, _, _ in evaluate_pack(trials_of(programs), programs)}
    assert finished[0].status is Status.OK and finished[2].status is Status.OK
    assert finished[1].status is Status.INVALID and says in finished[1].error


def test_a_packed_run_never_imports_torch_dynamo_and_counts_flops_as_torch_does():
    # Building a torch optimizer or entering a stock dispatch mode imports torch._dynamo (1.1 s a
    # fresh worker); a pack needs neither, and its flop count must still be FlopCounterMode's.
    texts = [MLP.format(drop="", **v) for v in VARIANTS[:2]]
    code = f"""
import sys, hypsearch
from hypsearch.runner.packed.loop import evaluate_pack
from hypsearch.search.trial import Trial
programs = [hypsearch.loads(text).sample() for text in {texts!r}]
done = [t for t, _, _ in evaluate_pack([Trial(i, {{}}, program=hypsearch.dumps(p)) for i, p in enumerate(programs)], programs)]
print([t.status.name for t in done], done[0].metrics[-1]["flops"], "torch._dynamo" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    statuses, flops, dynamo = out.stdout.rsplit(None, 2)
    assert statuses == "['OK', 'OK']" and dynamo == "False"
    from torch.utils.flop_counter import FlopCounterMode
    p = program(MLP, **VARIANTS[0])
    model = built(p, load_data(p.data, None)).eval()
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 64))
    assert float(flops) == counter.get_total_flops() == 2 * (64 * 16 + 16 * 16 + 16 * 10)


@pytest.mark.parametrize("opt", ["adamw(lr = 0.01, weight_decay = 0.1)", "adam(lr = 0.01)", "sgd(lr = 0.05, momentum = 0.9)"])
def test_a_member_that_stops_first_keeps_the_weights_of_its_last_epoch(opt):
    # Member 0 trains 1 epoch, member 1 two: member 0's parameters must not move (nor decay) after
    # its last epoch, or its saved model would not be the one its metrics were measured on.
    short = program(MLP, opt=opt, wd=0.0 if "adamw" in opt else 0.01, seed=1, extra="")
    long = program(MLP, opt=opt, wd=0.0 if "adamw" in opt else 0.01, seed=2, extra="")
    short.rebind({"train.epochs": 1})
    dataset = load_data(short.data, None)
    alone = built(short, dataset)
    fit(alone, dataset, short.train)
    members = [Member(built(p, dataset), p.train, p.train.seed) for p in (short, long)]
    results, pop = train_population(members, dataset)
    assert [len(r.history) for r in results] == [1, 2]
    for name, value in pop.member_state(0).items():
        assert torch.allclose(value.reshape(alone.get_parameter(name).shape), alone.get_parameter(name), atol=1e-5), name


@pytest.mark.parametrize("opt,wd", [("adam(lr = 0.01)", 0.01), ("adamw(lr = 0.01, weight_decay = 0.1)", 0.0),
                                    ("sgd(lr = 0.05, momentum = 0.9, nesterov = true)", 0.01)])
def test_the_chain_layouts_padded_class_columns_stay_zero_and_members_keep_their_own_shapes(opt, wd):
    # On a CPU the last linear layer (10 classes) is stored 16 wide; the extra columns must stay
    # exactly zero under every optimizer (decay included) and never reach a member's own model.
    programs = [program(MLP, opt=opt, wd=wd, seed=s, extra="") for s in (1, 2)]
    dataset = load_data(programs[0].data, None)
    members = [Member(built(p, dataset), p.train, p.train.seed) for p in programs]
    results, pop = train_population(members, dataset, layout="chain")
    assert all(r.error is None for r in results)
    weight, bias = pop.views()["target.layers.4.weight"], pop.views()["target.layers.4.bias"]
    assert weight.shape[-1] == 16 and bias.shape[-1] == 16
    assert torch.count_nonzero(weight[..., 10:]) == 0 and torch.count_nonzero(bias[..., 10:]) == 0
    assert torch.count_nonzero(weight[..., :10]) > 0
    own = dict(members[0].model.named_parameters())
    for i in range(2):
        state = pop.member_state(i)
        assert {n: tuple(v.shape) for n, v in state.items()} == {n: tuple(p.shape) for n, p in own.items()}
