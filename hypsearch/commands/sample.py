"""`hypsearch sample`: concrete programs drawn from a space, as `.hyp` text."""

from __future__ import annotations

import argparse
import os
import random

from hypsearch.dsl.api import dumps, load

from .outputs import count, output_dir

MAX_SAMPLES = 100_000

DESCRIPTION = """Print N concrete programs sampled from a space as .hyp text (every decision replaced by
its value), or write them to DIR/sample-000.hyp, ... with --out. The same --seed gives the same
programs. Sampling runs the Python files the space imports."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="the .hyp space")
    p.add_argument("-n", type=int, default=1, help="number of programs (default 1)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: random)")
    p.add_argument("--out", metavar="DIR", help="write DIR/sample-000.hyp, ... instead of printing")


def main(args: argparse.Namespace) -> int:
    count(args.n, "-n", 1, MAX_SAMPLES)
    if args.out:
        output_dir(args.out)
    space = load(args.file)
    rng = random.Random(args.seed)
    programs = [space.materialize(space.random_assignment(rng)) for _ in range(args.n)]
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        for i, p in enumerate(programs):
            path = os.path.join(args.out, f"sample-{i:03d}.hyp")
            with open(path, "w", encoding="utf-8") as f:
                f.write(dumps(p, path=path))
            print(path)
        return 0
    for i, p in enumerate(programs):
        if args.n > 1:
            print(f"# sample {i}" if i == 0 else f"\n# sample {i}")
        print(dumps(p), end="")
    return 0
