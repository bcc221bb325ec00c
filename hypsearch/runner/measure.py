"""Built-in metrics of every built program, measured once per trial and recorded with its other
metrics, so objectives and constraints can name them (`minimize("params")`,
`at_most("latency_ms", 2.0)`).

- `params`: the trainable parameters in total; `params_target` the target's (its ordinary ones plus
  the values a hypernetwork generates), `params_hypernet` the hypernetwork's (0 without one).
- `flops`: floating-point operations of one forward pass per sample, counted by
  `torch.utils.flop_counter.FlopCounterMode` on a batch of one (it counts matrix products and
  convolutions, 2 per multiply-add; element-wise operations are not counted).
- `latency_ms`: the median wall time of a warm forward pass at batch 1 on the trial's device,
  `latency_ms_batch` at the training batch size (each after warm-up passes, under no_grad).
- `peak_memory_mb`: the device's peak allocated memory during training, where it reports one (CUDA).

The static ones (params, flops) are known before training, so a constraint on them is decided
before a trial spends any time on it.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Dict, Sequence

STATIC = ("params", "params_target", "params_hypernet", "flops")
MEASURED = ("latency_ms", "latency_ms_batch", "peak_memory_mb")
BUILTIN = STATIC + MEASURED


def static_metrics(model: Any, input_shape: Sequence[int]) -> Dict[str, float]:
    """Parameter counts and forward FLOPs per sample of a built model (on CPU, before training)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counts = getattr(model, "param_counts", None) or {}
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    out = {"params": float(total), "params_target": float(counts.get("target", total)),
           "params_hypernet": float(counts.get("hypernet", 0))}
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros((1, *input_shape), device=device))
        out["flops"] = float(counter.get_total_flops())
    except Exception:  # inputs zeros cannot stand for (token ids, task-conditioned): no flops count
        pass
    finally:
        model.train(was_training)
    return out


def latency_metrics(model: Any, input_shape: Sequence[int], batch_size: int, device: Any = "cpu",
                    repeats: int = 7, warmup: int = 2) -> Dict[str, float]:
    """Median warm forward times (ms) at batch 1 and at `batch_size`, on the model's device."""
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
                    model(x)
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
