"""Ray Tune checkpoints per epoch and `--scheduler pbt`, end to end on a local Ray (shared fixture)."""

import json
import os

import pytest

import hypsearch
from hypsearch.cli import main

SPACE = """
data = iris()
target = sequential(linear(out = 8), relu(), linear(out = 3))
train = train(epochs = 3, batch_size = 32, optimizer = adam(lr = floatv(1e-3, 1e-1, log = true)),
              label_smoothing = oneof(0.0, 0.1))
objective = maximize("val_accuracy")
"""


def test_pbt_trains_a_population_perturbing_recipe_values_from_checkpoints(ray_local, tmp_path, capsys):
    path = tmp_path / "s.hyp"
    path.write_text(SPACE)
    exp = hypsearch.run(str(path), executor="ray", scheduler="pbt", algo="random", trials=2, seed=0,
                        out=str(tmp_path / "exp"))
    assert len(exp.trials) == 2
    assert all(t.status.value == "ok" for t in exp.trials), [t.error for t in exp.trials]
    assert all([m["epoch"] for m in t.metrics] == [1, 2, 3] for t in exp.trials)
    assert os.path.exists(tmp_path / "exp" / "best.pt")

    def recipe(text):
        train = hypsearch.loads(text, filename=str(tmp_path / "exp" / "space" / "s.hyp")).sample().train
        return (train.optimizer.lr, train.label_smoothing)

    lines = [json.loads(line) for line in open(tmp_path / "exp" / "trials.jsonl")]
    proposed = {r["id"]: r["program"] for r in lines if r.get("status") == "pending"}
    finished = {r["id"]: r for r in lines if r.get("status") != "pending"}
    assert any(recipe(t.program) != recipe(proposed[t.id]) for t in exp.trials), "no member was perturbed"

    # Each member's record is the program that reached its value: the recipe of its last exploit,
    # with the history of exploits (after which epoch, from which member, the values) kept.
    ids = {t.id for t in exp.trials}
    changed = [t for t in exp.trials if t.metrics[-1].get("pbt")]
    assert changed, "no exploit was journaled"
    for t in changed:
        history = t.metrics[-1]["pbt"]
        assert all(c["from"] in ids - {t.id} and c["after_epoch"] in (1, 2, 3) for c in history)
        last = history[-1]["recipe"]
        assert recipe(t.program) == (last["train.optimizer.lr"], last["train.label_smoothing"])
        assert finished[t.id]["program"] == t.program and finished[t.id]["metrics"][-1]["pbt"] == history
        assert t.choices["train.optimizer.lr"] == last["train.optimizer.lr"]
    for t in exp.trials:
        if not t.metrics[-1].get("pbt"):
            assert recipe(t.program) == recipe(proposed[t.id])  # never exploited: as it started
    best = exp.best
    best_hyp = hypsearch.loads((tmp_path / "exp" / "best.hyp").read_text(), filename=str(tmp_path / "exp" / "best.hyp"))
    assert best_hyp.size == 1
    assert (best_hyp.sample().train.optimizer.lr, best_hyp.sample().train.label_smoothing) == recipe(best.program)
    # Whichever member ends best, its exported program is the one that reached its value: every
    # exploited member's --trial export carries the recipe of its last exploit.
    for t in changed:
        out = tmp_path / f"trial{t.id}.hyp"
        assert main(["export", str(tmp_path / "exp"), "--trial", str(t.id), "--out", str(out)]) == 0
        exported = hypsearch.loads(out.read_text(), filename=str(out)).sample().train
        last = t.metrics[-1]["pbt"][-1]["recipe"]
        assert (exported.optimizer.lr, exported.label_smoothing) == (last["train.optimizer.lr"],
                                                                   last["train.label_smoothing"])
    capsys.readouterr()
    assert main(["show", str(tmp_path / "exp")]) == 0
    shown = capsys.readouterr().out
    assert best.program.rstrip() in shown
    for change in best.metrics[-1].get("pbt") or []:
        assert f"pbt: after epoch {change['after_epoch']}, continued from trial {change['from']}" in shown
    # The per-epoch checkpoints PBT restored exploited members from are Tune checkpoints.
    found = [d for _, dirs, _ in os.walk(tmp_path / "exp") for d in dirs if d.startswith("checkpoint_")]
    assert found


def test_pbt_without_a_searchable_recipe_value_says_what_to_make_searchable(ray_local, tmp_path):
    path = tmp_path / "s.hyp"
    path.write_text("data = iris()\ntarget = linear(out = oneof(3, 4))\ntrain = train(epochs = 2)\n")
    with pytest.raises(hypsearch.HypError, match=r"--scheduler pbt perturbs searchable recipe values"):
        hypsearch.run(str(path), executor="ray", scheduler="pbt", algo="random", trials=2, seed=0,
                      out=str(tmp_path / "exp"))


def test_pbt_needs_the_ray_executor(tmp_path):
    path = tmp_path / "s.hyp"
    path.write_text(SPACE)
    with pytest.raises(hypsearch.HypError, match=r"--scheduler pbt needs the ray executor"):
        hypsearch.run(str(path), executor="inline", scheduler="pbt", trials=2, out=str(tmp_path / "exp"))
