"""Several objectives and constraints: the Pareto helpers, every algorithm's multi-objective path
(vector tells, infeasible programs told without training, fronts, state), and the promise that a
single objective without constraints proposes exactly what it did before."""

from __future__ import annotations

import itertools
import json
import os

import numpy as np
import pytest

from hypsearch.decisions import Decision
from hypsearch.search import ALGORITHMS, algorithm, from_state
from hypsearch.search.pareto import crowding, front_mask, hypervolume, hypervolume_improvement, nondominated_ranks
from hypsearch.search.trial import Status, Trial

from test_search_algorithms import conditional_space, score

NAMES = sorted(ALGORITHMS)
SEQUENCES = os.path.join(os.path.dirname(__file__), "data", "single_objective_sequences.json")


def _sequence(name, direction, count=30):
    algo = algorithm(name, conditional_space(), seed=11, direction=direction)
    out = []
    for i in range(count):
        p = algo.propose()
        out.append(p.assignment)
        if i % 7 == 6:
            algo.fail(p, "boom")
        else:
            algo.tell(p, score(p.assignment), 0.5 if i % 5 == 4 else 1.0)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_single_objective_proposals_are_unchanged(name):
    # Recorded before several objectives existed (the same loop as `_sequence`, seed 11): one
    # objective without constraints must keep proposing exactly these programs.
    with open(SEQUENCES) as f:
        recorded = json.load(f)
    for direction in ("max", "min"):
        assert json.loads(json.dumps(_sequence(name, direction))) == recorded[f"{name}/{direction}"]


def test_pareto_helpers():
    pts = np.array([[1.0, 5.0], [2.0, 4.0], [3.0, 1.0], [1.5, 3.0], [0.5, 0.5]])
    assert front_mask(pts).tolist() == [True, True, True, False, False]
    assert nondominated_ranks(pts).tolist() == [0, 0, 0, 1, 2]
    c = crowding(pts[:3])
    assert np.isinf(c[0]) and np.isinf(c[2]) and np.isfinite(c[1])
    # Staircase above (0, 0): 1*5 + (2-1)*4 + (3-2)*1 = 10.
    assert hypervolume(pts, np.zeros(2)) == pytest.approx(10.0)
    three = np.hstack([pts, np.ones((5, 1))])
    assert hypervolume(three, np.zeros(3), samples=200_000) == pytest.approx(10.0, rel=0.03)
    assert hypervolume(pts, np.array([10.0, 10.0])) == 0.0


def grid_space():
    """64 programs: width and depth trade accuracy against size."""
    return [Decision("w", "int", low=0, high=7), Decision("d", "int", low=0, high=7)]


def _objectives(a):
    w, d = a["w"], a["d"]
    accuracy = 1.0 - 1.0 / (1.0 + 0.6 * w + 0.3 * d + 0.05 * w * d)
    size = (w + 1) * (d + 2)
    return accuracy, float(size)


def _drive(algo, count, bound=None):
    for _ in range(count):
        p = algo.propose()
        if p is None:
            break
        acc, size = _objectives(p.assignment)
        if bound is not None and size > bound:
            algo.tell(p, None, feasible=False, constraints=[size - bound])  # decided before training
        elif bound is not None:
            algo.tell(p, [acc, size], constraints=[size - bound])
        else:
            algo.tell(p, [acc, size])
    return algo


@pytest.mark.parametrize("name", NAMES)
def test_every_algorithm_searches_two_objectives_with_a_constraint(name):
    algo = _drive(algorithm(name, grid_space(), seed=2, directions=["max", "min"], constraints=1), 40, bound=30)
    told = [t for t in algo.trials.values() if t.status.finished]
    assert len(told) == 40 and len({tuple(sorted(t.assignment.items())) for t in told}) == 40
    infeasible = [t for t in told if t.status is Status.INFEASIBLE]
    assert infeasible and all(t.feasible is False and t.value is None for t in infeasible)
    front = algo.front()
    assert front and all(t.feasible and t.status is Status.OK for t in front)
    points = np.array([algo.objectives(t) for t in front])
    assert front_mask(points).all()  # nothing in the front dominates another member
    best = algo.best()
    assert best.feasible and best.values[1] <= 30
    # The state holds the vectors: a restored algorithm continues with the same proposal.
    restored = from_state(json.loads(json.dumps(algo.state_dict())), grid_space())
    assert restored.directions == ["max", "min"] and restored.constraints == 1
    assert restored.propose().assignment == algo.propose().assignment


