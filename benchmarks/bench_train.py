"""Benchmark of the trainer: train-step time of `hypsearch`-built models trained by `fit` against the
same model and recipe written by hand in torch (goal: <= 1.05x in every case).

Three models: an MLP 64-256-256-10, a conv net (two conv-batchnorm-relu blocks, a max pool, global
average pooling) and a ResNet-style net of the shape `examples/cifar10.hyp` searches (a stem, three
stages of one residual block each, widths 16-32-64, strided 1x1 projections). The recipe is the
same on both sides: SGD with Nesterov momentum, weight decay, a cosine schedule with one epoch of
warmup, label smoothing 0.1, shuffled batches of 128 drawn by index from data held on the device,
and (CIFAR-shaped models) random_crop(4) + flip() done with tensor ops on the device. Each side
runs whole epochs; a figure is the time per training step in the steady state (the time from the
end of the first epoch to the end of the last, over the steps in between: setup and the first
epoch, which pays for first-use allocations and compilation, are left out and their cost over the
steady state is printed per run as "setup ms"), the median over interleaved rounds (every variant
once per round, the two sides of a case back to back in an order that alternates between rounds,
so load on a shared machine and whichever side runs second hit both alike), and the ratio is the
median of the rounds' paired ratios (hypsearch / by hand).
`--compile` adds both sides under torch.compile (a compile warm-up epoch is excluded).
`--heads` times what `train(compile = true)` buys for hypernetworks generating that MLP with each
head (full, chunked(4096), lowrank(8); task-embedding input, an MLP body of 64) and for the plain
MLP: the same `fit`, eager against compiled (there is no hand-written side to these).

    python benchmarks/bench_train.py [--device cpu|cuda] [--repeats 7] [--samples 1024] [--threads N] [--compile]
                                     [--heads] [--clock wall|cpu]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import hypsearch
from hypsearch.data import DataInfo, Dataset
from hypsearch.runner.train import fit

BATCH = 128
clock = time.perf_counter  # --clock cpu: time.process_time
RECIPE = ("train(epochs = {epochs}, batch_size = 128, optimizer = sgd(lr = 0.1, momentum = 0.9, nesterov = true), "
          "weight_decay = 5e-4, schedule = cosine(warmup = 1), label_smoothing = 0.1, compile = {compile})")

MLP_HYP = "target = sequential(linear(out = 256), relu(), linear(out = 256), relu(), linear(out = 10))"
CONV_HYP = ("target = sequential(conv2d(out = 32, bias = false), batchnorm(), relu(), maxpool(), "
            "conv2d(out = 64, bias = false), batchnorm(), relu(), global_avgpool(), linear(out = 10))")


def _block(width: int, stride: int) -> str:
    return (f"sequential(residual(sequential(conv2d(out = {width}, stride = {stride}, bias = false), batchnorm(), "
            f"relu(), conv2d(out = {width}, bias = false), batchnorm())), relu())")


RESNET_HYP = ("target = sequential(conv2d(out = 16, bias = false), batchnorm(), relu(), "
              f"{_block(16, 1)}, {_block(32, 2)}, {_block(64, 2)}, global_avgpool(), linear(out = 10))")


# ---- the hand-written side ---------------------------------------------------------------------

class Block(nn.Module):
    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                                  nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width))
        self.skip = nn.Conv2d(cin, width, 1, stride, 0, bias=False) if (cin != width or stride != 1) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + (self.skip(x) if self.skip is not None else x))


def hand_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def hand_conv() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def hand_resnet() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                         Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def augment(x: torch.Tensor, g: torch.Generator, pad: int = 4) -> torch.Tensor:
    """random_crop(4) + flip() by hand: one gather for the crops, a where for the flips."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = (torch.rand(n, generator=g).to(x.device) * (2 * pad + 1)).long().clamp_(max=2 * pad)
    dx = (torch.rand(n, generator=g).to(x.device) * (2 * pad + 1)).long().clamp_(max=2 * pad)
    rows = dy[:, None] + torch.arange(h, device=x.device)[None]
    cols = dx[:, None] + torch.arange(w, device=x.device)[None]
    index = (rows[:, None, :, None] * padded.shape[-1] + cols[:, None, None, :]).flatten(2).expand(-1, c, -1)
    x = padded.flatten(2).gather(2, index).view(n, c, h, w)
    flip = (torch.rand(n, generator=g).to(x.device) < 0.5).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(-1), x)


