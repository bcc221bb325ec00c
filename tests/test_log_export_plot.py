"""Experiments in the tools users already use: `--log tensorboard` / `--log mlflow` read back with
TensorBoard's event reader and MLflow's client, `hypsearch export --optuna` loaded back with
Optuna's JournalStorage, and `hypsearch plot --kind history|importance|parallel` images."""

import json
import subprocess
import sys
import textwrap

import pytest

import hypsearch
from hypsearch.cli import main as cli
from hypsearch.runner.journal import Journal
from hypsearch.search.trial import Status, Trial

TORCH_SPACE = textwrap.dedent("""\
    data = digits()
    target = sequential(
      linear(out = oneof(8, 16)),
      oneof(relu(), leaky_relu(slope = floatv(0.01, 0.3))),
      linear(out = 10),
    )
    train = train(epochs = 2, batch_size = 256, optimizer = adam(lr = floatv(1e-3, 1e-2, log = true)))
""")

OBJECTIVE = textwrap.dedent("""\
    def score(program):
        p = program.params
        if p["width"] == 3:
            raise RuntimeError("width 3 breaks the objective")
        return {"value": -10 * (p["lr"] - 0.3) ** 2 + 0.1 * p["width"], "width_seen": p["width"]}
""")

PY_SPACE = textwrap.dedent("""\
    lr = floatv(0.01, 1.0, log = true)
    width = intv(1, 6)
    noise = oneof(0.1, 0.2, 0.3)
    objective = maximize(python("objective.py:score"))
""")


@pytest.fixture(scope="module")
def torch_exp(tmp_path_factory):
    pytest.importorskip("tensorboard", reason="the `tensorboard` extra is not installed")
    pytest.importorskip("mlflow", reason="the `mlflow` extra is not installed")
    d = tmp_path_factory.mktemp("torch")
    (d / "space.hyp").write_text(TORCH_SPACE)
    exp = hypsearch.run(str(d / "space.hyp"), executor="inline", algo="random", trials=2, seed=1,
                        out=str(d / "torch_exp"), log=["tensorboard", "mlflow"])
    assert len(exp.trials) == 2
    return exp


@pytest.fixture(scope="module")
def py_exp(tmp_path_factory):
    d = tmp_path_factory.mktemp("py")
    (d / "space.hyp").write_text(PY_SPACE)
    (d / "objective.py").write_text(OBJECTIVE)
    exp = hypsearch.run(str(d / "space.hyp"), executor="inline", algo="random", trials=16, seed=4, out=str(d / "py_exp"))
    # A trial a scheduler stopped early, as the Ray executor with --scheduler asha journals it.
    end = max(t.finished for t in exp.trials)
    journal = Journal(str(d / "py_exp" / "trials.jsonl"))
    journal.append(Trial(99, {"lr": 0.2, "width": 2, "noise": 1}, status=Status.STOPPED, value=0.05, budget=0.5,
                         metrics=[{"value": 0.05}], choices={"lr": 0.2, "width": 2, "noise": 0.2},
                         program="lr = 0.2\nwidth = 2\nnoise = 0.2\n", started=end, finished=end + 0.5))
    journal.close()
    exp = hypsearch.runner.Experiment.open(str(d / "py_exp"))
    statuses = {t.status for t in exp.trials}
    assert {Status.OK, Status.FAILED, Status.STOPPED} <= statuses, statuses
    return exp


def test_tensorboard_has_each_trials_epochs_and_decisions(torch_exp):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    for t in torch_exp.trials:
        ea = EventAccumulator(f"{torch_exp.dir}/tensorboard/trial_{t.id:04d}")
        ea.Reload()
        got = [(s.step, s.value) for s in ea.Scalars("val_accuracy")]
        want = [(m["epoch"], m["val_accuracy"]) for m in t.metrics]
        assert [s for s, _ in got] == [s for s, _ in want] == [1, 2]
        assert [v for _, v in got] == pytest.approx([v for _, v in want])
        assert ea.Scalars("objective")[-1].value == pytest.approx(t.value)
        content = ea.PluginTagToContent("hparams")
        start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
        hp = start.session_start_info.hparams
        assert set(hp) == set(t.choices) | {"status"}  # inactive decisions absent
        for name, value in t.choices.items():
            logged = hp[name].string_value if isinstance(value, str) else hp[name].number_value
            assert logged == pytest.approx(value)
    # The conditional decision is logged exactly for the trials where it was active.
    slope = "target.layers[1].leaky_relu.slope"
    assert any(slope in t.choices for t in torch_exp.trials) and any(slope not in t.choices for t in torch_exp.trials)


