"""`hypsearch run` on Ray Tune (one local Ray shared by these tests, see conftest.py)."""

import json
import os
import textwrap

import pytest

import hypsearch
import hypsearch.search
from hypsearch.runner.journal import read_all

DETERMINISTIC = textwrap.dedent("""\
    def score(program):
        p = program.params
        return -abs(p["a"] - 7) - (p["b"] - 0.3) ** 2 + p["c"]
""")


def _write(tmp_path, space, files=()):
    for name, text in files:
        (tmp_path / name).write_text(text)
    path = tmp_path / "space.hyp"
    path.write_text(textwrap.dedent(space))
    return str(path)


def _journal(directory):
    """The finished trials' journal lines (the journal also has a line per proposal)."""
    with open(os.path.join(directory, "trials.jsonl")) as f:
        return [r for r in map(json.loads, f) if r["status"] != "pending"]


def test_ray_and_inline_runs_of_one_seed_write_the_same_journal(ray_local, tmp_path):
    space = _write(tmp_path, """\
        a = intv(0, 10)
        b = floatv(0.0, 1.0)
        c = oneof(0, 1, 2)
        objective = maximize(python("objective.py:score"))
    """, [("objective.py", DETERMINISTIC)])
    common = dict(algo="mcts", trials=6, seed=11, max_concurrent=1)
    hypsearch.run(space, executor="inline", out=str(tmp_path / "inline"), **common)
    hypsearch.run(space, executor="ray", out=str(tmp_path / "ray"), **common)
    keys = ("id", "status", "value", "program", "choices", "metrics", "error")
    inline = [{k: r[k] for k in keys} for r in _journal(tmp_path / "inline")]
    ray = [{k: r[k] for k in keys} for r in _journal(tmp_path / "ray")]
    assert len(inline) == 6 and inline == ray
    assert os.path.isdir(tmp_path / "ray" / "ray" / "tune")  # Ray Tune's own results, in the experiment


PLACEMENT = textwrap.dedent("""\
    import json, os, time
    import ray

    def record(program):
        start = time.time()
        time.sleep(1.5)
        row = {"id": program.params["n"], "start": start, "end": time.time(),
               "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
               "gpu_ids": [str(g) for g in ray.get_gpu_ids()]}
        with open(os.path.join(program.params["log"], f"{os.getpid()}-{start}.json"), "w") as f:
            json.dump(row, f)
        return 1.0
""")


def test_fractional_gpus_pack_two_trials_on_one_logical_gpu(ray_local, tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    space = _write(tmp_path, f"""\
        n = intv(0, 1000)
        log = "{log}"
        objective = maximize(python("placement.py:record"))
    """, [("placement.py", PLACEMENT)])
    exp = hypsearch.run(space, executor="ray", algo="random", trials=4, seed=0, out=str(tmp_path / "exp"),
                        cpus_per_trial=0.5, gpus_per_trial=0.5, max_concurrent=4, storage=str(tmp_path / "store"))
    assert exp.counts()["ok"] == 4
    assert os.path.isdir(tmp_path / "store" / "tune")  # --storage: where Ray Tune's results go
    rows = [json.load(open(log / name)) for name in os.listdir(log)]
    assert len(rows) == 4
    assert all(r["cuda_visible_devices"] == "0" and r["gpu_ids"] == ["0"] for r in rows)
    # Ray placed at most two 0.5-GPU trials on the one GPU at any time, and did pack two.
    events = sorted([(r["start"], 1) for r in rows] + [(r["end"], -1) for r in rows])
    running, most = 0, 0
    for _, step in events:
        running += step
        most = max(most, running)
    assert most == 2


def test_asha_stops_poor_trials_and_tells_the_algorithm_their_partial_budget(ray_local, tmp_path):
    space = _write(tmp_path, """\
        data = iris()
        target = sequential(linear(out = 8), relu(), linear(out = 3))
        train = train(epochs = 4, batch_size = 16, optimizer = sgd(lr = oneof(0.000001, 0.2), momentum = floatv(0.0, 0.9)))
        objective = maximize("val_accuracy")
    """)
    exp = hypsearch.run(space, executor="ray", algo="random", trials=6, seed=4, out=str(tmp_path / "exp"),
                        scheduler="asha", max_concurrent=1)
    stopped = [r for r in exp.trials if r.status == "stopped"]
    assert stopped, [(r.status, r.value) for r in exp.trials]
    assert all(r.budget < 1 and len(r.metrics) == round(r.budget * 4) for r in stopped)
    assert any(r.status == "ok" and len(r.metrics) == 4 for r in exp.trials)
    # An algorithm rebuilt from the journal holds them as partial-budget results.
    algo = hypsearch.search.algorithm("random", hypsearch.load(space).decisions, seed=4)
    for record in read_all(str(tmp_path / "exp" / "trials.jsonl")).events:
        algo.observe(record)
    assert all(algo.trials[r.id].status == "stopped" and algo.trials[r.id].budget == pytest.approx(r.budget)
               for r in stopped)


FLAKY = textwrap.dedent("""\
    import os

    def score(program):
        p = program.params
        if p["kind"] == "crash":
            marker = os.path.join(p["dir"], f"crashed-{p['k']}")
            if not os.path.exists(marker):
                open(marker, "w").close()
                os._exit(3)  # the worker process dies: Ray retries the trial
            return 2.0
        if p["kind"] == "raise":
            raise ValueError("a bug in the objective")
        if p["kind"] == "nan":
            return float("nan")
        return 1.0
""")


def test_dead_workers_are_retried_but_failing_programs_are_recorded_once(ray_local, tmp_path):
    space = _write(tmp_path, f"""\
        kind = oneof("crash", "raise", "nan", "fine")
        k = intv(0, 1)
        dir = "{tmp_path}"
        objective = maximize(python("flaky.py:score"))
    """, [("flaky.py", FLAKY)])
    exp = hypsearch.run(space, executor="ray", algo="random", trials=8, seed=0, out=str(tmp_path / "exp"),
                        max_concurrent=2, max_failures=1)
    by_kind = {}
    for r in exp.trials:
        by_kind.setdefault(r.choices["kind"], []).append(r)
    assert len(exp.trials) == 8 and set(by_kind) == {"crash", "raise", "nan", "fine"}
    assert all(r.status == "ok" and r.value == 2.0 and r.attempts == 2 for r in by_kind["crash"])
    assert all(r.status == "failed" and "a bug in the objective" in r.error and r.attempts == 1 for r in by_kind["raise"])
    assert all(r.status == "failed" and "nan" in r.error for r in by_kind["nan"])
    assert all(r.status == "ok" for r in by_kind["fine"])


def test_asking_for_more_gpus_than_the_cluster_has_is_a_clear_error_not_a_hang(ray_local, tmp_path):
    space = _write(tmp_path, """\
        a = intv(0, 10)
        b = 0.3
        c = 0
        objective = maximize(python("det.py:score"))
    """, [("det.py", DETERMINISTIC)])
    with pytest.raises(hypsearch.HypError, match=r"--gpus-per-trial 2 asks for more than .* has: 1 GPU"):
        hypsearch.run(space, executor="ray", algo="random", trials=2, seed=0, out=str(tmp_path / "exp"), gpus_per_trial=2)
