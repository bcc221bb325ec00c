"""`hypsearch export`: the best model of an experiment as a weights file."""

from __future__ import annotations

import argparse

from .outputs import output_file

DESCRIPTION = """\
Export the best model of an experiment: its state dict plus its .hyp text, in a file that
torch.load(path, weights_only=True) reads (no pickled modules). hypsearch.load_model(path)
rebuilds the nn.Module from it.

Exporting reads the .hyp text stored in the best model's file. When that program imports Python
files or modules (custom components), exporting would run them: it is refused unless --trust is
given. Give --trust only for experiments you (or someone you trust) ran.

--optuna FILE writes every finished trial as an Optuna study in a journal file (decisions as
Optuna distributions, states COMPLETE / PRUNED / FAIL, program texts as user attributes).

examples:
  hypsearch export runs/quickstart-20250101-120000 --out model.pt
  hypsearch export runs/quickstart-20250101-120000 --optuna study.log && optuna-dashboard study.log
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="experiment directory")
    parser.add_argument("--out", metavar="FILE", help="where to write the model (.pt)")
    parser.add_argument("--optuna", metavar="FILE",
                        help="also (or instead) write the experiment as an Optuna journal-storage study, for "
                             "`optuna-dashboard FILE` (needs the `optuna` extra)")
    parser.add_argument("--trial", type=int, metavar="N",
                        help="export trial N instead of the best: its program (--out FILE.hyp), or its model "
                             "(--out FILE.pt) when its weights were kept (the best's)")
    parser.add_argument("--trust", action="store_true",
                        help="run the Python files and modules the model's program imports (only for trusted files)")


def main(args: argparse.Namespace) -> int:
    # The runner loads on use: every command module is imported to build the CLI's parser, and
    # `check` or `sample` must not pay for (or depend on) the runner.
    from hypsearch.dsl.errors import HypError

    if not args.out and not args.optuna:
        raise HypError("hypsearch export needs --out FILE (the best model) or --optuna FILE (the study)")
    if args.optuna:
        from hypsearch.runner.export_optuna import export_optuna

        output_file(args.optuna, option="--optuna")
        path, name, n = export_optuna(args.dir, args.optuna, trust=args.trust)
        print(f"wrote study `{name}` ({n} trials) to {path}; view it with: optuna-dashboard {path}")
    if args.out and args.trial is not None:
        from hypsearch.runner.export_trial import export_trial

        output_file(args.out)
        print(f"wrote {export_trial(args.dir, args.trial, args.out, trust=args.trust)}")
        return 0
    if args.out:
        from hypsearch.runner.export import export

        output_file(args.out)
        path = export(args.dir, args.out, trust=args.trust)
        print(f"wrote {path}")
    return 0
