"""Multi-objective search on Channel-Bench-Macro ResNet CIFAR-10, every method side by side in one run.

The table (7 layers x 4 widths, 16,384 networks, three recorded accuracies, params and flops each)
is read at run time from ../shared/benchmarks/channel_bench_macro_resnet_cifar10.csv; it has no
license to redistribute, so it is never copied into this repository.

  front        maximise the mean accuracy, minimise params. Both are normalised to [0, 1] over the
               table (accuracy up, params down), the reference point is the worst accuracy and the
               largest params of the table (0, 0 after normalising), and the figure is the
               hypervolume of the front found in the first 50 / 100 / 200 evaluations as a share
               of the table's own front.
  constrained  maximise the mean accuracy with params at most the table's median: the best
               feasible accuracy found at each budget, and how often a method named an infeasible
               best. Ours are told a violating network as infeasible without its accuracy (the
               runner decides params before training); Optuna's samplers get its accuracy and the
               constraint through `constraints_func` (more than ours get). Every proposal counts as
               an evaluation, also one told infeasible.

Methods: random, evolution, mcts and smbo of hypsearch (directions=["max", "min"]), Optuna's
NSGAIISampler, TPESampler (multi-objective) and RandomSampler, paired by seed (the same seeds
for every method), with 95% paired bootstrap intervals of each method's difference from the best
Optuna sampler at that budget, and from hypsearch's random search.

    python benchmarks/bench_multiobjective.py --seeds 20 --budgets 50,100,200
    python benchmarks/bench_multiobjective.py --seeds 5 --which front --methods smbo,optuna-nsga2

The figures of the last full run are in benchmarks/results/multiobjective/.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Dict, List, Sequence, Tuple  # noqa: E402

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CBM = os.path.join(os.path.dirname(ROOT), "shared", "benchmarks", "channel_bench_macro_resnet_cifar10.csv")
OURS = ["random", "evolution", "mcts", "smbo"]
PEERS = ["optuna-nsga2", "optuna-tpe", "optuna-random"]


def load_table() -> Dict[str, Tuple[float, float]]:
    """arch -> (mean accuracy, params)."""
    if not os.path.exists(CBM):
        sys.exit(f"Channel-Bench-Macro table not found at {CBM}: it is read from ../shared at benchmark time")
    with open(CBM, newline="") as f:
        return {r["arch"]: (float(r["mean"]), float(r["params"])) for r in csv.DictReader(f)}


class Problem:
    """The table, normalised: a point is (accuracy share, 1 - params share), both maximised."""

    def __init__(self, table: Dict[str, Tuple[float, float]]):
        from hypsearch.search.pareto import hypervolume
        self.table = table
        acc = np.array([v[0] for v in table.values()])
        par = np.array([v[1] for v in table.values()])
        self.acc_range, self.par_range = (acc.min(), acc.max()), (par.min(), par.max())
        self.median_params = float(np.median(par))
        every = np.array([self.point(k) for k in table])
        self.reference = np.zeros(2)
        self.best_hv = hypervolume(every, self.reference)
        feasible = [k for k in table if table[k][1] <= self.median_params]
        self.best_feasible = max(table[k][0] for k in feasible)

    def point(self, arch: str) -> np.ndarray:
        a, p = self.table[arch]
        return np.array([(a - self.acc_range[0]) / (self.acc_range[1] - self.acc_range[0]),
                         1.0 - (p - self.par_range[0]) / (self.par_range[1] - self.par_range[0])])

    def hv_share(self, archs: Sequence[str]) -> float:
        from hypsearch.search.pareto import hypervolume
        if not archs:
            return 0.0
        return hypervolume(np.array([self.point(k) for k in archs]), self.reference) / self.best_hv


def key(values: dict) -> str:
    return "".join(str(int(values[f"w{i}"])) for i in range(7))


def decisions():
    from hypsearch.decisions import Decision
    return [Decision(f"w{i}", "int", low=1, high=4) for i in range(7)]


# -- the methods: each returns the architectures it evaluated, in order ---------------------------

def run_ours(name: str, problem: Problem, budget: int, seed: int, constrained: bool) -> Tuple[List[str], List[str]]:
    """(evaluated archs, named best after each of the budgets... as one list per evaluation count)."""
    from hypsearch.search import algorithm
    if constrained:
        algo = algorithm(name, decisions(), seed=seed, directions=["max"], constraints=1)
    else:
        algo = algorithm(name, decisions(), seed=seed, directions=["max", "min"])
    archs, named = [], []
    for _ in range(budget):
        trial = algo.propose()
        arch = key(trial.assignment)
        acc, params = problem.table[arch]
        if constrained:
            c = params - problem.median_params
            if c > 0:
                algo.tell(trial, None, feasible=False, constraints=[c])  # decided before training
            else:
                algo.tell(trial, acc, constraints=[c])
            best = algo.best()
            named.append(key(best.assignment) if best is not None else "")
        else:
            algo.tell(trial, [acc, params])
        archs.append(arch)
    return archs, named


def run_optuna(name: str, problem: Problem, budget: int, seed: int, constrained: bool) -> Tuple[List[str], List[str]]:
    import warnings

    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=FutureWarning)  # constraints_func: still the documented way in 5.0
    constraints_func = (lambda t: [t.user_attrs["c"]]) if constrained else None
    if name == "optuna-nsga2":
        sampler = optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints_func)
    elif name == "optuna-tpe":
        sampler = optuna.samplers.TPESampler(seed=seed, constraints_func=constraints_func)
    else:
        sampler = optuna.samplers.RandomSampler(seed=seed)
    directions = ["maximize"] if constrained else ["maximize", "minimize"]
    study = optuna.create_study(directions=directions, sampler=sampler)
    archs, named = [], []
    best_acc, best_arch = -1.0, ""
    for _ in range(budget):
        trial = study.ask()
        arch = key({f"w{i}": trial.suggest_int(f"w{i}", 1, 4) for i in range(7)})
        acc, params = problem.table[arch]
        if constrained:
            c = params - problem.median_params
            trial.set_user_attr("c", c)
            study.tell(trial, acc)
            if c <= 0 and acc > best_acc:
                best_acc, best_arch = acc, arch
            named.append(best_arch)
        else:
            study.tell(trial, [acc, params])
        archs.append(arch)
    return archs, named


def run_method(name: str, problem: Problem, budget: int, seed: int, constrained: bool):
    return (run_ours if name in OURS else run_optuna)(name, problem, budget, seed, constrained)


# -- figures --------------------------------------------------------------------------------------

def bootstrap(diff: np.ndarray, rng: np.random.Generator, resamples: int = 10000):
    """Mean and 95% bootstrap interval of the mean of paired differences."""
    idx = rng.integers(0, len(diff), size=(resamples, len(diff)))
    means = diff[idx].mean(axis=1)
    return diff.mean(), np.percentile(means, 2.5), np.percentile(means, 97.5)


def run_all(problem: Problem, methods: Sequence[str], budgets: Sequence[int], seeds: int, which: str) -> dict:
    """Per method: per seed, the figure at each budget (hypervolume share, or best feasible
    accuracy and whether the named best was infeasible), and seconds per run."""
    constrained = which == "constrained"
    out: Dict[str, dict] = {}
    top = max(budgets)
    for name in methods:
        values, infeasible, secs = [], [], []
        for seed in range(seeds):
            start = time.process_time()
            archs, named = run_method(name, problem, top, seed, constrained)
            secs.append(time.process_time() - start)
            if constrained:
                row, bad = [], []
                for b in budgets:
                    best = named[b - 1]
                    row.append(problem.table[best][0] if best else float("nan"))
                    bad.append(bool(best) and problem.table[best][1] > problem.median_params)
                values.append(row)
                infeasible.append(bad)
            else:
                values.append([problem.hv_share(archs[:b]) for b in budgets])
        out[name] = {"values": values, "infeasible": infeasible, "cpu_s": float(np.mean(secs))}
        print(f"  {name}: done ({np.mean(secs):.1f} s CPU a run)", file=sys.stderr, flush=True)
    return out


def report(problem: Problem, results: dict, budgets: Sequence[int], which: str, seeds: int) -> None:
    constrained = which == "constrained"
    if constrained:
        print(f"\nconstrained: best mean accuracy with params <= {problem.median_params:,.0f} (table median); "
              f"the best feasible in the table is {problem.best_feasible:.3f}; {seeds} seeds, mean (std)")
    else:
        print(f"\nfront: hypervolume of the front found, as a share of the table's front (normalised "
              f"accuracy up, params down; reference: worst accuracy, largest params); {seeds} seeds, mean (std)")
    header = f"{'method':<15}" + "".join(f"{f'@{b}':>18}" for b in budgets) + f"{'CPU s/run':>11}"
    print(header)
    for name, r in results.items():
        v = np.array(r["values"])
        cells = "".join(f"{np.nanmean(v[:, i]):>10.4f} ({np.nanstd(v[:, i]):.4f})" for i in range(len(budgets)))
        extra = ""
        if constrained:
            bad = int(np.array(r["infeasible"]).sum())
            extra = f"   infeasible named best: {bad}"
        print(f"{name:<15}{cells}{r['cpu_s']:>11.2f}{extra}")
    peers = [p for p in PEERS[:2] if p in results]
    if not peers:
        return
    rng = np.random.default_rng(0)
    print("\npaired differences from the best Optuna sampler at each budget (mean [95% bootstrap interval]):")
    for i, b in enumerate(budgets):
        means = {p: np.nanmean(np.array(results[p]["values"])[:, i]) for p in peers}
        ref = max(means, key=means.get)
        row = [f"@{b} vs {ref}:"]
        for name in results:
            if name == ref:
                continue
            d = np.array(results[name]["values"])[:, i] - np.array(results[ref]["values"])[:, i]
            d = d[np.isfinite(d)]
            m, lo, hi = bootstrap(d, rng)
            row.append(f"{name} {m:+.4f} [{lo:+.4f}, {hi:+.4f}]")
        print("  " + row[0] + "\n    " + "\n    ".join(row[1:]))
    if "random" not in results:
        return
    print("\npaired differences from random (hypsearch's) at each budget (mean [95% bootstrap interval]):")
    for i, b in enumerate(budgets):
        row = []
        for name in results:
            if name == "random":
                continue
            d = np.array(results[name]["values"])[:, i] - np.array(results["random"]["values"])[:, i]
            m, lo, hi = bootstrap(d[np.isfinite(d)], rng)
            row.append(f"{name} {m:+.4f} [{lo:+.4f}, {hi:+.4f}]")
        print(f"  @{b}:\n    " + "\n    ".join(row))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budgets", default="50,100,200")
    parser.add_argument("--which", default="front,constrained", help="front, constrained or both")
    parser.add_argument("--methods", default=",".join(OURS + PEERS))
    parser.add_argument("--save", metavar="FILE", help="write the raw figures as JSON")
    args = parser.parse_args(argv)
    budgets = [int(b) for b in args.budgets.split(",")]
    methods = [m for m in args.methods.split(",") if m]
    unknown = [m for m in methods if m not in OURS + PEERS]
    if unknown:
        parser.error(f"unknown methods {unknown}; known: {', '.join(OURS + PEERS)}")
    problem = Problem(load_table())
    saved = {"config": vars(args)}
    for which in args.which.split(","):
        print(f"{which}: {len(methods)} methods x {args.seeds} seeds x {max(budgets)} evaluations", file=sys.stderr)
        results = run_all(problem, methods, budgets, args.seeds, which)
        report(problem, results, budgets, which, args.seeds)
        saved[which] = results
    if args.save:
        with open(args.save, "w") as f:
            json.dump(saved, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
