"""Training regimes: continual (output regulariser), finetune, joint and ewc on split digits, their
accuracy matrix and continual-learning metrics as objectives, and `show` printing the matrix."""

import textwrap

import pytest

import hypsearch
from hypsearch.cli import main as cli
from hypsearch.runner.errors import TrialInvalid
from hypsearch.runner.trial import evaluate

SPACE = """\
data = split_digits(tasks = 2)
target = sequential(linear(out = 10))
hypernet = hypernet(input = task_embedding(dim = 4), body = BODY, head = full(), mip = MIP)
train = train(epochs = 2, batch_size = 64, optimizer = OPT, regime = REGIME)
objective = maximize("cl_accuracy")
"""


def _program(regime, body="mlp(hidden = [16])", mip="false", opt="adam(lr = 0.01)", space=SPACE):
    text = space.replace("REGIME", regime).replace("BODY", body).replace("MIP", mip).replace("OPT", opt)
    return hypsearch.loads(text).sample()


@pytest.fixture(scope="module")
def continual():
    return evaluate(_program("continual(beta = 1.0, epochs_per_task = 4)"))


@pytest.fixture(scope="module")
def finetune():
    return evaluate(_program("finetune(epochs_per_task = 4)"))


def test_continual_trains_task_after_task_and_reports_every_epoch(continual):
    assert [m["task"] for m in continual.history] == [0] * 4 + [1] * 4
    assert [m["epoch"] for m in continual.history] == list(range(1, 9))
    assert continual.objective == "cl_accuracy" and continual.value == continual.metrics["cl_accuracy"]


def test_the_last_epoch_holds_the_full_accuracy_matrix_and_the_metrics_derive_from_it(continual):
    m = continual.metrics
    a = m["accuracy_matrix"]
    assert len(a) == 2 and all(len(row) == 2 for row in a)
    assert m["cl_accuracy"] == pytest.approx((a[1][0] + a[1][1]) / 2)
    assert m["forgetting"] == pytest.approx(a[0][0] - a[1][0])
    assert a[1] == [m["val_accuracy_task0"], m["val_accuracy_task1"]]
    assert continual.history[3]["accuracy_matrix"][0] == a[0]  # row 0 as task 0 ended


def test_the_output_regulariser_forgets_less_than_finetuning(continual, finetune):
    assert finetune.metrics["forgetting"] > 0.4  # the hypernetwork drifts away from task 0
    assert continual.metrics["forgetting"] < 0.05
    assert continual.metrics["accuracy_matrix"][0][0] > 0.9


def test_an_earlier_task_embedding_stays_fixed_even_under_weight_decay():
    from hypsearch.data import load_data
    from hypsearch.runner.regimes import train_regime

    program = _program("continual(beta = 0.1)", opt="adamw(lr = 0.01, weight_decay = 0.5)")
    data = load_data(program.data)
    model = hypsearch.build(program, input_shape=data.info.input_shape, tasks=data.tasks)
    table = model.hypernet.conditioner.embedding.weight
    seen = []
    train_regime(model, data, program.train, task_input=True,
                 report=lambda m: seen.append((m["task"], table[0].detach().clone(), table[1].detach().clone())))
    assert (table[0] == seen[1][1]).all()  # as task 0 ended
    assert not (seen[-1][2] == seen[1][2]).all()  # task 1's own embedding trained


def test_the_rnn_body_trains_under_the_continual_regime():
    result = evaluate(_program("continual(beta = 1.0, epochs_per_task = 4)", body="rnn(hidden = 16)"))
    a = result.metrics["accuracy_matrix"]
    assert a[0][0] > 0.9 and a[1][1] > 0.9 and result.metrics["forgetting"] < 0.05


def test_a_carried_optimizer_is_deterministic():
    runs = [evaluate(_program("finetune(epochs_per_task = 1, fresh_optimizer = false)")) for _ in range(2)]
    assert runs[0].metrics["accuracy_matrix"] == runs[1].metrics["accuracy_matrix"]
    assert len(runs[0].history) == 2


def test_ewc_protects_a_plain_network_trained_task_after_task():
    plain = """\
data = split_digits(tasks = 2)
target = sequential(linear(out = 10))
train = train(epochs = 2, batch_size = 64, optimizer = OPT, regime = REGIME)
objective = maximize("cl_accuracy")
"""
    ewc = evaluate(_program("ewc(strength = 1000, samples = 50)", space=plain))
    tuned = evaluate(_program("finetune()", space=plain))
    assert ewc.metrics["forgetting"] < tuned.metrics["forgetting"]


def test_joint_reports_one_row_and_no_forgetting():
    result = evaluate(_program("joint()"))
    m = result.metrics
    assert m["cl_accuracy"] == m["val_accuracy"] and m["forgetting"] == 0.0
    assert m["accuracy_matrix"] == [[m["val_accuracy_task0"], m["val_accuracy_task1"]]]
    assert len(result.history) == 2


def test_continual_without_a_task_conditioned_hypernetwork_is_invalid():
    space = SPACE.replace("task_embedding(dim = 4)", "data_conditioned(dim = 4)")
    with pytest.raises(TrialInvalid, match=r"needs hypernet = hypernet\(input = task_embedding"):
        evaluate(_program("continual()", space=space))


