"""`hypsearch plot`: best-so-far curves of one or more experiments."""

from __future__ import annotations

import argparse

from .outputs import output_file

FORMATS = (".png", ".pdf", ".svg")

DESCRIPTION = """\
Plot the best value found so far against the trial number and against wall time, one line per
experiment directory (to compare algorithms or settings). Writes a PNG.

example:
  hypsearch plot runs/mcts-* runs/random-* --out curve.png
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="experiment directories")
    parser.add_argument("--out", required=True, metavar="FILE", help="the image to write (.png, .pdf or .svg)")


def main(args: argparse.Namespace) -> int:
    # The runner loads on use: every command module is imported to build the CLI's parser, and
    # `check` or `sample` must not pay for (or depend on) the runner.
    from hypsearch.runner.plot import plot

    output_file(args.out, suffixes=FORMATS)
    path = plot(args.dirs, args.out)
    print(f"wrote {path}")
    return 0
