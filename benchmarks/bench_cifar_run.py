"""The prepared device check of the CIFAR example: write a synthetic CIFAR-10 folder (python-pickle
batches of random images), run `examples/cifar10.hyp` on it for a few trials with the inline
executor on the chosen device, and print each trial's time, status and accuracy, then the trainer
benchmark (`bench_train.py`) on the same device. One script, so that a session lent a GPU spends
its minutes on measuring, not on setting up.

    python benchmarks/bench_cifar_run.py [--device cuda] [--trials 3] [--epochs 2] [--per-batch 2000] [--no-bench]

The data is random: accuracies are chance level; the figures are times. On a CPU use small
numbers (`--per-batch 40 --epochs 1`), as this project's own check does.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "cifar10.hyp")


def write_cifar10(root: str, per_batch: int, seed: int = 0) -> None:
    """Five training batches and a test batch of `per_batch` random 32x32 images each."""
    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(os.path.join(root, name), "wb") as f:
            pickle.dump({b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                         b"labels": [int(v) for v in rng.integers(0, 10, per_batch)]}, f)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--per-batch", type=int, default=2000, help="images per CIFAR batch file (6 files)")
    ap.add_argument("--no-bench", action="store_true", help="skip bench_train.py")
    args = ap.parse_args()

    import hypsearch

    with tempfile.TemporaryDirectory(prefix="hyp-cifar-") as tmp:
        data = os.path.join(tmp, "cifar-10-batches-py")
        write_cifar10(data, args.per_batch)
        text = open(EXAMPLE).read()
        text = text.replace('cifar10("cifar-10-batches-py")', f'cifar10("{data}")')
        text = text.replace("epochs = 30", f"epochs = {args.epochs}")
        if args.device == "cpu":
            text = text.replace('precision = "bf16"', 'precision = "fp32"')
        space = os.path.join(tmp, "cifar10.hyp")
        with open(space, "w") as f:
            f.write(text)
        started = time.perf_counter()
        exp = hypsearch.run(space, executor="inline", device=args.device, trials=args.trials, algo="random",
                            seed=0, out=os.path.join(tmp, "exp"), progress=False)
        wall = time.perf_counter() - started
        print(f"hypsearch run examples/cifar10.hyp: {args.trials} trials, {args.epochs} epochs, "
              f"{5 * args.per_batch} training images, device {args.device}: {wall:.1f} s")
        for t in exp.trials:
            took = (t.finished or 0) - (t.started or 0)
            acc = f"{t.value:.3f}" if t.value is not None else "-"
            print(f"  trial {t.id}: {t.status.value:8} {took:7.1f} s  val_accuracy {acc}"
                  + (f"  ({t.error.splitlines()[0]})" if t.error else ""))
        failed = [t for t in exp.trials if t.status.value != "ok"]
    if not args.no_bench:
        bench = [sys.executable, os.path.join(HERE, "bench_train.py"), "--device", args.device, "--repeats", "5"]
        if args.device == "cpu":
            bench += ["--samples", "256", "--repeats", "2"]
        subprocess.run(bench, check=False)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
