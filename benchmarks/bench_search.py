"""Benchmarks of the search algorithms, each figure printed beside its reference in the same run.

  nb201     NAS-Bench-201 CIFAR-10 (examples/nb201.hyp, table lookup): the validation accuracy is
            the signal, the test accuracy of the program each method names as its best is reported.
  cbm       Channel-Bench-Macro ResNet CIFAR-10 (7 widths of 1-4, read from
            ../shared/benchmarks/channel_bench_macro_resnet_cifar10.csv at run time; it has no
            license to redistribute, so it is not in this repository), with a noisy signal: each
            query returns one of the three recorded runs at random from a seeded stream (the same
            stream for every method at a seed); the `mean` column of the named best is reported.
            On both: random, evolution, mcts and smbo (named best: `recommend()`) beside Optuna's
            default TPE, SMAC3's HPO facade and HEBO (`search_peers.py`; HEBO in its own
            environment), paired by seed: mean +- std per budget, the fraction of runs whose named
            best is the optimum of the signal and that evaluated it, CPU ms per suggestion, and
            paired differences with 95% bootstrap intervals.
  toy       20 categorical decisions of 4 choices, reward = matches to a hidden target: median best
            over seeds, beside Optuna's random and TPE samplers.
  overhead  milliseconds per propose + tell after 100, 500 and 1,000 evaluations on a 30-decision
            space, beside Optuna TPE (ask + suggest) and pyglove's regularized evolution; the pyglove
            DNA conversion at the boundary is reported on its own.

    python benchmarks/bench_search.py --which nb201,cbm --seeds 20 --hebo-seeds 5 --budgets 50,100,200
    python benchmarks/bench_search.py --which nb201,cbm --methods smac --smac-seeds 5 --save smac.json
    python benchmarks/bench_search.py --load ours.json,smac.json   # merge runs (same budgets) and print

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
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Callable, Dict, List, Optional, Sequence  # noqa: E402

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = ["random", "evolution", "mcts", "smbo"]
PEER_NAMES = ["optuna-tpe", "smac", "hebo"]


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


# -- tabular problems, side by side -------------------------------------------------------------

CBM = os.path.join(os.path.dirname(ROOT), "shared", "benchmarks", "channel_bench_macro_resnet_cifar10.csv")


def nb201_problem():
    """NAS-Bench-201 CIFAR-10: the validation accuracy is the signal, the test accuracy is reported."""
    import hypsearch
    from search_peers import Problem

    space = hypsearch.load(os.path.join(ROOT, "examples", "nb201.hyp"))
    names = [d.name for d in space.decisions]
    ops = [str(v) for v in space.decisions[0].literals]
    with open(os.path.join(ROOT, "benchmarks", "data", "nasbench201.csv"), newline="") as f:
        table = {r["arch_str"]: (float(r["cifar10_valid_acc"]), float(r["cifar10_test_acc"])) for r in csv.DictReader(f)}
    params = [(f"e{i}", "cat", ops) for i in range(6)]

    def key(v: dict) -> str:
        e = [v[f"e{i}"] for i in range(6)]
        return f"|{e[0]}~0|+|{e[1]}~0|{e[2]}~1|+|{e[3]}~0|{e[4]}~1|{e[5]}~2|"

    def to_values(a: dict) -> dict:
        choices = space.decode(a)
        return {f"e{i}": choices[n] for i, n in enumerate(names)}

    optimum = max(table, key=lambda k: table[k][0])
    return Problem("NAS-Bench-201 CIFAR-10 (signal: valid, reported: test of the named best)", params, key,
                   lambda k, rng: table[k][0], lambda k: table[k][1], optimum, False, space.decisions, to_values)


def cbm_problem():
    """Channel-Bench-Macro ResNet CIFAR-10, noisy: a query returns one of the three recorded runs at
    random; the `mean` column of the named best is reported."""
    from hypsearch.decisions import Decision
    from search_peers import Problem

    if not os.path.exists(CBM):
        sys.exit(f"Channel-Bench-Macro table not found at {CBM}: it is read from ../shared at benchmark time "
                 "(no license to redistribute it, see ../shared/benchmarks/PROVENANCE.md)")
    with open(CBM, newline="") as f:
        table = {r["arch"]: ([float(r[f"acc_run{i}"]) for i in (1, 2, 3)], float(r["mean"])) for r in csv.DictReader(f)}
    params = [(f"w{i}", "int", 1, 4) for i in range(7)]
    decisions = [Decision(f"w{i}", "int", low=1, high=4) for i in range(7)]

    def key(v: dict) -> str:
        return "".join(str(int(v[f"w{i}"])) for i in range(7))

    optimum = max(table, key=lambda k: table[k][1])
    return Problem("Channel-Bench-Macro ResNet CIFAR-10, noisy (signal: one of 3 runs at random, reported: "
                   "mean of the named best)", params, key, lambda k, rng: table[k][0][int(rng.integers(3))],
                   lambda k: table[k][1], optimum, True, decisions, lambda a: dict(a))


def run_problem(problem, methods: Sequence[str], budgets: Sequence[int], seeds: Dict[str, int],
                on_seed: Optional[Callable[[dict], None]] = None) -> dict:
    """Every method on `problem`: per method, per seed, the reported value of the named best at each
    budget, whether it is the optimum, whether the optimum was evaluated, and the CPU per suggestion.
    `on_seed(results so far)` after every seed (a long run that is stopped keeps its finished seeds)."""
    from search_peers import PEERS, run_ours
    out: dict = {}
    for m in methods:
        n = seeds.get(m, seeds["default"])
        rec = {"budgets": list(budgets), "report": [], "named_opt": [], "seen_opt": [], "cpu": 0.0, "evals": 0}
        out[m] = rec
        started = time.time()
        for s in range(n):
            named, seen, cpu = run_ours(m, problem, s, budgets) if m in OURS else PEERS[m](problem, s, budgets)
            rec["report"].append([problem.report(k) for k in named])
            rec["named_opt"].append([k == problem.optimum for k in named])
            rec["seen_opt"].append([problem.optimum in seen[:b] for b in budgets])
            rec["cpu"] += cpu
            rec["evals"] += len(seen)
            if on_seed is not None:
                on_seed(out)
        print(f"  ran {m}: {n} seeds x {max(budgets)} evaluations in {time.time() - started:.0f} s "
              f"({rec['cpu'] / max(rec['evals'], 1) * 1e3:.2f} ms CPU per suggestion)", flush=True)
    return out


def print_problem(title: str, res: dict) -> None:
    """The figures of one problem: means, optimum found, cost, and paired differences (a method run
    with fewer budgets, e.g. a slow peer merged in from another run, shows '-' for the others)."""
    budgets = sorted({b for r in res.values() for b in r["budgets"]})

    def column(r: dict, key: str, b: int) -> Optional[np.ndarray]:
        return np.array(r[key], dtype=float)[:, r["budgets"].index(b)] if b in r["budgets"] else None

    print(f"\n### {title}")
    print("| method | seeds | " + " | ".join(f"{b} evals" for b in budgets) + " | named best is the optimum (per budget) "
          "| optimum evaluated (per budget) | CPU ms / suggestion |")
    print("|---|---|" + "---|" * (len(budgets) + 3))
    for m, r in res.items():
        cols = [column(r, "report", b) for b in budgets]
        cells = " | ".join("-" if c is None else f"{c.mean():.3f} +- {c.std():.3f}" for c in cols)
        named = " / ".join("-" if b not in r["budgets"] else f"{column(r, 'named_opt', b).mean():.2f}" for b in budgets)
        seen = " / ".join("-" if b not in r["budgets"] else f"{column(r, 'seen_opt', b).mean():.2f}" for b in budgets)
        print(f"| {m} | {len(r['report'])} | {cells} | {named} | {seen} | {r['cpu'] / max(r['evals'], 1) * 1e3:.2f} |")
    rng = np.random.default_rng(0)
    print("\npaired differences (row minus column method, same seeds; HEBO and SMAC pair on their seeds): "
          "mean [95% bootstrap interval]; '>' marks an interval above zero, '<' below")
    pairs = [(a, c) for a in OURS if a in res for c in res if c != a and (c not in OURS or c == "random")]
    for b in budgets:
        print(f"\nbudget {b}:")
        for a, c in pairs:
            x, y = column(res[a], "report", b), column(res[c], "report", b)
            if x is None or y is None:
                continue
            n = min(len(x), len(y))
            mean, lo, hi = bootstrap(x[:n] - y[:n], rng)
            mark = ">" if lo > 0 else "<" if hi < 0 else "="
            print(f"  {a:>9} - {c:<10} {mean:+.3f} [{lo:+.3f}, {hi:+.3f}] {mark}  (n={n})")


def tabular(which: Sequence[str], methods: Sequence[str], budgets: Sequence[int], seeds: Dict[str, int],
            save: Optional[str], load: Sequence[str]) -> None:
    """Run (or load) and print the side-by-side comparison on the tabular problems."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from search_peers import hebo_available
    results: Dict[str, dict] = {}
    for path in load:
        with open(path) as f:
            for title, res in json.load(f).items():
                for r in res.values():
                    r.setdefault("budgets", list(budgets))  # files saved before runs recorded their budgets
                results.setdefault(title, {}).update(res)
    if "hebo" in methods:
        why = hebo_available()
        if why:
            print(f"(HEBO left out: {why})")
            methods = [m for m in methods if m != "hebo"]
    if "optuna-tpe" in methods:
        optuna_module()
    for w in which:
        problem = nb201_problem() if w == "nb201" else cbm_problem()
        print(f"\n## {problem.name}: {', '.join(methods)}; budgets {list(budgets)}; seeds {seeds}", flush=True)
        def keep(partial: dict, title: str = problem.name) -> None:
            results.setdefault(title, {}).update(partial)
            if save:  # after every seed: what a stopped run finished is kept
                with open(save, "w") as f:
                    json.dump(results, f)
        keep(run_problem(problem, methods, budgets, seeds, on_seed=keep))
    for title, res in results.items():
        print_problem(title, res)


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

    from hypsearch.decisions.dna import dna_spec
    from hypsearch.search import algorithm
    from hypsearch.decisions.dna import from_dna, to_dna
    optuna = optuna_module()

    decisions = overhead_space()
    horizon = max(points)
    rows: Dict[str, List[str]] = {}

    def summarise(label: str, wall: List[float], cpu: List[float]) -> None:
        rows[label] = [f"{np.mean(wall[p - window:p]) * 1e3:.2f} / {np.mean(cpu[p - window:p]) * 1e3:.2f} "
                       f"(median {np.median(cpu[p - window:p]) * 1e3:.2f})" for p in points]
        print(f"  {label}: " + ", ".join(f"after {p}: {c}" for p, c in zip(points, rows[label])), flush=True)

    print(f"\n## overhead: ms per propose + tell on a 30-decision space (wall / CPU, mean of the {window} "
          "steps before each point, and their median CPU: a mean includes a refit where one falls in the "
          "window); BLAS single-threaded")
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
    algo = algorithm("random", decisions, seed=0)
    props = [algo.propose().assignment for _ in range(200)]
    w0 = time.perf_counter()
    for a in props:
        from_dna(decisions, to_dna(decisions, a, spec), spec)
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
        value = overhead_score(from_dna(decisions, dna, spec))
        w2, c2 = time.perf_counter(), time.process_time()
        re.feedback(dna, value)
        w3, c3 = time.perf_counter(), time.process_time()
        wall.append((w1 - w0) + (w3 - w2))
        cpu.append((c1 - c0) + (c3 - c2))
    summarise("pyglove-re", wall, cpu)

    print("\n| method | " + " | ".join(f"after {p} (wall / CPU ms, median CPU)" for p in points) + " |")
    print("|---|" + "---|" * len(points))
    for label, cells in rows.items():
        print(f"| {label} | " + " | ".join(cells) + " |")
    tpe = float(rows["optuna-tpe"][-1].split(" / ")[0])
    for name in OURS:
        ours = float(rows[name][-1].split(" / ")[0])
        print(f"  {name}: {tpe / max(ours, 1e-9):.0f}x faster than Optuna TPE at {points[-1]} (wall)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--which", default="nb201,cbm,toy,overhead", help="comma-separated: nb201, cbm, toy, overhead")
    parser.add_argument("--budgets", default="50,100,200", help="budgets of the tabular problems (evaluations)")
    parser.add_argument("--seeds", type=int, default=20, help="seeds of the tabular problems (paired across methods)")
    parser.add_argument("--hebo-seeds", type=int, default=5, help="seeds for HEBO (the first ones of --seeds)")
    parser.add_argument("--smac-seeds", type=int, default=20, help="seeds for SMAC3 (the first ones of --seeds)")
    parser.add_argument("--methods", default=",".join(OURS + PEER_NAMES),
                        help=f"comma-separated methods of the tabular problems: {', '.join(OURS + PEER_NAMES)}")
    parser.add_argument("--save", help="write the tabular results to this JSON file")
    parser.add_argument("--load", default="", help="comma-separated JSON files of earlier runs to merge in (same budgets)")
    parser.add_argument("--toy-budget", type=int, default=200, help="evaluations per toy run")
    parser.add_argument("--toy-seeds", type=int, default=10, help="toy seeds")
    args = parser.parse_args(argv)
    which = [w.strip() for w in args.which.split(",") if w.strip()]
    unknown = set(which) - {"nb201", "cbm", "toy", "overhead"}
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from nb201, cbm, toy, overhead")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = set(methods) - set(OURS + PEER_NAMES)
    if bad:
        parser.error(f"unknown method(s) {', '.join(sorted(bad))}; choose from {', '.join(OURS + PEER_NAMES)}")
    started = time.time()
    tables = [w for w in which if w in ("nb201", "cbm")]
    load = [p for p in args.load.split(",") if p]
    if tables or load:
        seeds = {"default": args.seeds, "hebo": args.hebo_seeds, "smac": args.smac_seeds}
        tabular(tables, methods, sorted(int(b) for b in args.budgets.split(",")), seeds, args.save, load)
    if "toy" in which:
        toy(args.toy_budget, args.toy_seeds)
    if "overhead" in which:
        overhead()
    print(f"\n(total {time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
