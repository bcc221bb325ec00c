"""Benchmark of the compiler: train-step cost of compiled models against hand-written torch, and
compile time per program.

1. A compiled plain MLP 784-256-256-10 against the same MLP written as an `nn.Sequential`
   (goal: <= 1.05x).
2. Compiled hypernetworks generating all of that MLP (full, chunked(4096) and lowrank(8) heads,
   task-embedding input, one hidden layer of 64) against a hand-written `torch.func.functional_call`
   version of each (goal: <= 1.10x), each also against the plain MLP.
3. Compile time (`hypsearch.build`) per program sampled from `examples/digits_hypernet.hyp`
   (goal: median < 50 ms).

A train step is forward, cross-entropy, backward and an Adam step at batch 128. Variants are timed
in interleaved rounds (every variant once per round) and each figure is the median over rounds, so
that load on a shared machine hits all variants alike.

    python benchmarks/bench_compile.py [--device cpu|cuda] [--repeats 15] [--steps 10] [--threads N]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from typing import Callable, Dict, List

import torch
import torch.nn.functional as F
from torch import nn

import hypsearch
from hypsearch.dsl.vocabulary import Program
from hypsearch.dsl.vocabulary import data as D
from hypsearch.dsl.vocabulary import hypernet as H
from hypsearch.dsl.vocabulary import layers as L
from hypsearch.dsl.vocabulary import structure as S

BATCH, IN, WIDTH, CLASSES = 128, 784, 256, 10
TASK_DIM, HIDDEN, CHUNK, RANK, CHUNK_DIM = 16, 64, 4096, 8, 8
EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "digits_hypernet.hyp")


# ---- the models ------------------------------------------------------------------------------

def target_component():
    return S.sequential(layers=[L.linear(out=WIDTH), L.relu(), L.linear(out=WIDTH), L.relu(), L.linear(out=CLASSES)])


def hand_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(IN, WIDTH), nn.ReLU(), nn.Linear(WIDTH, WIDTH), nn.ReLU(), nn.Linear(WIDTH, CLASSES))


def compiled_hypernet(head) -> nn.Module:
    program = Program(target=target_component(), data=D.digits(),
                      hypernet=H.hypernet(input=H.task_embedding(dim=TASK_DIM), body=H.mlp(hidden=[HIDDEN]),
                                          head=head, mip=False, generate="all"))
    return hypsearch.build(program, input_shape=(IN,))


class HandHypernet(nn.Module):
    """The same hypernetworks written by hand: embedding -> MLP -> head -> functional_call."""

    def __init__(self, head: str) -> None:
        super().__init__()
        mlp = hand_mlp()
        self._target = [mlp]  # not a submodule: its own parameters are replaced, never trained
        self.names = [n for n, _ in mlp.named_parameters()]
        self.shapes = [tuple(p.shape) for _, p in mlp.named_parameters()]
        self.sizes = [math.prod(s) for s in self.shapes]
        total = sum(self.sizes)
        self.kind = head
        self.task = nn.Embedding(1, TASK_DIM)
        if head == "chunked":
            self.chunks = nn.Parameter(torch.randn(-(-total // CHUNK), CHUNK_DIM))
            self.body = nn.Sequential(nn.Linear(TASK_DIM + CHUNK_DIM, HIDDEN), nn.ReLU())
            self.head = nn.Linear(HIDDEN, CHUNK)
        else:
            self.body = nn.Sequential(nn.Linear(TASK_DIM, HIDDEN), nn.ReLU())
            if head == "full":
                self.head = nn.Linear(HIDDEN, total)
            else:
                self.qs = [s if len(sh) < 2 else RANK * (sh[0] + sh[1]) for s, sh in zip(self.sizes, self.shapes)]
                self.head = nn.Linear(HIDDEN, sum(self.qs))
        for p in self.head.parameters():  # keep the generated weights small, as the compiler does
            p.data.mul_(0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.task.weight[0:1]
        if self.kind == "chunked":
            body_in = torch.cat([z.expand(self.chunks.shape[0], -1), self.chunks], dim=1)
            flat = self.head(self.body(body_in)).reshape(-1)[:sum(self.sizes)]
            pieces = [p.reshape(s) for p, s in zip(flat.split(self.sizes), self.shapes)]
        elif self.kind == "full":
            flat = self.head(self.body(z))[0]
            pieces = [p.reshape(s) for p, s in zip(flat.split(self.sizes), self.shapes)]
        else:
            out = self.head(self.body(z))[0]
            pieces = []
            for o, s in zip(out.split(self.qs), self.shapes):
                if len(s) < 2:
                    pieces.append(o)
                else:
                    u, v = o[:s[0] * RANK].reshape(s[0], RANK), o[s[0] * RANK:].reshape(RANK, s[1])
                    pieces.append(u @ v)
        return torch.func.functional_call(self._target[0], dict(zip(self.names, pieces)), (x,))


# ---- timing ----------------------------------------------------------------------------------

def train_step_fn(model: nn.Module, x: torch.Tensor, y: torch.Tensor, call: Callable) -> Callable[[], None]:
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)

    def step() -> None:
        loss = F.cross_entropy(call(model, x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(steps: Dict[str, Callable[[], None]], repeats: int, n: int, device) -> Dict[str, float]:
    """Median seconds per step of each variant over `repeats` interleaved rounds of n steps."""
    for step in steps.values():  # warm-up
        for _ in range(3):
            step()
    sync(device)
    samples: Dict[str, List[float]] = {k: [] for k in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            sync(device)
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            sync(device)
            samples[name].append((time.perf_counter() - t0) / n)
    return {k: statistics.median(v) for k, v in samples.items()}


def compile_times(samples: int) -> List[float]:
    space = hypsearch.load(EXAMPLE)
    programs = [space.sample(seed=i) for i in range(samples)]
    hypsearch.build(programs[0])  # first build pays one-off imports
    out = []
    for p in programs:
        t0 = time.perf_counter()
        hypsearch.build(p)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--repeats", type=int, default=15, help="interleaved timing rounds")
    ap.add_argument("--steps", type=int, default=10, help="train steps per variant per round")
    ap.add_argument("--samples", type=int, default=50, help="programs sampled for the compile-time figure")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    x = torch.randn(BATCH, IN, device=device)
    y = torch.randint(0, CLASSES, (BATCH,), device=device)
    plain = lambda m, x: m(x)  # noqa: E731
    task0 = lambda m, x: m(x, task=0)  # noqa: E731

    steps = {
        "plain: hand-written": train_step_fn(hand_mlp().to(device), x, y, plain),
        "plain: compiled": train_step_fn(hypsearch.build(target_component(), input_shape=(IN,)).to(device), x, y, plain),
    }
    heads = {"full": H.full(), f"chunked({CHUNK})": H.chunked(size=CHUNK, dim=CHUNK_DIM), f"lowrank({RANK})": H.lowrank(rank=RANK)}
    for label, head in heads.items():
        kind = label.split("(")[0]
        steps[f"{label}: hand-written"] = train_step_fn(HandHypernet(kind).to(device), x, y, plain)
        steps[f"{label}: compiled"] = train_step_fn(compiled_hypernet(head).to(device), x, y, task0)

    print(f"device {args.device} ({torch.get_num_threads()} CPU threads), torch {torch.__version__}, "
          f"batch {BATCH}, {args.repeats} rounds x {args.steps} steps, medians")
    t = time_interleaved(steps, args.repeats, args.steps, device)
    base = t["plain: hand-written"]
    print(f"\n{'train step (forward, backward, Adam)':40s} {'ms':>8s} {'vs hand':>8s} {'vs plain MLP':>13s}")
    for label in ["plain"] + list(heads):
        hand, comp = t[f"{label}: hand-written"], t[f"{label}: compiled"]
        print(f"{label + ': hand-written':40s} {hand * 1e3:8.3f} {'':8s} {hand / base:12.2f}x")
        print(f"{label + ': compiled':40s} {comp * 1e3:8.3f} {comp / hand:7.3f}x {comp / base:12.2f}x")
    goal = {"plain": 1.05}
    print("\nratios compiled / hand-written (goal: plain <= 1.05x, hypernetworks <= 1.10x):")
    for label in ["plain"] + list(heads):
        r = t[f"{label}: compiled"] / t[f"{label}: hand-written"]
        g = goal.get(label, 1.10)
        print(f"  {label:16s} {r:6.3f}x  {'ok' if r <= g else 'ABOVE GOAL'}")

    ct = compile_times(args.samples)
    print(f"\ncompile time per program ({len(ct)} samples of {os.path.basename(EXAMPLE)}): "
          f"median {statistics.median(ct) * 1e3:.1f} ms, max {max(ct) * 1e3:.1f} ms (goal: < 50 ms)")


if __name__ == "__main__":
    main()
