"""Trials per minute of a small search with the inline executor on CUDA against the CPU, side by
side in one run (the GPU check of issue 5; the GPU machine has no Ray, so the inline executor).

The same space, algorithm, seed and trial count run twice: once with `gpus_per_trial=1` (trials
train on `cuda`) and once on the CPU. Prints trials per minute for both, their ratio, and whether
the two runs proposed the same programs.

    python benchmarks/bench_gpu_inline.py [--trials 12] [--algo mcts] [--space examples/quickstart.hyp]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default=os.path.join(os.path.dirname(__file__), "..", "examples", "quickstart.hyp"))
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--algo", default="mcts")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch
    import hypsearch

    cuda = torch.cuda.is_available()
    print(f"torch {torch.__version__}, cuda available: {cuda}"
          + (f" ({torch.cuda.get_device_name(0)})" if cuda else " (the GPU row runs on the CPU)"))
    work = tempfile.mkdtemp(prefix="bench_gpu_")
    rows = []
    try:
        # Warm-up (not counted): imports, data loading and CUDA initialisation happen once.
        hypsearch.run(args.space, executor="inline", algo="random", trials=1, seed=args.seed,
                      gpus_per_trial=1.0, out=os.path.join(work, "warmup"))
        for label, gpus in (("gpu", 1.0), ("cpu", 0.0)):
            start = time.perf_counter()
            exp = hypsearch.run(args.space, executor="inline", algo=args.algo, trials=args.trials, seed=args.seed,
                                gpus_per_trial=gpus, out=os.path.join(work, label))
            seconds = time.perf_counter() - start
            rows.append((label, exp, seconds))
            best = exp.best
            print(f"{label}: {len(exp.trials)} trials in {seconds:.1f} s = {60 * len(exp.trials) / seconds:.1f} "
                  f"trials/min; {exp.counts()}; best {None if best is None else round(best.value, 4)}")
        (_, gpu_exp, gpu_s), (_, cpu_exp, cpu_s) = rows
        print(f"gpu / cpu throughput: {cpu_s / gpu_s:.2f} x")
        same = [r.program for r in gpu_exp.trials][:1] == [r.program for r in cpu_exp.trials][:1]
        print(f"first proposal identical on both devices: {same}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