@pytest.mark.parametrize("name", NAMES)
def test_observe_replays_vector_records(name):
    source = _drive(algorithm(name, grid_space(), seed=5, directions=["max", "min"], constraints=1), 25, bound=30)
    records = [Trial.from_json(json.loads(json.dumps(t.to_json()))) for t in source.trials.values()]
    replayed = algorithm(name, grid_space(), seed=5, directions=["max", "min"], constraints=1)
    for r in records:
        replayed.observe(r)
    assert [t.id for t in replayed.front()] == [t.id for t in source.front()]
    assert replayed.resume_randomness(source.state_dict(trials=False))
    assert replayed.propose().assignment == source.propose().assignment


def test_tell_checks_the_vector():
    algo = algorithm("random", grid_space(), seed=0, directions=["max", "min"])
    p = algo.propose()
    with pytest.raises(ValueError, match="2 objectives"):
        algo.tell(p, [0.5])
    with pytest.raises(ValueError, match="infeasible"):
        algo.tell(p, None)
    with pytest.raises(ValueError, match="direction"):
        algorithm("random", grid_space(), directions=["max", "up"])


def test_a_constrained_single_objective_never_names_an_infeasible_best():
    for name in NAMES:
        algo = algorithm(name, grid_space(), seed=1, directions=["max"], constraints=1)
        for _ in range(30):
            p = algo.propose()
            acc, size = _objectives(p.assignment)
            algo.tell(p, acc, constraints=[size - 20])  # trained, then found too large
        best = algo.best()
        assert best is not None and best.feasible and _objectives(best.assignment)[1] <= 20


def cube_space():
    """1,000 programs; accuracy and size pull apart, and the third decision matters only a little."""
    return [Decision(n, "int", low=0, high=9) for n in "abc"]


def _cube_objectives(x):
    a, b, c = x["a"], x["b"], x["c"]
    accuracy = 1 - 1 / (1 + 0.5 * a + 0.3 * b + 0.1 * c + 0.05 * a * b) - 0.02 * abs(c - 5)
    return accuracy, float((a + 1) * (b + 1) + 3 * c)


def test_hypervolume_improvement_is_what_a_point_adds_to_the_front():
    rng = np.random.default_rng(3)
    ref = np.array([0.1, 0.05])
    for size in (0, 1, 4, 9):
        front = rng.random((size, 2))
        points = rng.random((6, 2)) * 1.2 - 0.1  # some below the reference, some dominated
        base = hypervolume(front, ref) if size else 0.0
        want = [hypervolume(np.vstack([front, p[None]]), ref) - base for p in points]
        assert hypervolume_improvement(points, front, ref) == pytest.approx(want, abs=1e-12)
    # Posterior draws come as (samples, rows, objectives): the leading shape is kept.
    draws = rng.random((5, 3, 2))
    assert hypervolume_improvement(draws, front, ref).shape == (5, 3)
    assert hypervolume_improvement(np.array([[0.7], [0.2]]), np.array([[0.5]]), np.zeros(1)).tolist() == \
        pytest.approx([0.2, 0.0])


def test_model_guided_algorithms_find_more_of_the_front_than_random():
    every = [dict(a=a, b=b, c=c) for a, b, c in itertools.product(range(10), repeat=3)]
    pts = np.array([[acc, -size] for acc, size in map(_cube_objectives, every)])
    ref = pts.min(axis=0) - 1e-9
    hv = {}
    for name in ("random", "evolution", "mcts", "smbo"):
        runs = []
        for seed in range(3):
            algo = algorithm(name, cube_space(), seed=seed, directions=["max", "min"])
            for _ in range(30):
                p = algo.propose()
                algo.tell(p, list(_cube_objectives(p.assignment)))
            runs.append(hypervolume(np.array([algo.objectives(t) for t in algo.front()]), ref))
        hv[name] = np.mean(runs) / hypervolume(pts, ref)
    assert all(hv[name] > hv["random"] + 0.01 for name in ("evolution", "mcts", "smbo")), hv


