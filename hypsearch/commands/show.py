"""`hypsearch show`: the trials of an experiment directory, counts by status and the best program."""

from __future__ import annotations

import argparse
import json
import sys

from .outputs import count

DESCRIPTION = """\
Show an experiment directory: the trials table (sorted by --sort: value, id, duration or any
reported metric), counts by status and the best program. --json prints everything as JSON.

examples:
  hypsearch show runs/quickstart-20250101-120000
  hypsearch show runs/quickstart-20250101-120000 --sort val_loss --top 20
  hypsearch show runs/quickstart-20250101-120000 --trial 3
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="experiment directory")
    parser.add_argument("--json", action="store_true", help="print the experiment as JSON")
    parser.add_argument("--sort", metavar="METRIC", help="sort by value (default), id, duration or a metric")
    parser.add_argument("--top", type=int, metavar="N", help="show only the first N rows")
    parser.add_argument("--front", action="store_true",
                        help="only the Pareto front (an experiment with several objectives or constraints)")
    parser.add_argument("--trial", type=int, metavar="N",
                        help="one trial: its status, last epoch's metrics, built-in metrics, accuracy matrix "
                             "and program")


def asked_text(exp) -> str:
    """`asked 4, then 6 on resume`: the trials each start and resume of the experiment asked for."""
    asked = [exp.settings.trials]
    for r in (exp.run or {}).get("resumes", []):
        n = (r.get("settings") or {}).get("trials") if isinstance(r, dict) else None
        if isinstance(n, int) and n > max(asked):  # a resume asking no more ran nothing new
            asked.append(n)
    text = f"asked {asked[0]}"
    if len(asked) > 1:
        text += ", then " + ", then ".join(str(n) for n in asked[1:]) + " on resume"
    return text


def main(args: argparse.Namespace) -> int:
    # The runner loads on use: every command module is imported to build the CLI's parser, and
    # `check` or `sample` must not pay for (or depend on) the runner.
    from hypsearch.runner.experiment import Experiment, ExperimentDir
    from hypsearch.runner.accuracy_matrix import table as accuracy_table
    from hypsearch.runner.measure import describe as describe_builtin
    from hypsearch.runner.report import failure_summary, last_metrics, sort_trials, trials_table

    if args.top is not None:
        count(args.top, "--top", 0, 10_000_000)
    exp = Experiment.open(args.dir)
    for damage in exp.damaged:  # the damaged file stays as it is; what is intact is shown
        print(f"warning: {damage} (skipped)", file=sys.stderr)
    best = exp.best
    if args.trial is not None:
        return show_trial(exp, args.trial, as_json=args.json)
    if args.json:
        rows = sort_trials(exp.trials, exp.mode, args.sort)
        if args.top is not None:
            rows = rows[:args.top]
        print(json.dumps({
            "dir": exp.dir, "mode": exp.mode, "settings": exp.settings.to_json(), "counts": exp.counts(),
            "best": None if best is None else best.to_json(), "best_hyp": exp.best_hyp,
            "trials": [r.to_json() for r in rows], "damaged": exp.damaged,
        }, indent=2))
        return 0
    counts = ", ".join(f"{n} {s}" for s, n in exp.counts().items() if n) or "none finished"
    print(f"{exp.dir}: {exp.settings.algo}, {len(exp.trials)} trials ({asked_text(exp)}; {counts}), "
          f"objective {'maximised' if exp.mode == 'max' else 'minimised'}")
    from hypsearch.runner.front import experiment_directions, front_tables
    directions = experiment_directions(exp)
    if args.front and directions is None:
        print("warning: --front: the experiment has one objective and no constraints; its best is its front",
              file=sys.stderr)
    if exp.trials and directions is not None:
        print(front_tables(exp.trials, exp.mode, directions, only_front=args.front, top=args.top, sort=args.sort))
    elif exp.trials:
        print(trials_table(exp.trials, exp.mode, top=args.top, sort=args.sort))
    errors = failure_summary(exp.trials, rewrite=ExperimentDir(exp.dir).to_user_paths)
    if errors:
        print("\nerrors of failed trials:\n" + "\n".join(f"  {e}" for e in errors))
    if best is not None:
        print(f"\nbest: trial {best.id}, value {best.value:.6g}" + (f"  ({exp.best_hyp})" if exp.best_hyp else ""))
        builtin = describe_builtin(last_metrics(best))
        if builtin:  # measured once per trained trial (hypsearch/runner/measure.py)
            print(f"built: {builtin}")
        for change in last_metrics(best).get("pbt") or []:  # --scheduler pbt: the program is its last change's
            print(f"pbt: {_pbt_change(change)}")
        print(best.program.rstrip())
        matrix = last_metrics(best).get("accuracy_matrix")
        if matrix:  # a multi-task classification set: how the best trial did on each task, in turn
            print("\n" + accuracy_table(matrix))
    return 0


def show_trial(exp, trial_id: int, as_json: bool = False) -> int:
    """One trial of the experiment in full (the journal's record of it)."""
    from hypsearch.dsl.errors import HypError
    from hypsearch.runner.accuracy_matrix import table as accuracy_table
    from hypsearch.runner.measure import MEASURED, STATIC, describe as describe_builtin
    from hypsearch.runner.report import last_metrics

    found = [t for t in exp.trials if t.id == trial_id]
    if not found:
        ids = sorted(t.id for t in exp.trials)
        raise HypError(f"--trial {trial_id}: {exp.dir} has no finished trial {trial_id}"
                       + (f" (trials {ids[0]}-{ids[-1]})" if ids else ""))
    record = found[0]
    if as_json:
        print(json.dumps(record.to_json(), indent=2))
        return 0
    last = last_metrics(record)
    value = "-" if record.value is None else f"{record.value:.6g}"
    print(f"trial {record.id}: {record.status}, value {value}, {len(record.metrics)} epoch(s) reported, "
          f"budget {record.budget:.3g}, {record.finished - record.started:.1f} s")
    if record.error:
        print(f"error: {record.error.splitlines()[0]}")
    plain = {k: v for k, v in last.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
             and k not in STATIC + MEASURED}
    if plain:
        print("last epoch: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                         for k, v in plain.items()))
    builtin = describe_builtin(last)
    if builtin:
        print(f"built: {builtin}")
    matrix = last.get("accuracy_matrix")
    if matrix:
        stopped = record.status == "stopped"
        print("\n" + accuracy_table(matrix, stopped_at=last.get("epoch", len(record.metrics)) if stopped else None))
    if record.program:
        print("\n" + record.program.rstrip())
    return 0


def _pbt_change(change: dict) -> str:
    """`after epoch 2, continued from trial 1 with train.optimizer.lr 0.0188 -> 0.018`."""
    moved = ", ".join(f"{k} {_g(a)} -> {_g(b)}" for k, (a, b) in (change.get("changed") or {}).items())
    return (f"after epoch {change.get('after_epoch')}, continued from trial {change.get('from')}"
            + (f" with {moved}" if moved else " (same recipe values)"))


def _g(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
