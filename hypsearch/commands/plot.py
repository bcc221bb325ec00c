"""`hypsearch plot`: history, decision importance or parallel coordinates of experiments."""

from __future__ import annotations

import argparse

from .outputs import output_file

FORMATS = (".png", ".pdf", ".svg")

DESCRIPTION = """\
Plot experiments from their journals (no program runs). --kind:
  history     every trial as a dot and the best so far, against trial number and wall time, the
              metric named on the axis; one colour per DIR (to compare algorithms or settings)
  importance  which decisions matter: permutation importance of a random forest fitted to one
              experiment's trials (decisions -> value)
  parallel    parallel coordinates of one experiment: each decision an axis, a line per trial
              coloured by its value
  front       several objectives: for two, the trials' scatter and the Pareto front; for more,
              parallel coordinates (an axis per objective, better end up, the front in colour)
  matrix      the best trial's accuracy matrix (tasks trained in turn: train(regime = ...))
Writes a PNG, SVG or PDF.

examples:
  hypsearch plot runs/mcts-* runs/random-* --out curve.png
  hypsearch plot runs/quickstart-20250101-120000 --kind importance --out importance.svg
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="experiment directories")
    parser.add_argument("--out", required=True, metavar="FILE", help="the image to write (.png, .pdf or .svg)")
    parser.add_argument("--kind", choices=["history", "importance", "parallel", "matrix", "front"], default="history",
                        help="what to plot (default history)")


def main(args: argparse.Namespace) -> int:
    # The runner loads on use: every command module is imported to build the CLI's parser, and
    # `check` or `sample` must not pay for (or depend on) the runner.
    from hypsearch.runner.plot import plot

    output_file(args.out, suffixes=FORMATS)
    path = plot(args.dirs, args.out, kind=args.kind)
    print(f"wrote {path}")
    return 0