def test_mlflow_has_a_run_per_trial(torch_exp):
    from mlflow.tracking import MlflowClient

    from hypsearch.runner.loggers import mlflow_key

    client = MlflowClient(tracking_uri=f"sqlite:///{torch_exp.dir}/mlflow.db")
    experiment = client.get_experiment_by_name("torch_exp")
    runs = {r.data.tags["hypsearch.trial"]: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {str(t.id) for t in torch_exp.trials}
    for t in torch_exp.trials:
        run = runs[str(t.id)]
        assert run.info.status == "FINISHED" and run.data.tags["hypsearch.status"] == "ok"
        assert run.data.params == {mlflow_key(k): str(v) for k, v in t.choices.items()}
        history = client.get_metric_history(run.info.run_id, "val_loss")
        got = sorted((m.step, m.value) for m in history)
        assert [s for s, _ in got] == [m["epoch"] for m in t.metrics]
        assert [v for _, v in got] == pytest.approx([m["val_loss"] for m in t.metrics])
        path = client.download_artifacts(run.info.run_id, "program.hyp")
        assert open(path).read() == t.program
        hypsearch.loads(open(path).read()).sample()  # the logged text is the trial's concrete program


def test_optuna_export_loads_back_trial_by_trial(torch_exp, py_exp, tmp_path):
    optuna = pytest.importorskip("optuna")
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study_file = tmp_path / "study.log"
    for exp in (torch_exp, py_exp):
        assert cli(["export", exp.dir, "--optuna", str(study_file)]) == 0
    storage = JournalStorage(JournalFileBackend(str(study_file)))
    states = {Status.OK: optuna.trial.TrialState.COMPLETE, Status.STOPPED: optuna.trial.TrialState.PRUNED,
              Status.FAILED: optuna.trial.TrialState.FAIL, Status.INVALID: optuna.trial.TrialState.FAIL}
    for exp in (torch_exp, py_exp):
        study = optuna.load_study(study_name="torch_exp" if exp is torch_exp else "py_exp", storage=storage)
        assert study.direction == optuna.study.StudyDirection.MAXIMIZE
        assert "objective" in study.user_attrs["space"] or "target" in study.user_attrs["space"]
        by_id = {ft.user_attrs["hypsearch_id"]: ft for ft in study.trials}
        assert set(by_id) == {t.id for t in exp.trials}
        for t in exp.trials:
            ft = by_id[t.id]
            assert ft.state == states[t.status]
            assert ft.user_attrs["program"] == t.program and ft.user_attrs["hypsearch_status"] == t.status.value
            assert ft.params == t.choices  # active decisions only, user values
            for name, value in ft.params.items():
                dist = ft.distributions[name]
                assert dist._contains(dist.to_internal_repr(value))
            if t.status is Status.OK:
                assert ft.value == pytest.approx(t.value)
            if t.status is Status.FAILED:
                assert "width 3" in ft.user_attrs["error"]
        kinds = {type(d).__name__ for ft in study.trials for d in ft.distributions.values()}
        assert {"CategoricalDistribution", "FloatDistribution"} <= kinds
    lr = optuna.load_study(study_name="torch_exp", storage=storage).trials[0].distributions["train.optimizer.lr"]
    assert lr.log and (lr.low, lr.high) == (1e-3, 1e-2)
    torch_trial = optuna.load_study(study_name="torch_exp", storage=storage).trials[0]
    assert sorted(torch_trial.intermediate_values) == [1, 2]
    # Written again to the same file: refused, naming the option.
    assert cli(["export", torch_exp.dir, "--optuna", str(study_file)]) == 2


def test_export_names_the_optuna_extra_when_missing(py_exp, tmp_path):
    code = ("import sys; sys.modules['optuna'] = None\n"
            "from hypsearch.cli import main\n"
            f"sys.exit(main(['export', {py_exp.dir!r}, '--optuna', {str(tmp_path / 's.log')!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 2 and "`optuna` extra" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("kind,suffix", [("history", ".png"), ("importance", ".png"), ("parallel", ".png"),
                                         ("importance", ".svg")])
