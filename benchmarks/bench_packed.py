"""Packed trials against unpacked ones, side by side in one run, on examples/packed_hpo.hyp's programs.

1. Train-step throughput (member steps per second): K programs sampled from the example (each
   its own lr, weight decay, dropout and seed) trained one after another with torch.optim.Adam,
   as `fit` trains them, against the same K as one population, for K = 1, 8, 32, 128, in three
   layouts: `naive` (torch.func.stack_module_state + vmap(functional_call), torch's Adam over the
   stacked tensors), `vmap` (the packed VmapLayout: vmap over views of one flat buffer, the
   vectorised optimizer) and `chain` (the packed ChainLayout: baddbmm over stacked weights, the
   same optimizer), beside `matmul_floor`: the chain step's batched matmuls alone, forward and
   backward, whose ratio to unpacked (`matmul_floor_x`) is the ceiling of any packed step in that
   layout on this hardware. Wall and CPU seconds are both timed; rounds alternate the variants so that a
   machine whose speed drifts slows them alike. Memory: the estimate `grouping.member_bytes` uses
   to split packs, and the optimizer state and parameters each member holds.
   Then whole trainings: one epoch with validation through `fit`, one after another, against the
   same members through `train_population` (what a packed trial costs, data gathering included).
2. End to end: `hypsearch run examples/packed_hpo.hyp --executor inline --trials 128` with
   `--pack 1` against `--pack 32`, for several algorithm seeds: wall time and the best value.

Goals (issue 11), on a 2-core CPU: packed >= 4x unpacked at K = 32 and >= 8x at K = 128 in step
throughput; end to end >= 3x faster at --pack 32 with the same best-value distribution.

    python benchmarks/bench_packed.py [--threads 1] [--ks 1,8,32,128] [--steps 30] [--rounds 3]
                                      [--e2e-seeds 5] [--e2e-trials 128] [--skip-e2e] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "packed_hpo.hyp")


def programs(k: int, seed: int = 0):
    """K concrete programs of the example (distinct hyperparameters and seeds)."""
    from hypsearch.dsl.api import load

    space = load(EXAMPLE)
    return [space.sample(seed=seed + i) for i in range(k)]


def models(progs, dataset, device):
    from hypsearch.compile import build
    from hypsearch.runner.train import seed_everything

    out = []
    for p in progs:
        seed_everything(p.train.seed)
        out.append(build(p, input_shape=tuple(dataset.info.input_shape)).to(device))
    return out


def batches(dataset, k: int, b: int, steps: int, device):
    """`steps` (K, B) index batches: each member its own order, as the populations draw them."""
    import torch

    n = len(dataset.x_train)
    gens = [torch.Generator().manual_seed(i) for i in range(k)]
    order = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device)
    starts = [(s * b) % (n - b) for s in range(steps)]
    return [order[:, s:s + b] for s in starts]


def unpacked_step(progs, dataset, device, b: int) -> Callable[[int], int]:
    """Members trained one after another, each with its own torch Adam (fit's inner loop)."""
    import torch
    import torch.nn.functional as F

    ms = models(progs, dataset, device)
    opts = [torch.optim.Adam(m.parameters(), lr=p.train.optimizer.lr, weight_decay=p.train.weight_decay)
            for m, p in zip(ms, progs)]
    x, y, _ = dataset.tensors("train", device)
    for m in ms:
        m.train()

    def run(steps: int) -> int:
        idx = batches(dataset, len(ms), b, steps, device)
        for i, (m, opt) in enumerate(zip(ms, opts)):
            for s in range(steps):
                j = idx[s][i]
                loss = F.cross_entropy(m(x[j]), y[j])
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
        return steps * len(ms)
    return run


def naive_vmap_step(progs, dataset, device, b: int) -> Callable[[int], int]:
    """stack_module_state + vmap(functional_call), torch's Adam over the stacked tensors."""
    import copy

    import torch
    import torch.nn.functional as F
    from torch.func import functional_call, stack_module_state, vmap

    ms = models(progs, dataset, device)
    params, buffers = stack_module_state(ms)
    base = copy.deepcopy(ms[0]).to("meta")
    k = len(ms)
    lr = torch.tensor([p.train.optimizer.lr for p in progs], device=device)
    opt = torch.optim.Adam(list(params.values()), lr=float(lr.mean()))  # one lr: torch has no per-slice lr
    x, y, _ = dataset.tensors("train", device)

    def one(p, bu, xb):
        return functional_call(base, (p, bu), (xb,))

    call = vmap(one, randomness="different")

    def run(steps: int) -> int:
        for j in batches(dataset, k, b, steps, device):
            out = call(params, buffers, x[j])
            loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y[j].reshape(-1), reduction="sum") / b
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        return steps * k
    return run


