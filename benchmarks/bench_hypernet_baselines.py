"""Task-conditioned hypernetworks against the two usual baselines, on split and permuted digits.

For each multi-task set, in one run:
  (a) hypernet: the best program of a small search over `examples/digits_hypernet.hyp` (its data
      replaced by the set), trained and scored by the runner's `evaluate`;
  (b) per-task: one independent MLP per task, trained on that task's samples only;
  (c) shared:   one network for all tasks, trained jointly without the task id, at two sizes:
      "shared-target" is the best hypernetwork program itself minus its hypernetwork (the same
      target network and training recipe, its weights learned directly); "shared-params" is a
      one-hidden-layer MLP with about as many trainable parameters as the hypernetwork.
The figure compared is the mean validation accuracy over the tasks (`val_accuracy`). Every arm
is selected on the same validation data: the hypernetwork by its search, the baselines by a small
grid over learning rate and width. All arms train for the same epochs (the example's, or
--epochs): one epoch over a task's samples is the same number of sample presentations whether the
task is trained alone or jointly with the others.

    python benchmarks/bench_hypernet_baselines.py [--trials 24] [--algo random] [--seed 0] [--epochs E]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time

import numpy as np
import torch
from torch import nn

import hypsearch
from hypsearch.data import load_data
from hypsearch.dsl.vocabulary import data as D
from hypsearch.dsl.vocabulary import training as T
from hypsearch.runner.errors import TrialFailed, TrialInvalid
from hypsearch.runner.train import fit
from hypsearch.runner.trial import evaluate

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "digits_hypernet.hyp")
SETS = {"split_digits": D.split_digits(tasks=5), "permuted_digits": D.permuted_digits(tasks=5)}
LRS = (3e-3, 1e-2)


def search_hypernet(space, data, epochs: int, trials: int, algo: str, seed: int):
    """(a): the best program of a search with the set's data: (program, metrics, seconds, failures)."""
    scored = []
    failures = []

    def score(program):
        program = program.clone(deep=True, override={"data": data, "train.epochs": epochs})
        try:
            result = evaluate(program, base_dir=os.path.dirname(EXAMPLE))
        except (TrialFailed, TrialInvalid) as e:
            failures.append(f"{type(e).__name__}: {e}")
            raise
        scored.append((result.value, result.metrics, program))
        return result.value

    start = time.perf_counter()
    hypsearch.optimize(space, score, algo=algo, trials=trials, seed=seed, mode="max")
    elapsed = time.perf_counter() - start
    if not scored:
        raise SystemExit(f"no hypernetwork trial succeeded; failures: {failures[:3]}")
    value, metrics, program = max(scored, key=lambda s: s[0])
    return program, metrics, elapsed, len(failures)


def mlp(hidden: int, inputs: int = 64, classes: int = 10) -> nn.Module:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, classes))


def mlp_params(hidden: int, inputs: int = 64, classes: int = 10) -> int:
    return inputs * hidden + hidden + hidden * classes + classes


def per_task_mlps(dataset, epochs: int, widths, seed: int):
    """(b): an independent MLP per task; the best (lr, width) by mean task accuracy."""
    best = None
    for lr, width in itertools.product(LRS, widths):
        accs = []
        for t in range(dataset.tasks):
            torch.manual_seed(seed + t)
            history = fit(mlp(width), dataset.for_task(t),
                          T.train(epochs=epochs, batch_size=32, optimizer=T.adam(lr=lr), seed=seed + t))
            accs.append(history[-1]["val_accuracy"])
        mean = float(np.mean(accs))
        if best is None or mean > best[0]:
            best = (mean, accs, dict(lr=lr, width=width),
                    dataset.tasks * mlp_params(width))
    return best


def shared_target(program):
    """(c) at the hypernetwork's target size: the same program without its hypernetwork."""
    result = evaluate(program.clone(deep=True, override={"hypernet": None}), base_dir=os.path.dirname(EXAMPLE))
    m = result.metrics
    accs = [m[f"val_accuracy_task{t}"] for t in range(program.data.info().tasks)]
    return m["val_accuracy"], accs, m["params"], "the best program without its hypernet"


