"""Per-trial overhead of the two executors, side by side in one run.

A trivial Python objective (a few arithmetic operations on the program's parameters), 200 trials,
the same algorithm and seed for both executors; `ray.init` is timed apart and not counted. The
algorithm's own time (propose / tell on the same space, no trials) is measured too, so the
inline executor's overhead can be read without it.

Goals (issue 5): Ray executor <= 100 ms per trial, inline executor <= 5 ms per trial plus the
algorithm's time.

    python benchmarks/bench_run.py [--trials 200] [--algo random] [--concurrent 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

SPACE = """\
a = intv(0, 100)
b = floatv(0.0, 1.0)
c = oneof(1, 2, 3, 4)
objective = maximize(python("objective.py:score"))
"""

OBJECTIVE = """\
def score(program):
    p = program.params
    return -abs(p["a"] - 42) - (p["b"] - 0.5) ** 2 + p["c"]
"""


def algorithm_time(space, algo: str, trials: int, seed: int) -> float:
    """Seconds the algorithm alone spends proposing and learning from `trials` programs."""
    import hypsearch.search as search
    alg = search.algorithm(algo, space.decisions, seed=seed)
    start = time.perf_counter()
    for i in range(trials):
        p = alg.propose()
        if p is None:
            break
        alg.tell(p, float(i % 7))
    return time.perf_counter() - start


def language_time(space, trials: int, seed: int) -> float:
    """Seconds the language spends turning `trials` assignments into programs and `.hyp` text."""
    import random
    import hypsearch
    rng = random.Random(seed)
    assignments = [space.random_assignment(rng) for _ in range(trials)]
    start = time.perf_counter()
    for a in assignments:
        hypsearch.dumps(space.materialize(a))
    return time.perf_counter() - start


def fsync_time(directory: str, lines: int) -> float:
    """Seconds to append and fsync `lines` journal-sized lines on this disk."""
    path = os.path.join(directory, "fsync-probe")
    start = time.perf_counter()
    with open(path, "a") as f:
        for _ in range(lines):
            f.write("x" * 400 + "\n")
            f.flush()
            os.fsync(f.fileno())
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--algo", default="random")
    parser.add_argument("--concurrent", type=int, default=2, help="max concurrent trials for Ray")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import hypsearch
    import ray

    work = tempfile.mkdtemp(prefix="bench_run_")
    try:
        with open(os.path.join(work, "space.hyp"), "w") as f:
            f.write(SPACE)
        with open(os.path.join(work, "objective.py"), "w") as f:
            f.write(OBJECTIVE)
        space = hypsearch.load(os.path.join(work, "space.hyp"))
        import torch  # noqa: F401  (a trial's first use of torch is a one-off import, not overhead)
        algo_s = algorithm_time(space, args.algo, args.trials, args.seed)
        lang_s = language_time(space, args.trials, args.seed)
        fsync_s = fsync_time(work, args.trials)

        common = dict(algo=args.algo, trials=args.trials, seed=args.seed)
        t = time.perf_counter()
        inline = hypsearch.run(space, executor="inline", out=os.path.join(work, "inline"), **common)
        inline_s = time.perf_counter() - t

        t = time.perf_counter()
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, logging_level="WARNING")
        init_s = time.perf_counter() - t
        t = time.perf_counter()
        rayrun = hypsearch.run(space, executor="ray", out=os.path.join(work, "ray"),
                               max_concurrent=args.concurrent, cpus_per_trial=1, **common)
        ray_s = time.perf_counter() - t
        ray.shutdown()

        n_in, n_ray = len(inline.trials), len(rayrun.trials)
        per_in = 1000 * inline_s / n_in
        per_algo = 1000 * algo_s / args.trials
        per_ray = 1000 * ray_s / n_ray
        print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}, ray {ray.__version__}")
        print(f"trials: inline {n_in}, ray {n_ray} (max {args.concurrent} at once), algorithm {args.algo}")
        per_lang = 1000 * lang_s / args.trials
        per_fsync = 1000 * fsync_s / args.trials
        print(f"algorithm alone:   {per_algo:7.2f} ms/trial  ({algo_s:.2f} s)")
        print(f"  inside the inline figure, measured apart: materialize + dumps {per_lang:.2f} ms/trial "
              f"(the language), journal fsync {per_fsync:.2f} ms/trial (this disk)")
        print(f"inline executor:   {per_in:7.2f} ms/trial  ({inline_s:.2f} s); "
              f"minus the algorithm {per_in - per_algo:.2f} ms/trial  (goal <= 5)")
        print(f"  without the language's and the disk's share: "
              f"{per_in - per_algo - per_lang - per_fsync:.2f} ms/trial")
        print(f"ray.init:          {init_s:7.2f} s (not counted)")
        print(f"ray executor:      {per_ray:7.2f} ms/trial  ({ray_s:.2f} s)  (goal <= 100)")
        print(f"ray / inline:      {per_ray / per_in:7.1f} x")
        same = [(a.id, a.value) for a in inline.trials] == [(b.id, b.value) for b in sorted(rayrun.trials, key=lambda r: r.id)]
        # Expected with --concurrent 1, or with an algorithm whose proposals ignore results (random).
        print(f"same programs and values in both journals: {same}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