def hand_fit(model: nn.Module, data: Tuple[torch.Tensor, ...], epochs: int, images: bool, device: str,
             compiled: bool, marks: List[float]) -> None:
    """The recipe written out: SGD nesterov + weight decay, warmup + cosine per step, smoothing;
    `clock()` is appended to `marks` at the end of each epoch (where `fit` reports its metrics)."""
    x, y, xv, yv = data
    torch.manual_seed(0)  # as any script that wants repeatable runs (on a CPU-only torch it costs ~25 ms)
    model.to(device)
    run = torch.compile(model) if compiled else model
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    n = len(x)
    steps = math.ceil(n / BATCH)
    total, warm = steps * epochs, steps

    def factor(s: int) -> float:
        if s < warm:
            return (s + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (s - warm) / max(1, total - warm))))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(n, generator=g).to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        for s in range(0, n, BATCH):
            idx = order[s:s + BATCH]
            xb, yb = x[idx], y[idx]
            if images:
                xb = augment(xb, g)
            out = run(xb)
            loss = F.cross_entropy(out, yb, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.detach() * len(idx)
            correct += (out.detach().argmax(1) == yb).sum()  # train accuracy, as the trainer reports
        model.eval()
        with torch.no_grad():
            out = run(xv)
            float(F.cross_entropy(out, yv)), float((out.argmax(1) == yv).float().mean())
        float(loss_sum), int(correct)
        marks.append(clock())


# ---- the hypsearch side ------------------------------------------------------------------------

def built(text: str, shape: Tuple[int, ...]) -> nn.Module:
    return hypsearch.build(hypsearch.loads(text).sample(), input_shape=shape)


def dataset(shape: Tuple[int, ...], samples: int) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples + 256,) + shape).astype(np.float32)
    y = rng.integers(0, 10, samples + 256).astype(np.int64)
    return Dataset("bench", x[:samples], y[:samples], x[samples:], y[samples:], DataInfo(shape, 10))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--epochs", type=int, default=3, help="epochs per run (>= 2: the first is left out)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--compile", action="store_true", help="also both sides under torch.compile")
    ap.add_argument("--only", default="", help="comma-separated subset of mlp,conv,resnet")
    ap.add_argument("--heads", action="store_true", help="eager against compiled fit for hypernetwork heads")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time, or this process's CPU time (a CPU run on a loaded machine: the time "
                         "others' processes hold the cores is not counted)")
    args = ap.parse_args()
    if args.epochs < 2 and not args.heads:
        ap.error("--epochs must be >= 2 (the first epoch is left out of the step time)")
    global clock
    clock = time.perf_counter if args.clock == "wall" or args.device != "cpu" else time.process_time
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.heads:
        heads(args)
        return
    cases = {"mlp": (MLP_HYP, hand_mlp, (64,)), "conv": (CONV_HYP, hand_conv, (3, 32, 32)),
             "resnet": (RESNET_HYP, hand_resnet, (3, 32, 32))}
    if args.only:
        cases = {k: v for k, v in cases.items() if k in args.only.split(",")}
    modes = [False, True] if args.compile else [False]
    Timed = Tuple[float, float]  # (steady-state seconds per step, setup seconds) of one run
    pairs: Dict[str, Tuple[Callable[[], Timed], Callable[[], Timed]]] = {}
    per_epoch = math.ceil(args.samples / BATCH)

    def timed(t0: float, marks: List[float]) -> Timed:
        step = (marks[-1] - marks[0]) / (per_epoch * (len(marks) - 1))
        return step, marks[0] - t0 - step * per_epoch  # (steady-state step, setup + first epoch's excess)

    for name, (text, hand, shape) in cases.items():
        ds = dataset(shape, args.samples)
        images = len(shape) == 3
        tensors = ds.tensors("train", args.device)[:2] + ds.tensors("val", args.device)[:2]
        a, b = built(text, shape), hand()
        assert sum(p.numel() for p in a.parameters()) == sum(p.numel() for p in b.parameters()), name
        program_augment = hypsearch.loads("augment = [random_crop(padding = 4), flip()]").sample().augment
        for compiled in modes:
            recipe = hypsearch.loads("train = " + RECIPE.format(epochs=args.epochs, compile=str(compiled).lower())
                                     ).sample().train
            tag = f"{name}{' compiled' if compiled else ''}"

            def ours(text=text, shape=shape, ds=ds, recipe=recipe, images=images):
                model = built(text, shape)
                marks: List[float] = []
                t = clock()
                fit(model, ds, recipe, device=args.device, augment=program_augment if images else (),
                    report=lambda _m: (_sync(args.device), marks.append(clock())))
                return timed(t, marks)

            def theirs(hand=hand, tensors=tensors, images=images, compiled=compiled):
                model = hand()
                marks: List[float] = []
                t = clock()
                hand_fit(model, tensors, args.epochs, images, args.device, compiled, marks)
                return timed(t, marks)

            pairs[tag] = (ours, theirs)
            ours(), theirs()  # one warm-up each: the first call pays for compilation and first-use setup
    times: Dict[str, Tuple[List[Timed], List[Timed]]] = {k: ([], []) for k in pairs}
    for r in range(args.repeats):
        for tag, (ours, theirs) in pairs.items():
            if r % 2:
                hand_t = theirs()
                times[tag][0].append(ours())
                times[tag][1].append(hand_t)
            else:
                times[tag][0].append(ours())
                times[tag][1].append(theirs())
    print(f"device {args.device}, {args.samples} samples, batch {BATCH}, {args.repeats} rounds, "
          f"threads {torch.get_num_threads()}, {args.clock} clock; ms per train step (median), "
          "ratio: median of paired ratios; setup: ms per run beyond the steady state (median)")
    print(f"{'case':<18} {'hypsearch':>10} {'by hand':>10} {'ratio':>7} {'quartiles':>13} {'setup ms':>9} {'by hand':>8}")
    for tag, (ours_t, hand_t) in times.items():
        ratios = [o[0] / h[0] for o, h in zip(ours_t, hand_t)]
        q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        med = lambda xs, i: statistics.median(x[i] for x in xs) * 1e3  # noqa: E731
        print(f"{tag:<18} {med(ours_t, 0):>10.2f} {med(hand_t, 0):>10.2f} "
              f"{statistics.median(ratios):>6.3f}x {q[0]:>6.3f}-{q[2]:.3f} {med(ours_t, 1):>9.2f} {med(hand_t, 1):>8.2f}")


