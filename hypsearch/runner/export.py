"""Trained models on disk: `hypsearch export` and `hypsearch.load_model`.

A model file is a plain dict (loadable with `torch.load(path, weights_only=True)`; no pickled
modules): `format`, `hyp` (the concrete program as `.hyp` text), `hyp_file` (the path that text's
relative imports are relative to), `state_dict` and, for data sets a loader standardised,
`normalization` (the training split's mean and std). Loading rebuilds the network from the text
with `hypsearch.build` and loads the weights into it; with statistics, the network is wrapped in
`RawInputs`, so it takes raw inputs (images scaled to [0, 1], encoded table rows).
"""

from __future__ import annotations

import os
from typing import Any, Dict, List

from hypsearch.dsl.api import dumps, loads
from hypsearch.dsl.errors import HypError

from .experiment import ExperimentDir
from .worker import WEIGHTS_FORMAT


def read_model_file(path: str) -> Dict[str, Any]:
    """The dict stored in a model file (HypError when it is not one)."""
    import torch
    if not os.path.exists(path):
        raise HypError(f"no model file at {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise HypError(f"{path} is not a hypsearch model file: {e}")
    if not isinstance(data, dict) or data.get("format") != WEIGHTS_FORMAT:
        raise HypError(f"{path} is not a hypsearch model file (format {WEIGHTS_FORMAT} expected)")
    return data


def _program(data: Dict[str, Any], path: str, trust: bool = False):
    hyp_file = data.get("hyp_file") or ""
    if not isinstance(hyp_file, str) or not isinstance(data.get("hyp"), str):
        raise HypError(f"{path} is not a hypsearch model file (its program text is missing)")
    if not hyp_file or not os.path.exists(os.path.dirname(hyp_file) or "."):
        # Moved elsewhere: resolve imports next to the model file.
        hyp_file = os.path.join(os.path.dirname(os.path.abspath(path)), os.path.basename(hyp_file) or "model.hyp")
    text = data["hyp"] if trust else _without_imports(data["hyp"], path, hyp_file)
    try:
        return loads(text, filename=hyp_file).sample()
    except HypError as e:
        if trust or text == data["hyp"]:
            raise
        imports = ", ".join(_imports(data["hyp"], hyp_file))
        raise HypError(f"{path}: its program imports {imports}, which were not run: a model file may come from "
                       f"someone else, and importing runs their code. Register the components yourself before "
                       f"loading (import your own copy of the file), or pass trust=True (hypsearch export "
                       f"--trust) if you trust the file. ({e})") from None


def _imports(text: str, filename: str) -> List[str]:
    from hypsearch.dsl.syntax import ImportFile, ImportModule, parse
    return [f'"{st.path}"' if isinstance(st, ImportFile) else st.module
            for st in parse(text, filename) if isinstance(st, (ImportFile, ImportModule))]


def _without_imports(text: str, path: str, filename: str) -> str:
    """The program text with its import lines removed: loading it runs no code from the file (the
    components it uses must be built in or registered by the caller)."""
    from hypsearch.dsl.syntax import ImportFile, ImportModule, parse
    statements = parse(text, filename)  # parsing runs nothing
    lines = {st.loc.line for st in statements if isinstance(st, (ImportFile, ImportModule))}
    if not lines:
        return text
    kept = "".join(line if i not in lines else "\n" for i, line in enumerate(text.splitlines(True), 1))
    if any(isinstance(st, (ImportFile, ImportModule)) for st in parse(kept, filename)):
        raise HypError(f"{path}: its program's imports could not be set apart; pass trust=True (hypsearch "
                       f"export --trust) only if you trust the file")
    return kept


def _check_size(program: Any, state: Any, path: str, **shape: Any) -> None:
    """Refuse a program that would allocate more parameters than the file holds weights for (a
    model file whose text asks for a huge layer), before allocating anything (meta device)."""
    import torch
    from hypsearch.compile import build
    if not isinstance(state, dict):
        raise HypError(f"{path} is not a hypsearch model file (no state_dict)")
    try:
        with torch.device("meta"):
            shape_only = build(program, **shape)
    except HypError:
        raise
    except Exception:  # a lowering that needs real tensors: the real build says what is wrong
        return
    wanted = sum(p.numel() for p in shape_only.parameters())
    held = sum(t.numel() for t in state.values() if isinstance(t, torch.Tensor))
    if wanted > held:
        raise HypError(f"{path}: its program builds {wanted:,} parameters but the file holds {held:,} weights: "
                       f"the file is damaged or not what it claims")


def load_model(path: str, trust: bool = False):
    """Rebuild the `nn.Module` saved in a model file (best.pt or `hypsearch export` output).
    Runs no code from the file unless `trust=True` (README: what is safe to load)."""
    from hypsearch.compile import build  # torch
    data = read_model_file(path)
    shape = data.get("input_shape")
    program = _program(data, path, trust)
    sizes = dict(input_shape=tuple(shape) if shape else None, tasks=data.get("tasks"))
    _check_size(program, data.get("state_dict"), path, **sizes)
    model = build(program, **sizes)
    try:
        model.load_state_dict(data["state_dict"])
    except (RuntimeError, KeyError, TypeError) as e:
        raise HypError(f"{path}: its weights do not fit its program: {str(e).splitlines()[0]}") from None
    stats = data.get("normalization")
    if stats is not None:
        model = raw_inputs(model, stats["mean"], stats["std"])
    model.eval()
    return model


def raw_inputs(model: Any, mean: Any, std: Any) -> Any:
    """`model` behind the standardisation its data set had in training: it takes raw inputs."""
    import torch

    class RawInputs(torch.nn.Module):
        """(x - mean) / std, then the trained network; other attributes are the network's."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
            self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

        def forward(self, x, *args, **kwargs):
            return self.model((x - self.mean) / self.std, *args, **kwargs)

        def __getattr__(self, name: str) -> Any:
            try:
                return super().__getattr__(name)
            except AttributeError:
                return getattr(super().__getattr__("model"), name)

    return RawInputs()


def export(directory: str, out: str, trust: bool = False) -> str:
    """Write the best model of an experiment to `out`; the path written. Runs no code from the
    experiment's model file unless `trust=True`."""
    import torch
    exp = ExperimentDir(directory)
    exp.read_run()
    if not os.path.exists(exp.best_pt):
        raise HypError(f"{exp.path} has no trained best model (best.pt): no trial finished with status ok "
                       f"and a model (a Python objective trains none)")
    data = read_model_file(exp.best_pt)
    program = _program(data, exp.best_pt, trust)
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    text = dumps(program, path=out)
    tmp = out + ".tmp"
    saved = {"format": WEIGHTS_FORMAT, "hyp": text, "hyp_file": out, "state_dict": data["state_dict"]}
    for key in ("normalization", "input_shape", "tasks"):
        if key in data:
            saved[key] = data[key]
    torch.save(saved, tmp)
    os.replace(tmp, out)
    return out
