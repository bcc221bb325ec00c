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

example:
  hypsearch export runs/quickstart-20250101-120000 --out model.pt
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="experiment directory")
    parser.add_argument("--out", required=True, metavar="FILE", help="where to write the model (.pt)")
    parser.add_argument("--trust", action="store_true",
                        help="run the Python files and modules the model's program imports (only for trusted files)")


def main(args: argparse.Namespace) -> int:
    # The runner loads on use: every command module is imported to build the CLI's parser, and
    # `check` or `sample` must not pay for (or depend on) the runner.
    from hypsearch.runner.export import export

    output_file(args.out)
    path = export(args.dir, args.out, trust=args.trust)
    print(f"wrote {path}")
    return 0