HEADS = {"plain mlp": "", "full head": "full()", "chunked head": "chunked(size = 4096)",
         "lowrank head": "lowrank(rank = 8)"}


def heads(args: argparse.Namespace) -> None:
    """`fit` eager against `fit` with compile = true, per hypernetwork head (and the plain MLP)."""
    ds = dataset((64,), args.samples)
    variants: Dict[str, Callable[[], float]] = {}
    steps = math.ceil(args.samples / BATCH)
    for name, head in HEADS.items():
        text = MLP_HYP
        if head:
            text += (f"\nhypernet = hypernet(input = task_embedding(dim = 16), body = mlp(hidden = [64]), "
                     f"head = {head}, generate = [\"linear\"])")
        for compiled in (False, True):
            recipe = hypsearch.loads("train = " + RECIPE.format(epochs=1, compile=str(compiled).lower())).sample().train

            def run(text=text, recipe=recipe, hyper=bool(head)):
                model = built(text, (64,))
                t = clock()
                fit(model, ds, recipe, device=args.device, task_input=hyper)
                _sync(args.device)
                return (clock() - t) / steps

            variants[f"{name}|{compiled}"] = run
            if compiled:
                run()  # warm-up: compilation
    times: Dict[str, List[float]] = {k: [] for k in variants}
    for _ in range(args.repeats):
        for k, fn in variants.items():
            times[k].append(fn())
    print(f"device {args.device}, {args.samples} samples, batch {BATCH}, {args.repeats} rounds; "
          "ms per train step (median), train(compile = false) against true")
    plain = statistics.median(times["plain mlp|False"])
    print(f"{'model':<14} {'eager':>8} {'compiled':>9} {'gain':>6} {'eager/plain':>12}")
    for name in HEADS:
        eager, comp = statistics.median(times[f"{name}|False"]), statistics.median(times[f"{name}|True"])
        print(f"{name:<14} {eager * 1e3:>8.2f} {comp * 1e3:>9.2f} {eager / comp:>5.2f}x {eager / plain:>11.2f}x")


def _sync(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