# -- the language and the runner ---------------------------------------------------------------

MO_SPACE = """\
data = iris()
target = sequential(linear(out = oneof(2, 4, 8, 64)), relu(), linear(out = 3))
train = train(epochs = 2)
objective = [maximize("val_accuracy"), minimize("params")]
constraints = [at_most("params", 200)]
search = search(algo = "evolution", trials = 4, seed = 1)
"""


def test_objective_lists_and_constraints_parse_print_and_reload():
    import hypsearch

    space = hypsearch.loads(MO_SPACE, filename="mo.hyp")
    program = space.sample(seed=0)
    assert [type(o).__hyp_name__ for o in program.objective] == ["maximize", "minimize"]
    assert [(c.metric, c.bound) for c in program.constraints] == [("params", 200.0)]
    text = hypsearch.dumps(program)
    assert "objective = [maximize(\"val_accuracy\"), minimize(\"params\")]" in text
    assert hypsearch.loads(text, filename="mo.hyp").sample() == program


@pytest.mark.parametrize("line, message", [
    ('constraints = [maximize("params")]', "mo.hyp:5:16: error: `constraints` takes a constraint component"),
    ('constraints = at_most("params", 200)', "mo.hyp:5:15: error: `constraints` takes a list"),
])
def test_bad_constraints_are_located(line, message):
    import hypsearch
    from hypsearch.dsl.errors import HypError

    with pytest.raises(HypError) as e:
        hypsearch.loads(MO_SPACE.replace('constraints = [at_most("params", 200)]', line), filename="mo.hyp")
    assert message in e.value.render()


