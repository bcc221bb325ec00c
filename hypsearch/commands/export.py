"""`hypsearch export`: the best model of an experiment as a weights file."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Export the best model of an experiment: its state dict plus its .hyp text, in a file that
torch.load(path, weights_only=True) reads (no pickled modules). hypsearch.load_model(path)
rebuilds the nn.Module from it.

example:
  hypsearch export runs/quickstart-20250101-120000 --out model.pt
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="experiment directory")
    parser.add_argument("--out", required=True, metavar="FILE", help="where to write the model (.pt)")


def main(args: argparse.Namespace) -> int:
    # The runner loads on use: every command module is imported to build the CLI's parser, and
    # `check` or `sample` must not pay for (or depend on) the runner.
    from hypsearch.runner.export import export

    path = export(args.dir, args.out)
    print(f"wrote {path}")
    return 0
