"""The built Model: parameter counts, summary, warnings, and the import boundary."""

import subprocess
import sys

import torch

import hypsearch
from hypsearch.dsl.vocabulary import Program
from hypsearch.dsl.vocabulary import data as D
from hypsearch.dsl.vocabulary import hypernet as H
from hypsearch.dsl.vocabulary import layers as L
from hypsearch.dsl.vocabulary import structure as S


def program(hypernet=None, width=8):
    return Program(target=S.sequential(layers=[L.linear(out=width), L.relu(), L.linear(out=10)]),
                   data=D.split_digits(tasks=2), hypernet=hypernet)


def test_plain_program_has_a_target_and_no_hypernetwork():
    model = hypsearch.build(program())
    assert isinstance(model, torch.nn.Module)
    assert model.hypernet is None
    assert model.param_counts["target"] == 64 * 8 + 8 + 8 * 10 + 10
    assert model.param_counts["trainable"] == model.param_counts["target"]


def test_param_counts_split_generated_from_ordinary():
    model = hypsearch.build(program(H.hypernet(input=H.task_embedding(dim=4), generate=["target.layers[2]"])))
    c = model.param_counts
    assert c["target_generated"] == 90
    assert c["target_ordinary"] == 64 * 8 + 8
    assert c["trainable"] == c["target_ordinary"] + c["hypernet"]


def test_summary_lists_each_layer_with_its_output_shape_and_counts():
    model = hypsearch.build(program(H.hypernet(input=H.task_embedding(dim=4), generate=["target.layers[2]"])))
    text = model.summary()
    row = next(line for line in text.splitlines() if "target.layers[0]" in line)
    assert row.split() == ["target.layers[0]", "linear", "8", "520", "-"]
    row = next(line for line in text.splitlines() if "target.layers[2]" in line)
    assert row.split() == ["target.layers[2]", "linear", "10", "0", "90"]
    assert "head: FullHead of width 64 over 90 generated values" in text


def test_summary_warns_when_the_hypernetwork_is_far_larger_than_the_target():
    model = hypsearch.build(program(H.hypernet(input=H.task_embedding(), body=H.mlp(hidden=[256]))))
    assert model.warnings()
    assert "warning: the hypernetwork has" in model.summary()


def test_small_hypernetwork_gets_no_warning():
    model = hypsearch.build(program(H.hypernet(input=H.task_embedding(dim=4), body=H.mlp(hidden=[4]),
                                               head=H.chunked(size=64, dim=2))))
    assert model.warnings() == []


def test_model_moves_to_another_dtype_with_its_hypernetwork():
    model = hypsearch.build(program(H.hypernet(input=H.coordinates(hidden=8), mip=True))).double()
    assert model(torch.randn(2, 64, dtype=torch.float64), task=1).dtype == torch.float64


def test_state_dict_round_trips_into_a_rebuilt_model():
    p = program(H.hypernet(input=H.task_embedding(dim=4), head=H.chunked(size=32)))
    a, b = hypsearch.build(p), hypsearch.build(p)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 64)
    assert torch.allclose(a(x, task=1), b(x, task=1))


def test_importing_hypsearch_does_not_import_torch():
    code = "import sys, hypsearch; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
