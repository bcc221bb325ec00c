"""`hypsearch check`: validate `.hyp` files and describe their spaces."""

from __future__ import annotations

import argparse
import sys

from hypsearch.dsl.api import load
from hypsearch.dsl.errors import HypError

DESCRIPTION = """Check .hyp files: parse them, resolve every name and argument, and print per file the
number of decision points by kind and the size of the space ("infinite" with a floatv).

Checking runs the Python files a .hyp file imports (`import "my_layers.py"`), since they register
the components the file uses: check only files you trust. Exit status 0 when every file is valid,
2 otherwise (with an error for each invalid file)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help=".hyp files to check")
    p.add_argument("--list", action="store_true", help="list every decision: name, domain, when it is active")
    p.add_argument("--summary", action="store_true",
                   help="build a sampled program and print its layer table (imports torch)")
    p.add_argument("--seed", type=int, default=0, help="seed of the program --summary builds (default 0)")


def describe(space) -> str:
    """One line: decision counts by kind and the size of the space."""
    counts = space.counts()
    n = sum(counts.values())
    kinds = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    size = "infinite" if space.size is None else f"{space.size:,}"
    return f"{n} decision{'s' if n != 1 else ''}{f' ({kinds})' if kinds else ''}, size {size}"


def main(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            space = load(path)
            print(f"{path}: ok, {describe(space)}")
            if args.list:
                for d in space.decisions:
                    when = f"  when {d.condition.parent} in {sorted(d.condition.values)}" if d.condition else ""
                    print(f"  {d.name}: {d.describe()}{when}")
            if args.summary:
                from hypsearch.compile import build  # torch, only for --summary
                model = build(space.sample(seed=args.seed))
                print(model.summary())
        except HypError as e:
            print(e.render(), file=sys.stderr)
            status = 2
    return status