def packed_step(progs, dataset, device, b: int, layout: str) -> Callable[[int], int]:
    """The population's step: one forward, one backward, one vectorised update for all members."""
    import torch

    from hypsearch.runner.allocator import keep_freed_memory
    from hypsearch.runner.packed.layout import make_layout
    from hypsearch.runner.packed.optim import MemberHyper, PopulationOptimizer
    from hypsearch.runner.packed.population import member_losses

    ms = models(progs, dataset, device)
    if device == "cpu":  # as train_population does; process-wide, so the unpacked runs get it too
        keep_freed_memory()
    pop = make_layout(ms, torch.device(device), layout)
    opt = PopulationOptimizer(pop.flat, [MemberHyper.of(p.train) for p in progs], pop.blocks, pop.take_grads)
    k = len(ms)
    active = torch.ones(k, 1, dtype=torch.bool, device=device)
    x, y, _ = dataset.tensors("train", device)

    def run(steps: int) -> int:
        for j in batches(dataset, k, b, steps, device):
            loss = member_losses(pop.forward(x[j], None, True, False), y[j], "cross_entropy", None, dataset)
            loss.sum().backward()
            opt.step(active, all_active=True)
        return steps * k
    return run


def matmul_floor_step(progs, dataset, device, b: int) -> Callable[[int], int]:
    """Only the batched matmuls of the chain layout's step, at its shapes (each linear layer's
    forward baddbmm, its weight-gradient bmm and, past the first layer, its input-gradient bmm): no
    activations, dropout, loss or optimizer. K / its time bounds what any packed step in this
    layout can reach here, so `matmul_floor_x` says how far the K = 128 goal is within this core's reach."""
    import torch

    from hypsearch.runner.packed.layout import make_layout

    pop = make_layout(models(progs[:1], dataset, device), torch.device(device), "chain")
    k = len(progs)
    views = pop.views()
    shapes = [tuple(views[arg[0]].shape[1:]) for kind, arg in pop.steps if kind == "linear"]  # (in, out) as stored
    x, _, _ = dataset.tensors("train", device)
    gen = torch.Generator(device=device).manual_seed(0)
    ws = [torch.randn(k, i, o, generator=gen, device=device) for i, o in shapes]
    bs = [torch.randn(k, 1, o, generator=gen, device=device) for _, o in shapes]
    gs = [torch.randn(k, b, o, generator=gen, device=device) for _, o in shapes]

    def run(steps: int) -> int:
        for j in batches(dataset, k, b, steps, device):
            h = x[j]
            hs = []
            for w, bias in zip(ws, bs):
                hs.append(h)
                h = torch.baddbmm(bias, h, w)
            for layer in reversed(range(len(ws))):
                torch.bmm(hs[layer].transpose(1, 2), gs[layer])
                if layer:
                    torch.bmm(gs[layer], ws[layer].transpose(1, 2))
        return steps * k
    return run


def trials(args, dataset) -> List[Dict[str, object]]:
    """Whole trainings (an epoch with validation, as a trial runs): `fit` one after another
    against `train_population`, member steps per second."""
    import math

    from hypsearch.runner.packed.population import Member, train_population
    from hypsearch.runner.train import fit

    rows = []
    for k in args.ks:
        progs = [p.clone(deep=True) for p in programs(k)]
        for p in progs:
            p.rebind({"train.epochs": 1})
        steps = math.ceil(len(dataset.x_train) / 64)
        alone = progs[:min(k, 4)]
        walls: Dict[str, List[float]] = {"fit": [], "population": []}
        for _ in range(args.rounds):
            ms = models(alone, dataset, args.device)
            w = time.perf_counter()
            for m, p in zip(ms, alone):
                fit(m, dataset, p.train, device=args.device)
            walls["fit"].append(len(alone) * steps / (time.perf_counter() - w))
            ms = models(progs, dataset, args.device)
            w = time.perf_counter()
            train_population([Member(m, p.train, p.train.seed) for m, p in zip(ms, progs)], dataset, device=args.device)
            walls["population"].append(k * steps / (time.perf_counter() - w))
        row = {"K": k, "threads": args.threads, "fit_steps_per_s": round(statistics.median(walls["fit"]), 1),
               "population_steps_per_s": round(statistics.median(walls["population"]), 1),
               "x": round(statistics.median(walls["population"]) / statistics.median(walls["fit"]), 2)}
        rows.append(row)
        print(json.dumps({"whole_trainings": row}), flush=True)
    return rows