def test_check_names_an_unknown_constraint_metric(tmp_path, capsys):
    from hypsearch.cli import main as cli

    path = tmp_path / "mo.hyp"
    path.write_text(MO_SPACE.replace('at_most("params"', 'at_most("parms"'))
    assert cli(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "mo.hyp:5:24" in err and "did you mean `params`" in err


def test_a_run_records_vectors_decides_size_before_training_and_keeps_the_front(tmp_path):
    import hypsearch
    from hypsearch.runner.front import front_of

    path = tmp_path / "mo.hyp"
    path.write_text(MO_SPACE)
    exp = hypsearch.run(str(path), executor="inline", out=str(tmp_path / "exp"))
    by_status = {}
    for t in exp.trials:
        by_status.setdefault(t.status.value, []).append(t)
    # out=64 has 515 parameters: over the bound, so never trained (no epoch metrics, only the counts).
    (big,) = by_status["infeasible"]
    assert big.choices and big.feasible is False and big.constraints == [315.0]
    assert set(big.metrics[-1]) >= {"params", "flops"} and "val_accuracy" not in big.metrics[-1]
    for t in by_status["ok"]:
        assert t.values == [t.metrics[-1]["val_accuracy"], t.metrics[-1]["params"]] and t.feasible is True
        assert t.metrics[-1]["flops"] > 0 and t.metrics[-1]["params_hypernet"] == 0
    front = front_of(exp.trials, ["max", "min"])
    assert sorted(os.listdir(tmp_path / "exp" / "front")) == sorted(f"{t.id}.hyp" for t in front)
    assert exp.best.feasible
    _results_of(str(tmp_path / "exp"), front, big, tmp_path)


def _results_of(directory, front, infeasible, tmp_path):
    """show lists the front first (and alone with --front), plot draws it, export takes any trial."""
    import contextlib
    import io

    from hypsearch.cli import main as cli

    def text(argv):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert cli(argv) == 0
        return out.getvalue()

    shown = text(["show", directory])
    head, rest = shown.split("other trials:")
    assert f"Pareto front ({len(front)} of 4 trials" in head
    assert all(f"\n{t.id}  " in head for t in front) and f"\n{infeasible.id}  " in rest
    only = text(["show", directory, "--front"])
    assert "other trials" not in only and f"\n{infeasible.id}  " not in only
    assert text(["plot", directory, "--kind", "front", "--out", str(tmp_path / "front.png")])
    assert (tmp_path / "front.png").stat().st_size > 1000
    member = front[0]
    text(["export", directory, "--trial", str(infeasible.id), "--out", str(tmp_path / "t.hyp")])
    import hypsearch
    assert hypsearch.load(str(tmp_path / "t.hyp")).sample().target.layers[0].out == 64
    assert cli(["export", directory, "--trial", "99", "--out", str(tmp_path / "x.hyp")]) == 2
    assert member.feasible


def test_optimize_takes_tuples_and_dicts_and_returns_the_front():
    import hypsearch

    space = hypsearch.loads("x = intv(0, 9)\ny = intv(0, 9)\n", filename="s.hyp")
    res = hypsearch.optimize(space, lambda p: (p.x + 0.1 * p.y, p.x * p.y), directions=["maximize", "minimize"],
                             algo="smbo", trials=20, seed=0)
    assert all(len(t.values) == 2 and t.value == t.values[0] for t in res.trials if t.status is Status.OK)
    points = np.array([[t.values[0], -t.values[1]] for t in res.front])
    assert len(res.front) >= 2 and front_mask(points).all()
    every = np.array([[t.values[0], -t.values[1]] for t in res.trials if t.status is Status.OK])
    assert front_mask(every).sum() == len(res.front)
    res = hypsearch.optimize(space, lambda p: {"acc": p.x, "size": p.x * p.y, "note": 1},
                             objectives={"acc": "maximize", "size": "minimize"}, algo="evolution", trials=12, seed=0)
    assert res.trials[0].values == [res.trials[0].metrics[0]["acc"], res.trials[0].metrics[0]["size"]]
    bad = hypsearch.optimize(space, lambda p: (1.0,), directions=["max", "min"], algo="random", trials=2, seed=0)
    assert all(t.status is Status.FAILED and "1 values for 2 objectives" in t.error for t in bad.trials)
    from hypsearch.dsl.errors import HypError
    with pytest.raises(HypError, match="maximize"):
        hypsearch.optimize(space, lambda p: (1, 2), directions=["up", "down"], trials=2)


def test_builtin_metrics_count_params_and_flops_and_time_forwards():
    import torch

    from hypsearch.runner.measure import latency_metrics, static_metrics

    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    m = static_metrics(model, (8,))
    assert m["params"] == 8 * 16 + 16 + 16 * 3 + 3 and m["params_hypernet"] == 0
    assert m["flops"] == 2 * (8 * 16 + 16 * 3)  # two per multiply-add, per sample
    t = latency_metrics(model, (8,), batch_size=32, repeats=3)
    assert 0 < t["latency_ms"] and 0 < t["latency_ms_batch"] and model.training


ONE_OBJECTIVE = """\
data = iris()
target = sequential(linear(out = 4), relu(), linear(out = 3))
train = train(epochs = 1, batch_size = 16)
objective = maximize("val_accuracy")
search = search(algo = "random", trials = 1, seed = 0)
"""


def test_every_trained_trial_records_its_latencies_unasked_and_show_prints_them(tmp_path, capsys):
    import hypsearch
    from hypsearch.cli import main as cli

    path = tmp_path / "one.hyp"
    path.write_text(ONE_OBJECTIVE)
    exp = hypsearch.run(str(path), executor="inline", out=str(tmp_path / "exp"))
    (trial,) = exp.trials
    last = trial.metrics[-1]
    assert 0 < last["latency_ms"] < 1000 and 0 < last["latency_ms_batch"] < 1000
    assert last["params"] == 4 * 4 + 4 + 4 * 3 + 3
    assert "peak_memory_mb" not in last  # CPU: no per-model peak (see runner/measure.py)
    with open(tmp_path / "exp" / "trials.jsonl", encoding="utf-8") as f:
        journaled = [json.loads(line) for line in f if '"ok"' in line]
    assert journaled and "latency_ms_batch" in journaled[-1]["metrics"][-1]
    capsys.readouterr()
    assert cli(["show", str(tmp_path / "exp")]) == 0
    out = capsys.readouterr().out
    assert "built: params 35; flops" in out and "ms at batch 1" in out and "ms at the training batch" in out


def test_peak_memory_named_on_cpu_stops_the_run_with_the_reason(tmp_path):
    import hypsearch

    path = tmp_path / "mem.hyp"
    path.write_text(ONE_OBJECTIVE.replace('maximize("val_accuracy")',
                                          '[maximize("val_accuracy"), minimize("peak_memory_mb")]'))
    from hypsearch.dsl.errors import HypError
    with pytest.raises(HypError, match="`peak_memory_mb` is reported on CUDA devices only; this trial runs on cpu"):
        hypsearch.run(str(path), executor="inline", out=str(tmp_path / "exp"))


COSTS = """\
def score(program):
    return {"value": -(program.lr - 0.5) ** 2, "cost": program.width}

def size(program):
    return program.width * 1.5

def energy(program):
    return {"value": program.target.layers[0].out * 1.5, "wires": program.target.layers[0].out}

def words(program):
    return "high"
"""


def _costs_space(tmp_path, text):
    (tmp_path / "costs.py").write_text(COSTS)
    path = tmp_path / "space.hyp"
    path.write_text(text)
    return str(path)


def test_python_objectives_in_a_list_are_scored_without_training(tmp_path):
    import hypsearch

    space = _costs_space(tmp_path, """\
lr = floatv(0.0, 1.0)
width = intv(1, 9)
objective = [maximize(python("costs.py:score")), minimize(python("costs.py:size"))]
constraints = [at_most("cost", 6)]
search = search(algo = "evolution", trials = 6, seed = 0)
""")
    exp = hypsearch.run(space, executor="inline", out=str(tmp_path / "exp"))
    assert len(exp.trials) == 6 and all(t.status is Status.OK for t in exp.trials)
    for t in exp.trials:
        p = t.choices
        assert t.values == pytest.approx([-(p["lr"] - 0.5) ** 2, p["width"] * 1.5])
        assert t.constraints == [p["width"] - 6] and t.feasible is (p["width"] <= 6)
        assert t.metrics == [{"score": t.values[0], "cost": p["width"], "size": t.values[1]}]
    assert exp.best.feasible
    # optimize() without fn reads the same list (without the constraint, which needs the runner).
    with open(space, encoding="utf-8") as f:
        text = f.read()
    with open(space, "w", encoding="utf-8") as f:
        f.write(text.replace('constraints = [at_most("cost", 6)]\n', ""))
    res = hypsearch.optimize(space, trials=5)
    assert res.directions == ["max", "min"] and res.front
    assert all(t.values == pytest.approx([-(t.choices["lr"] - 0.5) ** 2, t.choices["width"] * 1.5]) for t in res.trials)


def test_a_python_objective_beside_trained_metrics_and_one_beside_params(tmp_path):
    import hypsearch

    head = """\
data = iris()
target = sequential(linear(out = oneof(2, 4, 8)), relu(), linear(out = 3))
train = train(epochs = 1)
search = search(algo = "random", trials = 2, seed = 0)
"""
    trained = hypsearch.run(_costs_space(tmp_path, head + """\
objective = [maximize("val_accuracy"), minimize(python("costs.py:energy"))]
constraints = [at_most("wires", 4)]
"""), executor="inline", out=str(tmp_path / "trained"))
    for t in trained.trials:
        out = t.choices["target.layers[0].out"]
        last = t.metrics[-1]
        assert t.values == [last["val_accuracy"], out * 1.5] and t.constraints == [out - 4.0]
        assert last["epoch"] == 1 and last["energy"] == out * 1.5 and "latency_ms" in last
    # With params beside it, the build measures all that is asked: nothing trains.
    built = hypsearch.run(_costs_space(tmp_path, head + """\
objective = [minimize(python("costs.py:energy")), minimize("params")]
"""), executor="inline", out=str(tmp_path / "built"))
    for t in built.trials:
        out = t.choices["target.layers[0].out"]
        assert t.status is Status.OK and t.values == [out * 1.5, 4 * out + out + 3 * out + 3]
        assert "val_accuracy" not in t.metrics[-1] and "epoch" not in t.metrics[-1]


def test_a_listed_python_objective_that_returns_no_number_fails_its_trial(tmp_path):
    import hypsearch

    space = _costs_space(tmp_path, """\
lr = floatv(0.0, 1.0)
width = intv(1, 9)
objective = [maximize(python("costs.py:score")), minimize(python("costs.py:words"))]
search = search(algo = "random", trials = 2, seed = 0)
""")
    exp = hypsearch.run(space, executor="inline", out=str(tmp_path / "exp"))
    assert all(t.status is Status.FAILED for t in exp.trials)
    assert "costs.py:words must return a number or a dict with a `value` entry, got 'high'" in exp.trials[0].error


@pytest.mark.parametrize("ref, message", [
    ('costs.py:nothere', "has no function `nothere`"),
    ('missing.py:score', "no such file"),
])
def test_check_locates_a_bad_python_objective_in_a_list(tmp_path, capsys, ref, message):
    from hypsearch.cli import main as cli

    line = f'objective = [maximize(python("costs.py:score")), minimize(python("{ref}"))]'
    space = _costs_space(tmp_path, f"lr = floatv(0.0, 1.0)\nwidth = intv(1, 9)\n{line}\n")
    assert cli(["check", space]) == 2
    err = capsys.readouterr().err
    assert f"space.hyp:3:{line.index(ref) :d}:" in err and message in err, err  # at the reference's quote
    single = _costs_space(tmp_path, f'lr = floatv(0.0, 1.0)\nobjective = maximize(python("{ref}"))\n')
    assert cli(["check", single]) == 2
    assert "space.hyp:2:29" in capsys.readouterr().err


def test_ray_trials_keep_their_vectors_and_constraints_even_when_asha_stops_them(ray_local, tmp_path):
    import hypsearch
    from hypsearch.runner.journal import read_all

    space = _costs_space(tmp_path, """\
data = iris()
target = sequential(linear(out = oneof(2, 4, 8, 64)), relu(), linear(out = 3))
train = train(epochs = 4, batch_size = 16, optimizer = sgd(lr = oneof(0.000001, 0.2), momentum = floatv(0.0, 0.9)))
objective = [maximize("val_accuracy"), minimize(python("costs.py:energy"))]
constraints = [at_most("params", 200)]
search = search(algo = "random", trials = 6, seed = 4)
""")
    exp = hypsearch.run(space, executor="ray", out=str(tmp_path / "exp"), scheduler="asha", max_concurrent=1)
    by_status = {}
    for t in exp.trials:
        by_status.setdefault(t.status.value, []).append(t)
    assert by_status.get("stopped") and by_status.get("ok"), [(t.status, t.values) for t in exp.trials]
    for t in by_status["ok"] + by_status["stopped"]:
        last, out = t.metrics[-1], t.choices["target.layers[0].out"]
        assert t.values == [last["val_accuracy"], out * 1.5] and t.constraints == [last["params"] - 200]
        assert t.feasible is (last["params"] <= 200)
    assert all(t.choices["target.layers[0].out"] == 64 and t.feasible is False for t in by_status.get("infeasible", []))
    # The journal replays into an algorithm of two objectives and a constraint without a mismatch.
    algo = hypsearch.search.algorithm("random", hypsearch.load(space).decisions, seed=4,
                                      directions=["max", "min"], constraints=1)
    for record in read_all(str(tmp_path / "exp" / "trials.jsonl")).events:
        algo.observe(record)
    assert {algo.trials[t.id].status.value for t in by_status["stopped"]} == {"stopped"}
