"""Language benchmark: parse + build a large file; sample + materialize against pyglove's own path.

    python benchmarks/bench_dsl.py [--lines 5000] [--samples 200]

Prints medians measured side by side in one run:
1. parse + build (decision table included) of a generated file of about `--lines` lines;
2. per program: hypsearch's `random_assignment` + `materialize` on its decision table, against
   pyglove's `pg.random_dna` + `pg.materialize` on the same space expressed as pyglove hyper
   values (`Space.to_pyglove()`), for examples/nb201.hyp and examples/digits_hypernet.hyp.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

import pyglove as pg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import hypsearch  # noqa: E402


def generated_file(lines: int) -> str:
    """A valid .hyp file of about `lines` lines: many lets, templates and a long target."""
    out = ["data = digits()", "let act = oneof(relu(), gelu(), tanh())",
           "def block(w) = sequential(linear(out = w), act, dropout(p = floatv(0.0, 0.5)))"]
    n = 0
    body = []
    while len(out) + len(body) < lines - 3:
        body.append(f"  block(oneof(16, 32, 64)),  # block {n}")
        body.append("  optional(layernorm()),")
        n += 1
    return "\n".join(out + ["target = sequential("] + body + ["  linear(out = 10),", ")"]) + "\n"


def timed(fn, repeats: int) -> list:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=5000)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    text = generated_file(args.lines)
    times = timed(lambda: hypsearch.loads(text, filename="generated.hyp"), args.repeats)
    space = hypsearch.loads(text, filename="generated.hyp")
    print(f"1. parse + build, {text.count(chr(10))} lines, {len(space.decisions)} decisions: "
          f"median {statistics.median(times) * 1e3:.0f} ms over {args.repeats} runs")

    print("\n2. sample + materialize one program (medians, ms)")
    print(f"{'space':<22}{'decisions':>10}{'pg decisions':>14}{'hypsearch':>12}{'pg.random_dna':>15}{'pg.materialize':>16}{'pg total':>10}{'speed-up':>10}")
    for path in ("examples/nb201.hyp", "examples/digits_hypernet.hyp"):
        space = hypsearch.load(os.path.join(ROOT, path))
        hyper = space.to_pyglove()
        spec = pg.dna_spec(hyper)
        rng = random.Random(0)
        ours, dna_t, mat_t = [], [], []
        for _ in range(args.samples):  # interleaved, so load changes hit both alike
            t0 = time.perf_counter()
            space.materialize(space.random_assignment(rng))
            t1 = time.perf_counter()
            dna = pg.random_dna(spec, rng)
            t2 = time.perf_counter()
            pg.materialize(hyper, dna)
            t3 = time.perf_counter()
            ours.append(t1 - t0)
            dna_t.append(t2 - t1)
            mat_t.append(t3 - t2)
        m = statistics.median
        total = [a + b for a, b in zip(dna_t, mat_t)]
        print(f"{os.path.basename(path):<22}{len(space.decisions):>10}{len(spec.decision_points):>14}"
              f"{m(ours) * 1e3:>12.2f}{m(dna_t) * 1e3:>15.2f}{m(mat_t) * 1e3:>16.2f}{m(total) * 1e3:>10.2f}"
              f"{m(total) / m(ours):>9.1f}x")


if __name__ == "__main__":
    main()
