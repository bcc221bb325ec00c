"""Benchmarks of the search algorithms, each figure printed beside its reference in the same run.

  nb201     NAS-Bench-201 (examples/nb201.hyp, CIFAR-10 table lookup): best-by-validation test
            accuracy after each budget, mean and std over seeds, for random, evolution, mcts, smbo,
            Optuna TPE and pyglove's regularized evolution; paired-seed differences with 95%
            bootstrap intervals for every pair of methods.
  toy       20 categorical decisions of 4 choices, reward = matches to a hidden target: median best
            over seeds, beside Optuna's random and TPE samplers.
  overhead  milliseconds per propose + tell after 100, 500 and 1,000 evaluations on a 30-decision
            space, beside Optuna TPE (ask + suggest) and pyglove's regularized evolution; the pyglove
            DNA conversion at the boundary is reported on its own.

    python benchmarks/bench_search.py --which nb201,toy,overhead --seeds 20 --budgets 50,100,300

BLAS runs single-threaded (set below, before numpy loads): the surrogates' matrices are small,
and on a shared 2-core machine OpenBLAS threads spin against each other (a 145x145 Cholesky took
0.09 ms on one thread and 1.6 ms on two here). Optuna gets the same setting.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import itertools  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Callable, Dict, List, Sequence  # noqa: E402

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = ["random", "evolution", "mcts", "smbo"]


# -- shared -------------------------------------------------------------------------------------

def run_ours(name: str, decisions, score: Callable[[dict], float], budget: int, seed: int) -> List[dict]:
    """`budget` evaluations of a hypsearch algorithm; the list of assignments in order."""
    from hypsearch.search import algorithm
    algo = algorithm(name, decisions, seed=seed)
    out = []
    for _ in range(budget):
        p = algo.propose()
        if p is None:
            break
        algo.tell(p, score(p.assignment))
        out.append(p.assignment)
    return out


def bootstrap(diff: np.ndarray, rng: np.random.Generator, resamples: int = 10000):
    """Mean and 95% bootstrap interval of the mean of paired differences."""
    idx = rng.integers(0, len(diff), size=(resamples, len(diff)))
    means = diff[idx].mean(axis=1)
    return diff.mean(), np.percentile(means, 2.5), np.percentile(means, 97.5)


def optuna_module():
    try:
        import optuna
    except ImportError:
        sys.exit("Optuna is needed for the side-by-side figures: pip install 'hypsearch[bench]'")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


# -- NAS-Bench-201 ------------------------------------------------------------------------------

def nb201(budgets: Sequence[int], seeds: int) -> None:
    import pyglove as pg

    import hypsearch
    optuna = optuna_module()

    space = hypsearch.load(os.path.join(ROOT, "examples", "nb201.hyp"))
    decisions = space.decisions
    names = [d.name for d in decisions]
    ops = [str(v) for v in decisions[0].literals]
    with open(os.path.join(ROOT, "benchmarks", "data", "nasbench201.csv"), newline="") as f:
        table = {r["arch_str"]: (float(r["cifar10_valid_acc"]), float(r["cifar10_test_acc"])) for r in csv.DictReader(f)}

    def arch(cell: Sequence[str]) -> str:
        e = list(cell)
        return f"|{e[0]}~0|+|{e[1]}~0|{e[2]}~1|+|{e[3]}~0|{e[4]}~1|{e[5]}~2|"

    def by_assignment(a: dict) -> str:
        choices = space.decode(a)  # decision name -> operation name
        return arch([choices[n] for n in names])

    top = max(table.values(), key=lambda vt: vt[0])
    print(f"\n## NAS-Bench-201 CIFAR-10 ({len(table)} cells; best by validation: valid {top[0]:.2f}, "
          f"test {top[1]:.2f}; best test {max(t for _, t in table.values()):.2f})")
    horizon = max(budgets)

    def ours(name):
        return lambda seed: [by_assignment(a) for a in run_ours(name, decisions, lambda a: table[by_assignment(a)][0], horizon, seed)]

    def tpe(seed):
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
        out = []
        for _ in range(horizon):
            t = study.ask()
            a = arch([t.suggest_categorical(n, ops) for n in names])
            study.tell(t, table[a][0])
            out.append(a)
        return out

    def pyglove_re(seed):
        hyper = pg.List([pg.oneof(ops) for _ in names])
        algo = pg.evolution.regularized_evolution(pg.evolution.mutators.Uniform(seed=seed),  # seeded: reproducible
                                                  population_size=20, tournament_size=5, seed=seed)
        out = []
        for cell, feedback in pg.sample(hyper, algo, num_examples=horizon):
            a = arch(cell)
            feedback(table[a][0])
            out.append(a)
        return out

    methods: Dict[str, Callable[[int], List[str]]] = {n: ours(n) for n in OURS}
    methods["optuna-tpe"] = tpe
    methods["pyglove-re"] = pyglove_re
    results = {m: np.zeros((seeds, len(budgets))) for m in methods}
    valid = {m: np.zeros((seeds, len(budgets))) for m in methods}
    seconds = {}
    for m, fn in methods.items():
        start = time.process_time()
        for s in range(seeds):
            archs = fn(s)
            for j, b in enumerate(budgets):
                best = max(archs[:b], key=lambda a: table[a][0])
                results[m][s, j], valid[m][s, j] = table[best][1], table[best][0]
        seconds[m] = time.process_time() - start
        print(f"  ran {m} ({seconds[m]:.1f} s CPU for {seeds} seeds x {horizon} evaluations)", flush=True)

    print(f"\ntest accuracy of the best-by-validation cell, mean +- std over {seeds} seeds "
          "(pyglove-re: population 20, tournament 5, like evolution; pyglove-re and optuna-tpe may "
          "re-evaluate a cell, each proposal counts):")
    print("| method | " + " | ".join(f"{b} evals" for b in budgets) + " | valid acc at " + str(budgets[-1]) + " |")
    print("|---|" + "---|" * (len(budgets) + 1))
    for m in methods:
        cells = " | ".join(f"{results[m][:, j].mean():.2f} +- {results[m][:, j].std():.2f}" for j in range(len(budgets)))
        print(f"| {m} | {cells} | {valid[m][:, -1].mean():.2f} |")

    rng = np.random.default_rng(0)
    print("\npaired differences of test accuracy (row minus column method, same seed): mean [95% bootstrap CI];"
          " '>' marks an interval above zero, '<' below")
    for j, b in enumerate(budgets):
        print(f"\nbudget {b}:")
        for a, c in itertools.combinations(methods, 2):
            mean, lo, hi = bootstrap(results[a][:, j] - results[c][:, j], rng)
            mark = ">" if lo > 0 else "<" if hi < 0 else "="
            print(f"  {a:>11} - {c:<11} {mean:+.3f} [{lo:+.3f}, {hi:+.3f}] {mark}")


# -- categorical toy ------------------------------------------------------------------------------

def toy(budget: int, seeds: int) -> None:
    from hypsearch.decisions import Decision
    optuna = optuna_module()

    n, k = 20, 4
    decisions = [Decision(f"x{i}", "choice", choices=tuple(str(c) for c in range(k))) for i in range(n)]
    best: Dict[str, List[int]] = {}
    for s in range(seeds):
        target = np.random.default_rng(1000 + s).integers(0, k, n)

        def score(a):
            return float(sum(int(a[f"x{i}"] == target[i]) for i in range(n)))
        for name in OURS:
            best.setdefault(name, []).append(int(max(score(a) for a in run_ours(name, decisions, score, budget, s))))
        for label, sampler in (("optuna-random", optuna.samplers.RandomSampler(seed=s)),
                               ("optuna-tpe", optuna.samplers.TPESampler(seed=s))):
            study = optuna.create_study(direction="maximize", sampler=sampler)
            study.optimize(lambda t: score({f"x{i}": t.suggest_categorical(f"x{i}", list(range(k))) for i in range(n)}),
                           n_trials=budget)
            best.setdefault(label, []).append(int(study.best_value))
    print(f"\n## categorical toy: {n} decisions x {k} choices, budget {budget}, {seeds} seeds "
          "(goal: smbo >= 18, mcts >= 15; Optuna measured before: random 10, TPE 16)")
    print("| method | median best | min | max | all |")
    print("|---|---|---|---|---|")
    for m, v in best.items():
        print(f"| {m} | {np.median(v):g} | {min(v)} | {max(v)} | {' '.join(map(str, v))} |")


# -- overhead -------------------------------------------------------------------------------------

def overhead_space():
    """30 decisions: 12 categorical, 4 log-integers, 2 integers, 6 floats (3 log), a gate with 3
    conditional children, 2 subsets."""
    from hypsearch.decisions import Condition, Decision
    d = [Decision(f"c{i}", "choice", choices=("a", "b", "c", "d")) for i in range(12)]
    d += [Decision(f"n{i}", "int", low=1, high=256, log=True) for i in range(4)]
    d += [Decision(f"i{i}", "int", low=0, high=10) for i in range(2)]
    d += [Decision(f"f{i}", "float", low=1e-5, high=1.0, log=True) for i in range(3)]
    d += [Decision(f"u{i}", "float", low=0.0, high=1.0) for i in range(3)]
    d += [Decision("gate", "choice", choices=("off", "one", "two"))]
    d += [Decision(f"g{i}", "choice", choices=("a", "b", "c", "d"), condition=Condition("gate", frozenset({1, 2})))
          for i in range(3)]
    d += [Decision(f"s{i}", "subset", choices=tuple("uvwxyz"), k=2, sorted=True) for i in range(2)]
    assert len(d) == 30
    return d


def overhead_score(a: dict) -> float:
    v = sum(1.0 for i in range(12) if a[f"c{i}"] == i % 4)
    v -= sum((math.log(a[f"f{i}"]) + 5.0) ** 2 / 25 for i in range(3))
    v -= sum((a[f"u{i}"] - 0.3) ** 2 for i in range(3))
    v += sum(math.log(a[f"n{i}"]) / 5.5 for i in range(4)) - abs(a["i0"] - 7) / 10
    v += 0.5 * sum(1 for i in range(3) if a.get(f"g{i}") == 2)
    return v + 0.2 * len(set(a["s0"]) & {1, 4})


def overhead(points: Sequence[int] = (100, 500, 1000), window: int = 50) -> None:
    import pyglove as pg

    from hypsearch.decisions import dna_spec
    from hypsearch.search import algorithm
    from hypsearch.search.dna import from_dna, to_dna
    from hypsearch.decisions import RowEncoding
    optuna = optuna_module()

    decisions = overhead_space()
    horizon = max(points)
    rows: Dict[str, List[str]] = {}

    def summarise(label: str, wall: List[float], cpu: List[float]) -> None:
        rows[label] = [f"{np.mean(wall[p - window:p]) * 1e3:.2f} / {np.mean(cpu[p - window:p]) * 1e3:.2f}" for p in points]
        print(f"  {label}: " + ", ".join(f"after {p}: {c}" for p, c in zip(points, rows[label])), flush=True)

    print(f"\n## overhead: ms per propose + tell on a 30-decision space (wall / CPU, mean of the {window} "
          "steps before each point); BLAS single-threaded")
    for name in OURS:
        algo = algorithm(name, decisions, seed=0)
        wall, cpu = [], []
        for _ in range(horizon):
            w0, c0 = time.perf_counter(), time.process_time()
            p = algo.propose()
            w1, c1 = time.perf_counter(), time.process_time()
            value = overhead_score(p.assignment)  # the objective is not timed
            w2, c2 = time.perf_counter(), time.process_time()
            algo.tell(p, value)
            w3, c3 = time.perf_counter(), time.process_time()
            wall.append((w1 - w0) + (w3 - w2))
            cpu.append((c1 - c0) + (c3 - c2))
        summarise(name, wall, cpu)

    # pyglove DNA at the boundary (what the DNAGenerator wrapper adds per trial).
    spec = dna_spec(decisions)
    enc = RowEncoding(decisions)
    points_spec = list(spec.elements)
    algo = algorithm("random", decisions, seed=0)
    props = [algo.propose().assignment for _ in range(200)]
    w0 = time.perf_counter()
    for a in props:
        from_dna(enc, points_spec, to_dna(enc, points_spec, a))
    dna_ms = (time.perf_counter() - w0) / len(props) * 1e3
    print(f"  pyglove DNA conversion at the boundary (to_dna + from_dna): {dna_ms:.2f} ms per trial")

    # Optuna TPE: time of ask + suggest (the sampler's work) and tell.
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    wall, cpu = [], []
    for _ in range(horizon):
        w0, c0 = time.perf_counter(), time.process_time()
        t = study.ask()
        a = {f"c{i}": t.suggest_categorical(f"c{i}", [0, 1, 2, 3]) for i in range(12)}
        a.update({f"n{i}": t.suggest_int(f"n{i}", 1, 256, log=True) for i in range(4)})
        a.update({f"i{i}": t.suggest_int(f"i{i}", 0, 10) for i in range(2)})
        a.update({f"f{i}": t.suggest_float(f"f{i}", 1e-5, 1.0, log=True) for i in range(3)})
        a.update({f"u{i}": t.suggest_float(f"u{i}", 0.0, 1.0) for i in range(3)})
        a["gate"] = t.suggest_categorical("gate", [0, 1, 2])
        if a["gate"]:
            a.update({f"g{i}": t.suggest_categorical(f"g{i}", [0, 1, 2, 3]) for i in range(3)})
        pairs = list(itertools.combinations(range(6), 2))
        a.update({f"s{i}": pairs[t.suggest_categorical(f"s{i}", list(range(len(pairs))))] for i in range(2)})
        w1, c1 = time.perf_counter(), time.process_time()
        value = overhead_score(a)
        w2, c2 = time.perf_counter(), time.process_time()
        study.tell(t, value)
        w3, c3 = time.perf_counter(), time.process_time()
        wall.append((w1 - w0) + (w3 - w2))
        cpu.append((c1 - c0) + (c3 - c2))
    summarise("optuna-tpe", wall, cpu)

    # pyglove's regularized evolution on the lead's flat DNASpec of the same table.
    re = pg.evolution.regularized_evolution(pg.evolution.mutators.Uniform(seed=0), population_size=20,
                                            tournament_size=5, seed=0)
    re.setup(spec)
    wall, cpu = [], []
    for _ in range(horizon):
        w0, c0 = time.perf_counter(), time.process_time()
        dna = re.propose()
        w1, c1 = time.perf_counter(), time.process_time()
        value = overhead_score(from_dna(enc, points_spec, dna))
        w2, c2 = time.perf_counter(), time.process_time()
        re.feedback(dna, value)
        w3, c3 = time.perf_counter(), time.process_time()
        wall.append((w1 - w0) + (w3 - w2))
        cpu.append((c1 - c0) + (c3 - c2))
    summarise("pyglove-re", wall, cpu)

    print("\n| method | " + " | ".join(f"after {p} (wall / CPU ms)" for p in points) + " |")
    print("|---|" + "---|" * len(points))
    for label, cells in rows.items():
        print(f"| {label} | " + " | ".join(cells) + " |")
    tpe = float(rows["optuna-tpe"][-1].split(" / ")[0])
    for name in OURS:
        ours = float(rows[name][-1].split(" / ")[0])
        print(f"  {name}: {tpe / max(ours, 1e-9):.0f}x faster than Optuna TPE at {points[-1]} (wall)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--which", default="nb201,toy,overhead", help="comma-separated: nb201, toy, overhead")
    parser.add_argument("--budgets", default="50,100,300", help="NAS-Bench-201 budgets (evaluations)")
    parser.add_argument("--seeds", type=int, default=20, help="NAS-Bench-201 seeds (paired across methods)")
    parser.add_argument("--toy-budget", type=int, default=200, help="evaluations per toy run")
    parser.add_argument("--toy-seeds", type=int, default=10, help="toy seeds")
    args = parser.parse_args(argv)
    which = [w.strip() for w in args.which.split(",") if w.strip()]
    unknown = set(which) - {"nb201", "toy", "overhead"}
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from nb201, toy, overhead")
    started = time.time()
    if "nb201" in which:
        nb201(sorted(int(b) for b in args.budgets.split(",")), args.seeds)
    if "toy" in which:
        toy(args.toy_budget, args.toy_seeds)
    if "overhead" in which:
        overhead()
    print(f"\n(total {time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