def shared_mlp(dataset, epochs: int, width: int, seed: int):
    """(c) at the hypernetwork's parameter count: one MLP for all tasks; the best lr."""
    best = None
    for lr in LRS:
        torch.manual_seed(seed)
        recipe = T.train(epochs=epochs, batch_size=32, optimizer=T.adam(lr=lr), seed=seed)
        m = fit(mlp(width), dataset, recipe)[-1]
        accs = [m[f"val_accuracy_task{t}"] for t in range(dataset.tasks)]
        if best is None or m["val_accuracy"] > best[0]:
            best = (m["val_accuracy"], accs, dict(lr=lr, width=width), mlp_params(width))
    return best


def describe(program) -> str:
    """The hypernetwork and recipe of a program on one line."""
    h, t = program.hypernet, program.train
    counts = hypsearch.build(program).param_counts
    return (f"input {h.input!r}, body {h.body!r}, head {h.head!r}, mip {h.mip}; generated target "
            f"{counts['target_generated']:,} weights; batch {t.batch_size}, lr {t.optimizer.lr:.2g}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=24, help="hypernetwork programs searched per set")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of every arm (default: the example's)")
    parser.add_argument("--algo", default="random", help="search algorithm (random, mcts, smbo, evolution)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (tiny models: 1 is fastest)")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    space = hypsearch.load(EXAMPLE)
    epochs = args.epochs or space.sample(seed=0).train.epochs
    print(f"space: {os.path.relpath(EXAMPLE)} ({len(space.decisions)} decisions); {args.trials} trials of "
          f"{args.algo}, seed {args.seed}; every arm trains {epochs} epochs; baselines choose lr from {LRS}")
    rows = []
    for name in args.sets:
        comp = SETS[name]
        dataset = load_data(comp)
        best, hyper, search_s, failed = search_hypernet(space, comp, epochs, args.trials, args.algo, args.seed)
        hyper_params = hyper["params"]
        t1 = time.perf_counter()
        width = max(16, round((hyper_params - 10) / 75))  # one hidden layer: 75 * width + 10 parameters
        per_task = per_task_mlps(dataset, epochs, (64, 128), args.seed)
        shared_t = shared_target(best)
        shared_p = shared_mlp(dataset, epochs, width, args.seed)
        t2 = time.perf_counter()
        hyper_accs = [hyper[f"val_accuracy_task{t}"] for t in range(dataset.tasks)]
        print(f"\n{name} (tasks={dataset.tasks}, train={len(dataset.x_train)}, val={len(dataset.x_val)}): "
              f"search {search_s:.0f} s ({failed} failed trials), baselines {t2 - t1:.0f} s")
        print(f"  {'arm':<14} {'mean val acc':>12} {'params':>9}  per-task accuracies / settings")
        for arm, (mean, accs, params, note) in (
            ("hypernet", (hyper["val_accuracy"], hyper_accs, hyper_params, "best of the search")),
            ("per-task", (per_task[0], per_task[1], per_task[3], per_task[2])),
            ("shared-target", shared_t),
            ("shared-params", (shared_p[0], shared_p[1], shared_p[3], shared_p[2])),
        ):
            print(f"  {arm:<14} {mean:>12.4f} {params:>9,}  {' '.join(f'{a:.3f}' for a in accs)}  {note}")
        print(f"  best hypernetwork program: {describe(best)}")
        rows.append((name, hyper["val_accuracy"], per_task[0], max(shared_t[0], shared_p[0])))
    print("\nsummary: mean validation accuracy over tasks (goal: hypernet >= per-task and >= the better shared)")
    ok = True
    for name, h, p, s in rows:
        met = h >= p and h >= s
        ok &= met
        print(f"  {name:<16} hypernet {h:.4f}  per-task {p:.4f}  shared {s:.4f}  "
              f"hypernet-per_task {h - p:+.4f}  hypernet-shared {h - s:+.4f}  {'met' if met else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
