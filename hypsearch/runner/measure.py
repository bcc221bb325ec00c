"""Built-in metrics of every built program, measured once per trial and recorded with its other
metrics (the journal's last epoch of every trained trial), so objectives and constraints can name
them (`minimize("params")`, `at_most("latency_ms", 2.0)`) and `show` can print them.

- `params`: the trainable parameters in total; `params_target` the target's (its ordinary ones plus
  the values a hypernetwork generates), `params_hypernet` the hypernetwork's (0 without one).
- `flops`: floating-point operations of one forward pass per sample, counted with torch's own flop
  formulas (`torch.utils.flop_counter`, as its FlopCounterMode counts) on a batch of one (matrix products and
  convolutions, 2 per multiply-add; element-wise operations are not counted); for a hypernetwork,
  generating the target's weights is part of the pass (task 0 for a task-conditioned one).
- `latency_ms`: the median wall time of a warm forward pass at batch 1 on the trial's device,
  `latency_ms_batch` the same at the training batch size (after `WARMUP` passes, the median of
  `REPEATS`, under no_grad in eval mode, after training). On CPU these are timed with the trial's
  torch threads, so trials running side by side on shared cores read slower.
- `peak_memory_mb`: the most memory the device's allocator held for the trial (training and the
  timed passes), where the device reports one: CUDA (`torch.cuda.max_memory_allocated`, its peak
  reset when the trial starts). Not recorded on CPU: the process's peak resident size also holds
  the data, torch itself and, in a reused Ray worker, every earlier trial, so it is no figure of
  the model; an objective or constraint naming it on CPU is refused.

The static ones (params, flops) are known before training, so a constraint on them is decided
before a trial spends any time on it. A trial that a scheduler stops keeps the static ones only.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Dict, Sequence

STATIC = ("params", "params_target", "params_hypernet", "flops")
MEASURED = ("latency_ms", "latency_ms_batch", "peak_memory_mb")
BUILTIN = STATIC + MEASURED
DEVICE_ONLY = {"peak_memory_mb": "cuda"}  # metrics a device type reports (see the module's docs)
WARMUP, REPEATS = 2, 5  # passes per batch size; quickstart trials pay about a millisecond for both


def static_metrics(model: Any, input_shape: Sequence[int], task_input: bool = False) -> Dict[str, float]:
    """Parameter counts and forward FLOPs per sample of a built model (on CPU, before training;
    task 0 for a task-conditioned model, whose forward includes generating the weights)."""
    import torch

    counts = getattr(model, "param_counts", None) or {}
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    out = {"params": float(total), "params_target": float(counts.get("target", total)),
           "params_hypernet": float(counts.get("hypernet", 0))}
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.eval()
    x = torch.zeros((1, *input_shape), device=device)
    try:
        # The counter's module tracking hooks autograd, which a hypernetwork's generated weights
        # need under no_grad: they are counted with autograd on (one forward, nothing stepped).
        for grad in (False, True):
            try:
                with torch.set_grad_enabled(grad), _flop_count() as counter:
                    model(x, task=0) if task_input else model(x)
            except Exception:  # inputs zeros cannot stand for (token ids): no flops count
                continue
            out["flops"] = float(counter.total)
            break
    finally:
        model.train(was_training)
    return out


def _flop_count() -> Any:
    """A dispatch mode summing torch's flop formulas over the ops run under it (`.total`).

    It counts as FlopCounterMode does (an op without a formula is decomposed and its parts
    counted) without that mode's per-module tracking, and it opts out of the Dynamo guard torch
    wraps every dispatch mode's handler in: the first such wrapper to run imports torch._dynamo
    (1.1 s), which every fresh trial worker paid here for its first trial (nothing here compiles).
    """
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    class FlopCount(TorchDispatchMode):
        @classmethod
        def _should_skip_dynamo(cls) -> bool:
            return False

        def __init__(self) -> None:
            super().__init__()
            self.total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func not in flop_registry and func is not torch.ops.prim.device.default:
                with self:
                    decomposed = func.decompose(*args, **kwargs)
                if decomposed is not NotImplemented:
                    return decomposed
            result = func(*args, **kwargs)
            formula = flop_registry.get(func._overloadpacket)
            if formula is not None:
                self.total += formula(*args, **kwargs, out_val=result)
            return result

    return FlopCount()


def start_peak_memory(device: Any) -> None:
    """Start the trial's peak-memory count (CUDA); nothing elsewhere."""
    if str(device).startswith("cuda"):
        import torch
        torch.cuda.reset_peak_memory_stats(torch.device(str(device)))


def device_refuses(metric: str, device: Any) -> bool:
    """Whether the trial's device never reports this built-in metric (peak memory off CUDA)."""
    need = DEVICE_ONLY.get(metric)
    return need is not None and not str(device).startswith(need)


def latency_metrics(model: Any, input_shape: Sequence[int], batch_size: int, device: Any = "cpu",
                    repeats: int = REPEATS, warmup: int = WARMUP, task_input: bool = False) -> Dict[str, float]:
    """Median warm forward times (ms) at batch 1 and at `batch_size` on the model's device (task 0
    for a task-conditioned model), and the device's peak memory where it reports one."""
    import torch

    dev = next((p.device for p in model.parameters()), torch.device(str(device)))
    was_training = model.training
    model.eval()
    out = {}
    try:
        for key, batch in (("latency_ms", 1), ("latency_ms_batch", max(1, int(batch_size)))):
            x = torch.zeros((batch, *input_shape), device=dev)
            times = []
            with torch.no_grad():
                for i in range(warmup + repeats):
                    _sync(dev)
                    start = time.perf_counter()
                    model(x, task=0) if task_input else model(x)
                    _sync(dev)
                    if i >= warmup:
                        times.append((time.perf_counter() - start) * 1000.0)
            out[key] = float(statistics.median(times))
    except Exception:  # as for flops: a model zeros cannot feed has no latency figure
        out = {}
    finally:
        model.train(was_training)
    if dev.type == "cuda":
        out["peak_memory_mb"] = float(torch.cuda.max_memory_allocated(dev)) / 2 ** 20
    return out


def _sync(dev: Any) -> None:
    if dev.type == "cuda":
        import torch
        torch.cuda.synchronize(dev)


def describe(metrics: Dict[str, Any]) -> str:
    """The built-in metrics of a trial as one line (`show`): those it reported, in a fixed order."""
    parts = []
    if "params" in metrics:
        text = f"params {int(metrics['params']):,}"
        if metrics.get("params_hypernet"):
            text += f" (target {int(metrics['params_target']):,}, hypernet {int(metrics['params_hypernet']):,})"
        parts.append(text)
    if "flops" in metrics:
        parts.append(f"flops {_si(float(metrics['flops']))} per sample")
    if "latency_ms" in metrics:
        text = f"latency {float(metrics['latency_ms']):.3g} ms at batch 1"
        if "latency_ms_batch" in metrics:
            text += f", {float(metrics['latency_ms_batch']):.3g} ms at the training batch"
        parts.append(text)
    if "peak_memory_mb" in metrics:
        parts.append(f"peak memory {float(metrics['peak_memory_mb']):.4g} MiB")
    return "; ".join(parts)


def _si(v: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{unit}"
    return f"{v:.3g}"