def test_plot_kinds_write_images(py_exp, torch_exp, tmp_path, kind, suffix, capsys):
    out = tmp_path / f"{kind}{suffix}"
    dirs = [py_exp.dir] if kind != "history" else [py_exp.dir, torch_exp.dir]
    assert cli(["plot", *dirs, "--kind", kind, "--out", str(out)]) == 0
    data = out.read_bytes()
    if suffix == ".png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    else:
        text = data.decode()
        assert "<svg" in text and "permutation importance of a random forest" in text
        assert ">lr<" in text or "lr" in text


def test_importance_ranks_the_decision_that_matters_first(py_exp):
    from hypsearch.runner.plot import importances

    names, means, _, n = importances(py_exp)
    assert n >= 10 and names[0] == "lr" and means[0] > means[names.index("noise")]


def test_plot_and_log_user_errors_exit_2(py_exp, torch_exp, tmp_path, capsys):
    assert cli(["plot", py_exp.dir, torch_exp.dir, "--kind", "parallel", "--out", str(tmp_path / "p.png")]) == 2
    assert "one experiment" in capsys.readouterr().err
    (tmp_path / "s.hyp").write_text(PY_SPACE)
    (tmp_path / "objective.py").write_text(OBJECTIVE)
    assert cli(["run", str(tmp_path / "s.hyp"), "--executor", "inline", "--log", "wandb", "--quiet"]) == 2
    assert "--log takes tensorboard or mlflow[=URI], got `wandb`" in capsys.readouterr().err


def test_run_json_keeps_the_log_setting_for_resume(torch_exp):
    with open(f"{torch_exp.dir}/run.json") as f:
        assert json.load(f)["settings"]["log"] == ["tensorboard", "mlflow"]


def test_ray_executor_writes_the_same_tensorboard_runs(ray_local, torch_exp, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    space = tmp_path / "space.hyp"
    space.write_text(TORCH_SPACE)
    ray_exp = hypsearch.run(str(space), executor="ray", algo="random", trials=2, seed=1, out=str(tmp_path / "ray_exp"),
                            log=["tensorboard"], max_concurrent=2)

    def curves(exp):
        out = {}
        for t in exp.trials:
            ea = EventAccumulator(f"{exp.dir}/tensorboard/trial_{t.id:04d}")
            ea.Reload()
            out[t.id] = [(s.step, s.value) for s in ea.Scalars("val_accuracy")]
        return out

    inline, ray = curves(torch_exp), curves(ray_exp)
    assert set(ray) == set(inline) == {0, 1}
    for tid in ray:
        assert [s for s, _ in ray[tid]] == [s for s, _ in inline[tid]]
        assert [v for _, v in ray[tid]] == pytest.approx([v for _, v in inline[tid]], rel=1e-4)


THREE_OBJECTIVES = textwrap.dedent("""\
    data = iris()
    target = sequential(linear(out = oneof(2, 4, 8)), relu(), linear(out = 3))
    train = train(epochs = 1, batch_size = 32, optimizer = adam(lr = floatv(1e-3, 1e-1, log = true)))
    objective = [maximize("val_accuracy"), minimize("params"), minimize("val_loss")]
    search = search(algo = "random", trials = 5, seed = 3)
""")


def test_plot_front_of_three_objectives_draws_parallel_coordinates(tmp_path, capsys):
    import matplotlib

    from hypsearch.runner.front import front_of

    path = tmp_path / "three.hyp"
    path.write_text(THREE_OBJECTIVES)
    exp = hypsearch.run(str(path), executor="inline", out=str(tmp_path / "exp"))
    front = front_of(exp.trials, ["max", "min", "min"])
    assert len([t for t in exp.trials if t.values]) == 5 and front
    out = tmp_path / "front.svg"
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text kept as text, to read it back
        assert cli(["plot", str(tmp_path / "exp"), "--kind", "front", "--out", str(out)]) == 0
    svg = out.read_text()
    assert svg.startswith("<?xml") and "</svg>" in svg
    for label in ("val_accuracy", "params", "val_loss", "higher is up", "lower is up"):
        assert label in svg, label
    assert f"Pareto front ({len(front)}) in colour" in svg and "5 trials against 3 objectives" in svg
    assert all(f"trial {t.id}" in svg for t in front)  # each front member named in the legend
    # The smallest parameter count sits at the top of the params axis (lower is better, drawn up).
    smallest = min(t.metrics[-1]["params"] for t in exp.trials)
    assert f">{smallest:.4g}<" in svg
