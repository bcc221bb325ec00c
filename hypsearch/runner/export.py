"""Trained models on disk: `hypsearch export` and `hypsearch.load_model`.

A model file is a plain dict (loadable with `torch.load(path, weights_only=True)`; no pickled
modules): `format`, `hyp` (the concrete program as `.hyp` text), `hyp_file` (the path that text's
relative imports are relative to) and `state_dict`. Loading rebuilds the network from the text
with `hypsearch.build` and loads the weights into it.
"""

from __future__ import annotations

import os
from typing import Any, Dict

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


def _program(data: Dict[str, Any], path: str):
    hyp_file = data.get("hyp_file") or ""
    if not hyp_file or not os.path.exists(os.path.dirname(hyp_file) or "."):
        # Moved elsewhere: resolve imports next to the model file.
        hyp_file = os.path.join(os.path.dirname(os.path.abspath(path)), os.path.basename(hyp_file) or "model.hyp")
    return loads(data["hyp"], filename=hyp_file).sample()


def load_model(path: str):
    """Rebuild the `nn.Module` saved in a model file (best.pt or `hypsearch export` output)."""
    from hypsearch.compile import build  # torch
    data = read_model_file(path)
    model = build(_program(data, path))
    model.load_state_dict(data["state_dict"])
    model.eval()
    return model


def export(directory: str, out: str) -> str:
    """Write the best model of an experiment to `out`; the path written."""
    import torch
    exp = ExperimentDir(directory)
    exp.read_run()
    if not os.path.exists(exp.best_pt):
        raise HypError(f"{exp.path} has no trained best model (best.pt): no trial finished with status ok "
                       f"and a model (a Python objective trains none)")
    data = read_model_file(exp.best_pt)
    program = _program(data, exp.best_pt)
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    text = dumps(program, path=out)
    tmp = out + ".tmp"
    torch.save({"format": WEIGHTS_FORMAT, "hyp": text, "hyp_file": out, "state_dict": data["state_dict"]}, tmp)
    os.replace(tmp, out)
    return out
