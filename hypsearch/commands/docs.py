"""`hypsearch docs`: write the vocabulary reference (docs/vocabulary.md) from the registry."""

from __future__ import annotations

import argparse
import os
import sys

from hypsearch.dsl.errors import HypError

DESCRIPTION = """Write the vocabulary reference: every built-in component, its arguments, their types,
defaults and docs, generated from the registry (user components are left out). --check exits 1
when the file differs from what would be written (for CI)."""

DEFAULT_OUT = os.path.join("docs", "vocabulary.md")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=DEFAULT_OUT, help=f"the file to write (default {DEFAULT_OUT})")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file is stale")


def main(args: argparse.Namespace) -> int:
    from hypsearch.dsl.reference import vocabulary_markdown

    text = vocabulary_markdown()
    if args.check:
        try:
            with open(args.out, encoding="utf-8") as f:
                current = f.read()
        except OSError:
            current = None
        if current != text:
            print(f"{args.out} is stale: run `hypsearch docs --out {args.out}`", file=sys.stderr)
            return 1
        print(f"{args.out}: up to date")
        return 0
    folder = os.path.dirname(args.out)
    try:
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise HypError(f"--out {args.out}: cannot write ({e.strerror or e})") from None
    print(f"wrote {args.out}")
    return 0
