"""A long run under load: does anything degrade over 2,000 trials?

A trivial Python objective, 2,000 trials on each executor (inline: one at a time in its worker
process; Ray: 2 at once). While the run goes, a thread samples the driver's resident memory and
the journal's finished lines, so the per-trial overhead (wall time per finished trial, the
objective itself costs microseconds) and the memory are read at 100, 1,000 and 2,000 trials.
Then each search algorithm's proposal cost is measured once it has learned from 2,000 trials
(median of 20 proposals, with the algorithm alone: no trials run).

    python benchmarks/bench_load.py [--trials 2000] [--executors inline,ray] [--algos all]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time

SPACE = """\
a = intv(0, 100)
b = floatv(0.0, 1.0)
c = oneof(1, 2, 3, 4)
d = floatv(0.0, 1.0)
objective = maximize(python("objective.py:score"))
"""

OBJECTIVE = """\
def score(program):
    p = program.params
    return -abs(p["a"] - 42) - (p["b"] - 0.5) ** 2 + p["c"] - p["d"]
"""

MARKS = (100, 1000, 2000)
WINDOW = 50  # trials per overhead measurement, ending at each mark


class Sampler(threading.Thread):
    """Samples (time, finished trials, driver RSS) every 0.1 s from the journal and /proc."""

    def __init__(self, journal: str):
        super().__init__(daemon=True)
        import psutil
        self.proc = psutil.Process()
        self.journal = journal
        self.samples = []  # (t, finished, rss bytes, driver CPU seconds)
        self.finish_times = []  # time each finished line was first seen
        self.stop = threading.Event()
        self._offset = 0
        self._buffer = b""

    def run(self) -> None:
        while not self.stop.wait(0.1):
            self._read()
        self._read()

    def _read(self) -> None:
        now = time.time()
        if os.path.exists(self.journal):
            with open(self.journal, "rb") as f:
                f.seek(self._offset)
                data = f.read()
                self._offset += len(data)
            self._buffer += data
            *lines, self._buffer = self._buffer.split(b"\n")
            for line in lines:
                if line and b'"status": "pending"' not in line:
                    self.finish_times.append(now)
        cpu = self.proc.cpu_times()
        self.samples.append((now, len(self.finish_times), self.proc.memory_info().rss, cpu.user + cpu.system))


def run_one(executor: str, trials: int, work: str) -> dict:
    import hypsearch

    out = os.path.join(work, f"exp-{executor}")
    shutil.rmtree(out, ignore_errors=True)
    sampler = Sampler(os.path.join(out, "trials.jsonl"))
    sampler.start()
    opts = dict(executor=executor, algo="random", trials=trials, seed=0, out=out)
    if executor == "ray":
        opts.update(max_concurrent=2, cpus_per_trial=1)
    started = time.time()
    exp = hypsearch.run(os.path.join(work, "space.hyp"), **opts)
    wall = time.time() - started
    sampler.stop.set()
    sampler.join()
    counts = exp.counts()
    report = {"executor": executor, "wall_s": wall, "counts": counts, "marks": {}}
    # Per-trial overhead from the journal's own finish times (exact, not the sampler's 0.1 s grid).
    finishes = sorted(t.finished for t in exp.trials)
    for mark in MARKS:
        if mark > len(finishes):
            continue
        lo = max(0, mark - WINDOW)
        per_trial = (finishes[mark - 1] - finishes[lo]) / max(1, mark - 1 - lo)
        gaps = [b - a for a, b in zip(finishes[lo:mark - 1], finishes[lo + 1:mark])]
        at = next((s for s in sampler.samples if s[1] >= mark), sampler.samples[-1])
        before = next((s for s in sampler.samples if s[1] >= lo + 1), sampler.samples[0])
        cpu = (at[3] - before[3]) / max(1, at[1] - before[1])
        report["marks"][mark] = {"per_trial_ms": per_trial * 1000, "median_gap_ms": statistics.median(gaps) * 1000,
                                 "driver_cpu_ms": cpu * 1000, "rss_mb": at[2] / 2**20}
    return report


def proposal_costs(trials: int, work: str, algos) -> dict:
    import hypsearch
    import hypsearch.search as search
    from hypsearch.search.trial import Status, Trial

    space = hypsearch.load(os.path.join(work, "space.hyp"))
    out = {}
    for name in algos:
        alg = search.algorithm(name, space.decisions, seed=0, direction="max")
        rng = random.Random(0)
        learn_start = time.perf_counter()
        for _ in range(trials):
            p = alg.propose()
            if p is None:
                break
            alg.observe(Trial(p.id, dict(p.assignment), status=Status.OK, value=rng.random()))
        learn = time.perf_counter() - learn_start
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            p = alg.propose()
            times.append(time.perf_counter() - t0)
            if p is None:
                break
            alg.observe(Trial(p.id, dict(p.assignment), status=Status.OK, value=rng.random()))
        out[name] = {"median_ms": statistics.median(times) * 1000, "learn_s": learn}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--executors", default="inline,ray")
    ap.add_argument("--algos", default="all")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="hyp-load-")
    with open(os.path.join(work, "space.hyp"), "w") as f:
        f.write(SPACE)
    with open(os.path.join(work, "objective.py"), "w") as f:
        f.write(OBJECTIVE)
    for executor in [e for e in args.executors.split(",") if e]:
        r = run_one(executor, args.trials, work)
        print(f"{executor}: {args.trials} trials in {r['wall_s']:.1f} s, {r['counts']}")
        for mark, m in r["marks"].items():
            print(f"  at {mark:>5} trials: {m['per_trial_ms']:7.2f} ms/trial wall (last {WINDOW}; median gap "
                  f"{m['median_gap_ms']:6.2f} ms), driver CPU {m['driver_cpu_ms']:6.2f} ms/trial, "
                  f"driver RSS {m['rss_mb']:7.1f} MB")
        sys.stdout.flush()
    import hypsearch.search as search
    algos = search.names() if args.algos == "all" else args.algos.split(",")
    for name, c in proposal_costs(args.trials, work, algos).items():
        print(f"proposal cost of {name} after {args.trials} trials: {c['median_ms']:.2f} ms (median of 20); "
              f"learning all {args.trials} took {c['learn_s']:.1f} s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
