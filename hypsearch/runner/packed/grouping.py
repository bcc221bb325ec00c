"""Which programs can share a population, and how many members fit in memory at once.

Two programs pack together when their compiled models have the same parameter structure and
forward (the same target and hypernetwork, dropout probabilities aside: each member has its own),
the same data, the same batch size, optimizer kind and loss. What else differs between them is a
member's own: learning rate, betas, momentum, weight decay, clipping, label smoothing, schedule,
epochs, patience, seed. `pack_key` is that identity, or None with `why_alone` saying why a program
trains alone (as it would unpacked): a Python objective, augmentation, gradient accumulation,
mixed precision on a GPU, streamed data, an optimizer with no population form.

Memory: `member_bytes` estimates one member's share from its parameter and activation sizes
(parameters, gradients and two optimizer moments; the activations a training batch keeps for the
backward, and the validation slice's outputs); `chunks` splits a group so each part fits a budget.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, Hashable, List, Optional, Sequence, Tuple

from .optim import KINDS

EVAL_BATCH = 2048
MEMORY_SHARE = 0.5  # of the host's available memory (or the GPU's free memory) a pack may use


def _without_dropout_p(tree: Any) -> Any:
    if isinstance(tree, dict):
        out = {k: _without_dropout_p(v) for k, v in tree.items()}
        if str(tree.get("_type", "")).endswith(".dropout"):
            out.pop("p", None)
        return out
    if isinstance(tree, list):
        return [_without_dropout_p(v) for v in tree]
    return tree


def _json(value: Any) -> str:
    if value is None:
        return "null"
    data = value.sym_jsonify() if hasattr(value, "sym_jsonify") else value
    return json.dumps(_without_dropout_p(data), sort_keys=True, default=str)


def recipe_of(program: Any) -> Any:
    """The program's `train(...)` recipe (the defaults when it has none)."""
    from hypsearch.dsl.vocabulary.training import train as TrainRecipe

    return program.train if program.train is not None else TrainRecipe()


def why_alone(program: Any, device: str = "cpu") -> Optional[str]:
    """Why this program cannot join a population (None: it can, as far as its text tells)."""
    from hypsearch.runner.augment import augment_of

    if isinstance(program.objective, (list, tuple)) or getattr(program, "constraints", None):
        return "several objectives or constraints (measured per trial)"
    metric = getattr(program.objective, "metric", None)
    if getattr(type(metric), "__hyp_name__", None) == "python":
        return "a Python objective scores it"
    if program.target is None or program.data is None:
        return "nothing to train"
    recipe = recipe_of(program)
    kind = getattr(recipe.optimizer, "__hyp_name__", type(recipe.optimizer).__name__)
    if kind not in KINDS:
        return f"optimizer `{kind}` has no population form"
    if augment_of(program):
        return "augmentation"
    if recipe.accumulate != 1:
        return "gradient accumulation"
    if recipe.loading == "stream":
        return "streamed data"
    if recipe.precision != "fp32" and str(device).startswith("cuda"):
        return f"precision {recipe.precision}"
    return None


def pack_key(program: Any, device: str = "cpu") -> Optional[Hashable]:
    """What members of one population share, or None when the program trains alone."""
    if why_alone(program, device) is not None:
        return None
    recipe = recipe_of(program)
    kind = getattr(recipe.optimizer, "__hyp_name__", "")
    return (_json(program.target), _json(program.hypernet), _json(program.data), json.dumps(list(program.imports or [])),
            int(recipe.batch_size), kind, str(recipe.loss))


def group(items: Sequence[Tuple[Any, Optional[Hashable]]]) -> List[List[int]]:
    """Indices of `items` ((thing, key)) grouped by key in first-seen order; a None key stands alone."""
    groups: Dict[Hashable, List[int]] = {}
    out: List[List[int]] = []
    for i, (_, key) in enumerate(items):
        if key is None:
            out.append([i])
        elif key in groups:
            groups[key].append(i)
        else:
            groups[key] = [i]
            out.append(groups[key])
    return out


def member_bytes(model: Any, batch: int, val_samples: int) -> int:
    """Estimated bytes one member of a population takes while it trains (float32)."""
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    per_sample = _activations_per_sample(model)
    generated = int(getattr(model, "param_counts", {}).get("target_generated", 0))  # per-sample weights
    per_sample += generated
    train = 3 * batch * per_sample  # kept for the backward, their gradients, temporaries
    val = min(val_samples, EVAL_BATCH) * per_sample
    return 4 * (4 * params + max(train, val))


def _activations_per_sample(model: Any) -> int:
    """Output elements per sample of every leaf module, from one forward of two samples."""
    import torch

    counts: List[int] = []

    def hook(_module, _inputs, output):
        if isinstance(output, torch.Tensor):
            counts.append(output.numel() // 2)

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        x = torch.zeros(2, *model.input_shape)
        with torch.no_grad():
            try:
                model(x, task=torch.zeros(2, dtype=torch.int64)) if model.hypernet is not None else model(x)
            except Exception:  # a forward the estimate cannot run: count the input alone
                counts.append(int(math.prod(model.input_shape)))
    finally:
        for h in handles:
            h.remove()
    return max(1, sum(counts))


def memory_budget(device: str = "cpu") -> int:
    """Bytes a pack may use: a share of the GPU's free memory, or of the host's available memory."""
    if str(device).startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(free * MEMORY_SHARE)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(int(line.split()[1]) * 1024 * MEMORY_SHARE)
    except OSError:
        pass
    pages = os.sysconf("SC_AVPHYS_PAGES") if hasattr(os, "sysconf") else 0
    return int(pages * os.sysconf("SC_PAGE_SIZE") * MEMORY_SHARE) if pages else 2**33


def chunks(indices: Sequence[int], per_member: int, budget: int) -> List[List[int]]:
    """`indices` halved until each part's estimate (members x per_member) fits the budget."""
    parts = [list(indices)]
    out: List[List[int]] = []
    while parts:
        part = parts.pop(0)
        if len(part) > 1 and len(part) * per_member > budget:
            half = (len(part) + 1) // 2
            parts[:0] = [part[:half], part[half:]]
        else:
            out.append(part)
    return out
