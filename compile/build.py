"""`build(program, input_shape=None)`: a concrete program lowered to a `Model`.

The input shape comes from the program's data (`program.data.info()`) unless `input_shape` is
given. When the data knows its class count (or regression outputs), a target whose output is not
exactly that size is an error naming both sizes: the compiler never appends a head silently. The target is lowered first, with every shape
inferred; then the hypernetwork, which takes over the tensors its `generate` field selects.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch

from hypsearch.dsl.errors import HypError
from hypsearch.dsl.registry import Component
from hypsearch.dsl.vocabulary import Program

from .hypernet.generator import build_hypernet
from .lowering import Lowerer, error
from .model import Model
from .shapes import fmt


def _input_shape(input_shape: Optional[Sequence[int]], info, data) -> tuple:
    if input_shape is not None:
        shape = tuple(int(s) for s in ([input_shape] if isinstance(input_shape, int) else input_shape))
        if not shape or any(s < 1 for s in shape):
            raise HypError(f"input_shape must be positive sizes, got {input_shape!r}")
        return shape
    if info is None:
        what = f"its data ({type(data).__hyp_name__})" if data is not None else "it has no data"
        raise HypError(f"cannot infer the program's input shape: {what} does not tell it without loading; "
                       "pass input_shape=")
    return tuple(info.input_shape)


def build(program: Any, input_shape: Optional[Sequence[int]] = None, tasks: Optional[int] = None) -> Model:
    """Lower a concrete program (or a bare layer component) to a torch `Model`; `input_shape` and
    `tasks` are for data that tells them only once loaded (npz, python)."""
    if isinstance(program, Component):
        program = Program(target=program)
    if not isinstance(program, Program):
        raise HypError(f"build expects a concrete Program, got {type(program).__name__}")
    if program.target is None:
        raise HypError("the program has no target network to build")
    data = program.data
    info = data.info() if data is not None and hasattr(data, "info") else None
    shape = _input_shape(input_shape, info, data)

    lowerer = Lowerer()
    target, out_shape = lowerer.lower(program.target, shape, "target")
    if info is not None and info.out_features is not None and out_shape != (info.out_features,):
        what = f"{info.num_classes} classes" if info.num_classes is not None else f"{info.outputs} outputs"
        if len(out_shape) > 1:  # a linear on a conv's output maps its last axis only
            fix = "add flatten() (or global_avgpool()) before the final linear"
        else:
            fix = f"end the target with linear(out = {info.out_features})"
        raise error(program.target, "target", f"outputs {fmt(out_shape)} per sample but the data "
                    f"({type(data).__hyp_name__}) has {what}: {fix}")

    if tasks is None:
        tasks = info.tasks if info is not None else 1
    elif isinstance(tasks, bool) or not isinstance(tasks, int) or tasks < 1:
        raise HypError(f"tasks must be a positive int, got {tasks!r}")
    hypernet, hyper_nodes = None, []
    if program.hypernet is not None:
        calibration = torch.randn((8,) + shape)
        hypernet, hyp_lowerer = build_hypernet(program.hypernet, lowerer.nodes, shape, tasks, calibration)
        hyper_nodes = hyp_lowerer.nodes
    return Model(target, hypernet, lowerer.nodes, hyper_nodes, shape, out_shape, tasks)