def test_a_sequential_regime_on_a_single_task_set_names_the_sets_that_have_tasks():
    space = SPACE.replace("split_digits(tasks = 2)", "iris()").replace("out = 10", "out = 3") \
        .replace("cl_accuracy", "val_accuracy")
    with pytest.raises(TrialInvalid, match="iris has a single task"):
        evaluate(_program("finetune()", space=space))


def test_an_unknown_objective_lists_the_continual_metrics():
    space = SPACE.replace('maximize("cl_accuracy")', 'maximize("cl_acuracy")')
    with pytest.raises(hypsearch.HypError, match=r"cl_accuracy, forgetting.*did you mean `cl_accuracy`"):
        evaluate(_program("continual()", space=space))


def test_show_prints_the_accuracy_matrix_of_the_best_trial(tmp_path, capsys):
    space = SPACE.replace("REGIME", "continual(beta = oneof(0.1, 1.0), epochs_per_task = 1)") \
        .replace("BODY", "mlp(hidden = [8])").replace("MIP", "false").replace("OPT", "adam(lr = 0.01)")
    (tmp_path / "cl.hyp").write_text(space + 'search = search(algo = "random", trials = 2, seed = 0)\n')
    out = str(tmp_path / "exp")
    assert cli(["run", str(tmp_path / "cl.hyp"), "--executor", "inline", "--out", out, "--quiet"]) == 0
    capsys.readouterr()
    assert cli(["show", out]) == 0
    text = capsys.readouterr().out
    assert "accuracy matrix (row: after training task i" in text
    assert "final average accuracy" in text and "forgetting" in text
    assert textwrap.dedent(text).count("\n   t1  ") == 1
    assert cli(["plot", out, "--kind", "matrix", "--out", str(tmp_path / "m.png")]) == 0
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"


def test_a_caller_stopping_the_trial_ends_the_whole_sequence_with_its_budget():
    result = evaluate(_program("finetune()"), should_stop=lambda: True)
    assert len(result.history) == 1 and result.stopped and result.budget == pytest.approx(1 / 4)


@pytest.mark.parametrize("head", ["chunked(size = 128, dim = 4)", "lowrank(rank = 2)"])
def test_the_continual_regime_takes_any_head(head):
    space = SPACE.replace("head = full()", f"head = {head}")
    result = evaluate(_program("continual(beta = 1.0, epochs_per_task = 1)", mip="true", space=space))
    assert len(result.metrics["accuracy_matrix"]) == 2 and result.metrics["accuracy_matrix"][0][0] > 0.5


def test_a_trial_asha_stops_on_ray_keeps_the_matrix_of_its_last_epoch(ray_local, tmp_path, capsys):
    # A learning rate of 1e-6 learns nothing: ASHA (grace 1 epoch, halving) stops such trials at
    # an early rung, after the first task's epochs, before their final report.
    space = SPACE.replace("REGIME", "continual(beta = 1.0, epochs_per_task = 2)") \
        .replace("BODY", "mlp(hidden = [8])").replace("MIP", "false") \
        .replace("OPT", "adam(lr = oneof(0.02, 0.000001), betas = [floatv(0.8, 0.9), 0.999])")
    (tmp_path / "cl.hyp").write_text(space)
    exp = hypsearch.run(str(tmp_path / "cl.hyp"), executor="ray", algo="random", trials=5, seed=2,
                        out=str(tmp_path / "exp"), scheduler="asha", max_concurrent=1)
    stopped = [t for t in exp.trials if t.status == "stopped"]
    assert stopped, [(t.status, t.value, len(t.metrics)) for t in exp.trials]
    for t in stopped:
        assert 0 < len(t.metrics) < 4 and t.budget == pytest.approx(len(t.metrics) / 4)
        matrix = t.metrics[-1]["accuracy_matrix"]
        # Row i: after task i; a trial stopped during task k holds rows 0..k, the last one in progress.
        assert len(matrix) == t.metrics[-1]["task"] + 1 and all(len(row) == 2 for row in matrix)
        assert t.metrics[-1]["val_accuracy_task0"] == pytest.approx(matrix[-1][0])
    finished = [t for t in exp.trials if t.status == "ok"]
    assert finished and all(len(t.metrics[-1]["accuracy_matrix"]) == 2 for t in finished)
    # The journal is what show reads back: the stopped trial's matrix, its last row marked.
    capsys.readouterr()
    assert cli(["show", str(tmp_path / "exp"), "--trial", str(stopped[0].id)]) == 0
    text = capsys.readouterr().out
    last = stopped[0].metrics[-1]
    assert f"trial {stopped[0].id}: stopped" in text and "accuracy matrix (row: after training task i" in text
    assert f"* stopped after epoch {last['epoch']}, while training task {last['task']}" in text
    assert f"{last['accuracy_matrix'][-1][0]:6.3f}" in text and "final average accuracy" not in text
    assert cli(["show", str(tmp_path / "exp"), "--trial", "99"]) == 2
