"""Warm start: smbo on NAS-Bench-201 with the 20 best programs of an earlier 100-trial run
enqueued (`hypsearch.optimize(..., enqueue=...)`), against a cold start, side by side.

For each seed: an earlier smbo run of 100 trials (seed + 1000), then two runs of N trials each
(N = 20, 50): one cold, one whose first 20 trials are the earlier run's 20 best (they count in
the N, since enqueued programs are evaluated again). Prints the median best validation accuracy
and the paired differences. Usage: python benchmarks/bench_warm_start.py [--seeds 10]
"""

from __future__ import annotations

import argparse
import os
import statistics

import hypsearch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budgets", type=int, nargs="+", default=[20, 50])
    args = parser.parse_args()
    space = hypsearch.load(os.path.join(ROOT, "examples", "nb201.hyp"))
    rows = {n: {"cold": [], "warm": []} for n in args.budgets}
    for seed in range(args.seeds):
        earlier = hypsearch.optimize(space, algo="smbo", trials=100, seed=seed + 1000)
        best = sorted((t for t in earlier.trials if t.value is not None), key=lambda t: -t.value)[:20]
        programs = [earlier.program(t) for t in best]
        for n in args.budgets:
            cold = hypsearch.optimize(space, algo="smbo", trials=n, seed=seed)
            warm = hypsearch.optimize(space, algo="smbo", trials=n, seed=seed, enqueue=programs)
            rows[n]["cold"].append(cold.best.value)
            rows[n]["warm"].append(warm.best.value)
    print(f"smbo on NAS-Bench-201 (CIFAR-10 validation accuracy), {args.seeds} seeds")
    print(f"{'evaluations':>12} {'cold median':>12} {'warm median':>12} {'median diff':>12} {'warm ahead':>11}")
    for n in args.budgets:
        cold, warm = rows[n]["cold"], rows[n]["warm"]
        diffs = [w - c for w, c in zip(warm, cold)]
        ahead = sum(d > 0 for d in diffs)
        print(f"{n:>12} {statistics.median(cold):>12.3f} {statistics.median(warm):>12.3f} "
              f"{statistics.median(diffs):>+12.3f} {ahead:>8}/{len(diffs)}")


if __name__ == "__main__":
    main()
