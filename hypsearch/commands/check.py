"""`hypsearch check`: validate `.hyp` files and describe their spaces."""

from __future__ import annotations

import argparse
import sys

from hypsearch.dsl.api import load
from hypsearch.dsl.errors import HypError
from hypsearch.runner.precheck import precheck

DESCRIPTION = """Check .hyp files: parse them, resolve every name and argument, and print per file the
number of decision points by kind and the size of the space ("infinite" with a floatv).

Checking RUNS THE PYTHON FILES AND MODULES a .hyp file imports (`import "my_layers.py"`), since
they register the components the file uses: check only files you trust. Such a file runs with
your permissions and can do anything, even end `check` early with its own exit status (a file
calling os._exit(0) makes check exit 0 having checked nothing). Exit status 0 when every file is
valid, 2 otherwise (with an error for each invalid file). Check builds the space's shape
combinations on torch's meta device (all of them, or a sample plus every value of each decision
that changes a shape): "every program fails" is an error, "some programs fail: when ..." a
warning (run skips those programs without spending trials). --summary builds the model on torch's
meta device: it allocates no weights, so a huge layer is described, not allocated."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help=".hyp files to check")
    p.add_argument("--list", action="store_true", help="list every decision: name, domain, when it is active")
    p.add_argument("--summary", action="store_true",
                   help="build a sampled program and print its layer table (imports torch)")
    p.add_argument("--no-build", action="store_true",
                   help="only the language and search-settings checks: no shape or metric check (imports no torch)")
    p.add_argument("--seed", type=int, default=0, help="seed of the program --summary builds (default 0)")


def describe(space) -> str:
    """One line: decision counts by kind and the size of the space."""
    counts = space.counts()
    n = sum(counts.values())
    kinds = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    size = "infinite" if space.size is None else f"{space.size:,}"
    return f"{n} decision{'s' if n != 1 else ''}{f' ({kinds})' if kinds else ''}, size {size}"


def _short(text: str) -> str:
    return text if len(text) <= 30 or "(" not in text else text.split("(", 1)[0] + "(...)"


def condition_text(cond, by_name) -> str:
    """`hypernet.head is lowrank(...)`: a condition in the parent choice's own text."""
    parent = by_name.get(cond.parent)
    values = sorted(cond.values)
    if parent is None or not parent.choices:
        return f"{cond.parent} in {values}"
    texts = [_short(parent.choices[int(v)]) if 0 <= int(v) < len(parent.choices) else str(v) for v in values]
    return f"{cond.parent} is {' or '.join(texts)}"


def _summary(program) -> str:
    """The layer table of a program, built without allocating its weights (torch's meta device)."""
    import torch  # only for --summary

    from hypsearch.compile import build

    try:
        with torch.device("meta"):
            model = build(program)
    except HypError:
        raise
    except Exception:  # a lowering that needs real tensors: build it for real
        model = build(program)
    return model.summary()


def main(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            space = load(path)
            # The whole space: settings, metric, every shape combination (torch, meta device).
            warnings = precheck(space, build=not args.no_build)
            print(f"{path}: ok, {describe(space)}")
            for w in warnings:
                print(w, file=sys.stderr)
            if args.list:
                by_name = {d.name: d for d in space.decisions}
                for d in space.decisions:
                    when = f"  when {condition_text(d.condition, by_name)}" if d.condition else ""
                    print(f"  {d.name}: {d.describe()}{when}")
            if args.summary:
                print(_summary(space.sample(seed=args.seed)))
        except HypError as e:
            print(e.render(), file=sys.stderr)
            status = 2
    return status
