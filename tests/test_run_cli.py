"""`hypsearch show`, `export` (then `hypsearch.load_model`), `plot` on a finished experiment."""

import json
import os
import textwrap

import pytest

import hypsearch
from hypsearch.runner.experiment import Experiment
from hypsearch.cli import main as cli

SPACE = textwrap.dedent("""\
    data = iris()
    target = sequential(linear(out = oneof(4, 16)), relu(), linear(out = 3))
    train = train(epochs = 2, batch_size = 32, optimizer = adam(lr = oneof(0.0001, 0.02)))
    objective = maximize("val_accuracy")
    search = search(algo = "random", trials = 3, seed = 0)
""")


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    (base / "space.hyp").write_text(SPACE)
    out = str(base / "exp")
    assert cli(["run", str(base / "space.hyp"), "--executor", "inline", "--out", out, "--quiet"]) == 0
    return out


def test_show_prints_the_trials_table_counts_and_best_program(experiment, capsys):
    assert cli(["show", experiment, "--sort", "val_loss"]) == 0
    out = capsys.readouterr().out
    assert "3 ok" in out and "val_loss" in out and "best: trial" in out and "target = sequential(" in out
    assert len([line for line in out.splitlines() if line[:1].isdigit()]) == 3


def test_show_json_lists_trials_sorted_by_the_metric_asked_for(experiment, capsys):
    assert cli(["show", experiment, "--json", "--sort", "val_loss"]) == 0
    data = json.loads(capsys.readouterr().out)
    losses = [t["metrics"][-1]["val_loss"] for t in data["trials"]]
    assert losses == sorted(losses) and data["counts"]["ok"] == 3
    assert data["best"]["id"] == max(data["trials"], key=lambda t: t["value"])["id"]


def test_show_rejects_an_unknown_sort_key_naming_the_known_ones(experiment, capsys):
    assert cli(["show", experiment, "--sort", "accuracy_of_doom"]) == 2
    assert "val_accuracy" in capsys.readouterr().err


def test_exported_model_loads_without_pickles_and_predicts_like_the_best_trial(experiment, tmp_path, capsys):
    import torch
    from hypsearch.data import load_data

    out = str(tmp_path / "model.pt")
    assert cli(["export", experiment, "--out", out]) == 0
    raw = torch.load(out, weights_only=True)
    assert set(raw) >= {"hyp", "state_dict"} and "target = sequential(" in raw["hyp"]
    model = hypsearch.load_model(out)
    assert isinstance(model, torch.nn.Module)
    best = Experiment.open(experiment).best
    program = hypsearch.loads(raw["hyp"]).sample()
    data = load_data(program.data, None)
    with torch.no_grad():
        # The exported model takes raw inputs (here digits' 0-16 pixels): undo the loader's scaling.
        mean, std = data.normalization
        logits = model(torch.tensor(data.x_val * std + mean, dtype=torch.float32))
    accuracy = (logits.argmax(-1).numpy() == data.y_val).mean()
    assert accuracy == pytest.approx(best.value, abs=1e-6)


def test_plot_writes_a_png_with_one_line_per_experiment(experiment, tmp_path):
    out = str(tmp_path / "curve.png")
    assert cli(["plot", experiment, experiment, "--out", out]) == 0
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("text,message", [
    ("x = intv(1, 3)\n", "nothing to train or score"),
    ("target = sequential(linear(out = 10))\n", "has no `data` to train on"),
])
def test_run_of_a_space_that_cannot_be_scored_exits_2_before_writing_anything(tmp_path, capsys, text, message):
    space = tmp_path / "s.hyp"
    space.write_text(text)
    out = tmp_path / "exp"
    assert cli(["run", str(space), "--executor", "inline", "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_misspelt_algorithm_option_in_the_search_block_suggests_the_right_one(tmp_path, capsys):
    (tmp_path / "o.py").write_text("def f(p):\n    return p.params['x']\n")
    space = tmp_path / "s.hyp"
    space.write_text('x = intv(1, 9)\nobjective = maximize(python("o.py:f"))\n'
                     'search = search(algo = "evolution", populaton = 7)\n')
    assert cli(["run", str(space), "--executor", "inline", "--out", str(tmp_path / "exp")]) == 2
    err = capsys.readouterr().err
    assert "no option `populaton` (did you mean `population`?)" in err and "tournament (default 5)" in err