def timed(run: Callable[[int], int], steps: int, device: str) -> Tuple[float, float, int]:
    """(wall s, cpu s, member steps) of one call."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    w, c = time.perf_counter(), time.process_time()
    n = run(steps)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - w, time.process_time() - c, n


def throughput(args, dataset) -> List[Dict[str, object]]:
    from hypsearch.runner.packed.grouping import member_bytes

    rows = []
    b = 64
    for k in args.ks:
        progs = programs(k)
        # Unpacked throughput does not depend on K (one after another): a few members stand for all.
        variants = {"unpacked": unpacked_step(progs[:min(k, 4)], dataset, args.device, b),
                    "naive": naive_vmap_step(progs, dataset, args.device, b),
                    "vmap": packed_step(progs, dataset, args.device, b, "vmap"),
                    "chain": packed_step(progs, dataset, args.device, b, "chain"),
                    "matmul_floor": matmul_floor_step(progs, dataset, args.device, b)}
        for run in variants.values():  # warm-up: first calls allocate and build the vmapped functions
            run(2)
        walls: Dict[str, List[float]] = {v: [] for v in variants}
        cpus: Dict[str, List[float]] = {v: [] for v in variants}
        for _ in range(args.rounds):
            for name, run in variants.items():
                steps = args.steps if name != "unpacked" else max(args.steps, 8)
                w, c, n = timed(run, steps, args.device)
                walls[name].append(n / w)
                cpus[name].append(n / c if c > 0 else float("nan"))
        ms = models(progs[:1], dataset, "cpu")
        params = sum(p.numel() for p in ms[0].parameters())
        row = {"K": k, "threads": args.threads, "params_per_member": params,
               "state_bytes_per_member": 16 * params,  # parameters, gradients, two Adam moments (fp32)
               "estimate_bytes_per_member": member_bytes(ms[0], b, len(dataset.x_val))}
        base_w, base_c = statistics.median(walls["unpacked"]), statistics.median(cpus["unpacked"])
        for name in variants:
            row[f"{name}_steps_per_s"] = round(statistics.median(walls[name]), 1)
            row[f"{name}_cpu_steps_per_s"] = round(statistics.median(cpus[name]), 1)
            if name != "unpacked":
                row[f"{name}_x"] = round(statistics.median(walls[name]) / base_w, 2)
                row[f"{name}_cpu_x"] = round(statistics.median(cpus[name]) / base_c, 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def end_to_end(args) -> List[Dict[str, object]]:
    rows = []
    for seed in range(args.e2e_first_seed, args.e2e_first_seed + args.e2e_seeds):
        for pack in (1, 32):
            out = tempfile.mkdtemp(prefix=f"bench-packed-{pack}-")
            cmd = [sys.executable, "-m", "hypsearch.cli", "run", EXAMPLE, "--executor", "inline", "--trials",
                   str(args.e2e_trials), "--pack", str(pack), "--seed", str(seed), "--out", out, "--quiet"]
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
            values = []
            with open(os.path.join(out, "trials.jsonl")) as f:
                for line in f:
                    rec = json.loads(line)
                    if rec.get("status") == "ok":
                        values.append(rec["value"])
            row = {"seed": seed, "pack": pack, "wall_s": round(wall, 1), "ok": len(values),
                   "best": max(values) if values else None}
            rows.append(row)
            print(json.dumps(row), flush=True)
    for pack in (1, 32):
        mine = [r for r in rows if r["pack"] == pack]
        print(json.dumps({"pack": pack, "median_wall_s": statistics.median(r["wall_s"] for r in mine),
                          "best_values": sorted(r["best"] for r in mine)}))
    pairs = [a["wall_s"] / b["wall_s"] for a, b in zip(rows[0::2], rows[1::2])]
    print(json.dumps({"end_to_end_speedup_median": round(statistics.median(pairs), 2), "pairs": [round(p, 2) for p in pairs]}))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    ap.add_argument("--ks", default="1,8,32,128", help="population sizes")
    ap.add_argument("--steps", type=int, default=30, help="train steps per timed call")
    ap.add_argument("--rounds", type=int, default=3, help="alternating timed rounds per variant")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--e2e-seeds", type=int, default=5)
    ap.add_argument("--e2e-first-seed", type=int, default=0, help="algorithm seed of the first end-to-end pair")
    ap.add_argument("--e2e-trials", type=int, default=128)
    ap.add_argument("--skip-e2e", action="store_true")
    ap.add_argument("--skip-steps", action="store_true")
    args = ap.parse_args()
    args.ks = [int(k) for k in args.ks.split(",")]

    import torch

    from hypsearch.data import load_data
    from hypsearch.dsl.api import load

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    args.threads = torch.get_num_threads()
    dataset = load_data(load(EXAMPLE).sample(seed=0).data, None)
    print(f"torch {torch.__version__}, {args.threads} threads, device {args.device}, {os.cpu_count()} CPUs", flush=True)
    if not args.skip_steps:
        throughput(args, dataset)
        trials(args, dataset)
    if not args.skip_e2e:
        end_to_end(args)


if __name__ == "__main__":
    main()
