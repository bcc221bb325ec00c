"""`hypsearch run`: search a space, training and scoring each proposed program."""

from __future__ import annotations

import argparse
import os
import sys

from hypsearch import search
from hypsearch.dsl.errors import HypError

from .outputs import count, output_dir

DESCRIPTION = """\
Search a .hyp space: the algorithm proposes programs, each is trained and scored as one trial
(on Ray Tune by default, or in this process with --executor inline), and everything is recorded
in an experiment directory (--out, default runs/<space>-<time>). Options given here override the
file's search(...) block. `hypsearch run --resume DIR` continues an interrupted experiment.

examples:
  hypsearch run examples/quickstart.hyp --algo mcts
  hypsearch run space.hyp --trials 50 --gpus-per-trial 0.25 --scheduler asha
  hypsearch run space.hyp --address 10.0.0.5:6379 --storage s3://bucket/runs
  hypsearch run --resume runs/space-20250101-120000
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help="the .hyp space to search (not with --resume)")
    parser.add_argument("--resume", metavar="DIR", help="continue the experiment in DIR")
    parser.add_argument("--algo", choices=search.names(), help="search algorithm")
    parser.add_argument("--trials", type=int, metavar="N", help="number of trials in all (resumed ones included)")
    parser.add_argument("--seed", type=int, metavar="S", help="seed of the algorithm (default: chosen and recorded)")
    parser.add_argument("--out", metavar="DIR", help="experiment directory (default runs/<space>-<time>)")
    parser.add_argument("--executor", choices=["ray", "inline"], help="ray (default) or inline: one trial at a time in this process")
    parser.add_argument("--address", metavar="A", help="join this Ray cluster (default: start a local Ray)")
    parser.add_argument("--storage", metavar="URI", help="where Ray Tune stores its results (shared path or bucket for clusters)")
    parser.add_argument("--cpus-per-trial", type=float, metavar="C", help="CPUs per trial; with --pack, per pack (default 1)")
    parser.add_argument("--gpus-per-trial", type=float, metavar="G", help="GPUs per trial; fractions pack trials on one GPU; "
                                                                           "with --pack, per pack (default 0)")
    parser.add_argument("--max-concurrent", type=int, metavar="K", help="trials at once (default: as many as resources allow)")
    parser.add_argument("--scheduler", choices=["fifo", "asha", "pbt"],
                        help="fifo (default), asha (stop poor trials early) or pbt (population-based training: "
                             "exploit and perturb searchable recipe values between epochs)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"],
                        help="inline executor: where trials train (default auto: cuda when --gpus-per-trial > 0 "
                             "and a GPU is there)")
    parser.add_argument("--max-failures", type=int, metavar="F",
                        help="retries of a trial whose worker died; then it is recorded failed (default 2)")
    parser.add_argument("--trial-timeout", type=float, metavar="SECONDS",
                        help="a trial running longer is stopped and recorded failed; with --pack, the limit of "
                             "a whole pack (default: no limit)")
    parser.add_argument("--enqueue", action="append", metavar="FILE.hyp",
                        help="a concrete program of the space to evaluate first, its result told to the "
                             "algorithm (repeatable; a warm start)")
    parser.add_argument("--warm-start", metavar="DIR",
                        help="tell the algorithm every finished trial of the experiment in DIR whose program "
                             "fits this space (matched by decision name), without running them again")
    parser.add_argument("--pack", type=int, metavar="K",
                        help="train up to K proposals at once as one batched population (same "
                             "layers and tensor shapes, data and batch size; each member keeps its own learning "
                             "rate, optimizer settings, dropout, seed and batch order and gets its own journal "
                             "line). On Ray one Tune trial runs one pack: --cpus-per-trial / --gpus-per-trial "
                             "are then per pack, and --scheduler asha stops members alone. Programs with batch norm "
                             "(running statistics), mixtures of experts, ensembles trained member by member, augmentation, gradient accumulation, "
                             "streamed data, imported Python files or a Python objective are trained alone (default 1)")
    parser.add_argument("--repeats", type=int, metavar="R",
                        help="train every program with R seeds (train.seed, +1, ...), packed; "
                             "its value is the mean, the journal keeps each seed's value and the std. A program "
                             "that trains alone runs its seeds one after another: --scheduler asha judges the "
                             "first and stops the others at the same epoch (default 1)")
    parser.add_argument("--algo-opt", action="append", default=[], metavar="KEY=VALUE", help="algorithm option (repeatable)")
    parser.add_argument("--dashboard", action="store_true", default=None, help="start Ray's dashboard (local Ray only)")
    parser.add_argument("--log", action="append", metavar="tensorboard|mlflow[=URI]",
                        help="also write each trial's per-epoch metrics and decisions for TensorBoard (DIR/tensorboard) "
                             "or MLflow (default sqlite:///DIR/mlflow.db); repeatable")
    parser.add_argument("--quiet", action="store_true", help="no progress (default: progress on a terminal only)")
    parser.add_argument("--progress", action="store_true", help="progress even when stderr is not a terminal (a line per trial)")
    parser.add_argument("--top", type=int, default=5, metavar="N", help="rows of the final table (default 5)")


def main(args: argparse.Namespace) -> int:
    # The runner loads on use: every command module is imported to build the CLI's parser, and
    # `check` or `sample` must not pay for (or depend on) the runner.
    from hypsearch.runner import run
    from hypsearch.runner.experiment import ExperimentDir
    from hypsearch.runner.report import failure_summary, trials_table
    from hypsearch.runner.settings import parse_algo_options

    if args.resume and args.file:
        raise HypError("give either a FILE or --resume DIR, not both")
    if not args.resume and not args.file:
        raise HypError("hypsearch run needs a .hyp FILE (or --resume DIR)")
    if args.file and not os.path.exists(args.file):
        raise HypError(f"no such file: {args.file}")
    count(args.top, "--top", 0, 1_000_000)
    if args.out:
        output_dir(args.out)
    options = {
        "algo": args.algo, "trials": args.trials, "seed": args.seed, "out": args.out, "executor": args.executor,
        "address": args.address, "storage": args.storage, "cpus_per_trial": args.cpus_per_trial,
        "gpus_per_trial": args.gpus_per_trial, "max_concurrent": args.max_concurrent, "scheduler": args.scheduler,
        "max_failures": args.max_failures, "trial_timeout": args.trial_timeout, "dashboard": args.dashboard,
        "device": args.device, "pack": args.pack, "repeats": args.repeats,
        "enqueue": [os.path.abspath(f) for f in args.enqueue] if args.enqueue else None,
        "warm_start": args.warm_start,
        "algo_options": parse_algo_options(args.algo_opt) if args.algo_opt else None,
        "progress": False if args.quiet else (True if args.progress else None), "log": args.log,
    }
    command = ["hypsearch"] + sys.argv[1:]
    experiment = run(args.file, resume=args.resume, command=command, **options)
    counts = experiment.counts()
    print(f"\n{len(experiment.trials)} trials: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    print(trials_table(experiment.trials, experiment.mode, top=args.top))
    errors = failure_summary(experiment.trials, rewrite=ExperimentDir(experiment.dir).to_user_paths)
    if errors:
        print("\nerrors of failed trials (hypsearch show DIR --json has them whole):\n" + "\n".join(f"  {e}" for e in errors))
    if experiment.best_hyp:
        print(f"\nbest program: {experiment.best_hyp}")
        if experiment.best_weights:
            print(f"best weights: {experiment.best_weights}")
    else:
        print("\nno trial finished with status ok")
    print(f"experiment:   {experiment.dir}")
    return 0
