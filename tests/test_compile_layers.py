"""Each target component lowers to torch with inferred shapes and computes what it promises."""

import pytest
import torch
import torch.nn.functional as F

import hypsearch
from hypsearch.dsl.vocabulary import Program
from hypsearch.dsl.vocabulary import data as D
from hypsearch.dsl.vocabulary import layers as L
from hypsearch.dsl.vocabulary import structure as S


def build(*layers, shape):
    return hypsearch.build(S.sequential(layers=list(layers)), input_shape=shape)


def params(model):
    return sum(p.numel() for p in model.parameters())


def test_linear_infers_its_input_size_and_matches_f_linear():
    model = build(L.linear(out=5), shape=(7,))
    lin = model.target.layers[0]
    x = torch.randn(3, 7)
    assert torch.allclose(model(x), F.linear(x, lin.weight, lin.bias))
    assert model.output_shape == (5,)


def test_linear_without_bias_has_only_a_weight():
    model = build(L.linear(out=5, bias=False), shape=(7,))
    assert params(model) == 35


def test_input_shape_comes_from_the_data_when_not_given():
    flat = hypsearch.build(Program(target=S.sequential(layers=[L.linear(out=10)]), data=D.digits()))
    assert flat.input_shape == (64,)
    image = Program(target=S.sequential(layers=[L.conv2d(out=2), L.flatten(), L.linear(out=10)]),
                    data=D.digits(image=True))
    assert hypsearch.build(image).input_shape == (1, 8, 8)
    seq = Program(target=S.sequential(layers=[L.attention(heads=2), L.global_avgpool(), L.linear(out=10)]),
                  data=D.digits(sequence=True))
    assert hypsearch.build(seq).input_shape == (8, 8)


@pytest.mark.parametrize("act, fn", [
    (L.relu(), F.relu), (L.gelu(), F.gelu), (L.silu(), F.silu), (L.tanh(), torch.tanh),
    (L.sigmoid(), torch.sigmoid), (L.identity(), lambda x: x),
    (L.leaky_relu(slope=0.2), lambda x: F.leaky_relu(x, 0.2)),
])
def test_activation_applies_its_function(act, fn):
    x = torch.randn(4, 6)
    assert torch.allclose(build(act, shape=(6,))(x), fn(x))


def test_dropout_drops_in_training_and_passes_through_in_eval():
    model = build(L.dropout(p=0.5), shape=(1000,))
    x = torch.ones(2, 1000)
    assert (model(x) == 0).any()
    model.eval()
    assert torch.equal(model(x), x)


def test_conv2d_same_padding_keeps_the_spatial_size_even_with_stride_one_and_even_kernel():
    model = build(L.conv2d(out=4, kernel=4, padding="same"), shape=(2, 7, 7))
    assert model.output_shape == (4, 7, 7)
    assert model(torch.randn(3, 2, 7, 7)).shape == (3, 4, 7, 7)


def test_conv2d_same_padding_with_stride_gives_ceil_of_size_over_stride():
    model = build(L.conv2d(out=4, kernel=3, stride=2, padding="same"), shape=(1, 7, 7))
    assert model.output_shape == (4, 4, 4)
    assert model(torch.randn(2, 1, 7, 7)).shape == (2, 4, 4, 4)


def test_conv2d_int_padding_matches_torch_conv2d():
    model = build(L.conv2d(out=3, kernel=3, stride=2, padding=1), shape=(2, 8, 8))
    conv = model.target.layers[0]
    x = torch.randn(2, 2, 8, 8)
    assert torch.allclose(model(x), F.conv2d(x, conv.weight, conv.bias, stride=2, padding=1), atol=1e-6)


def test_conv2d_groups_divide_the_weight():
    model = build(L.conv2d(out=8, kernel=3, groups=4, bias=False), shape=(8, 5, 5))
    assert params(model) == 8 * 2 * 3 * 3


def test_conv1d_runs_over_channels_and_length():
    model = build(L.conv1d(out=6, kernel=3, padding=0), shape=(4, 10))
    assert model.output_shape == (6, 8)
    assert model(torch.randn(2, 4, 10)).shape == (2, 6, 8)


def test_batchnorm_keeps_running_statistics_as_buffers():
    model = build(L.conv2d(out=3), L.batchnorm(momentum=0.5), shape=(1, 4, 4))
    bn = model.target.layers[1]
    assert {n for n, _ in bn.named_buffers()} == {"running_mean", "running_var"}
    model(torch.randn(8, 1, 4, 4) + 3.0)
    assert bn.running_mean.abs().sum() > 0


def test_layernorm_normalises_the_last_dimension():
    y = build(L.layernorm(), shape=(3, 16))(torch.randn(2, 3, 16) * 5 + 2)
    assert torch.allclose(y.mean(-1), torch.zeros(2, 3), atol=1e-5)


@pytest.mark.parametrize("pool, expected", [(L.maxpool(kernel=2), (3, 4, 4)), (L.avgpool(kernel=4), (3, 2, 2))])
def test_pooling_divides_the_spatial_size_by_its_kernel(pool, expected):
    model = build(pool, shape=(3, 8, 8))
    assert model.output_shape == expected
    assert model(torch.randn(2, 3, 8, 8)).shape == (2,) + expected


def test_maxpool_takes_the_window_maximum():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert torch.equal(build(L.maxpool(kernel=2), shape=(1, 4, 4))(x), F.max_pool2d(x, 2))


def test_global_avgpool_averages_every_position():
    x = torch.randn(2, 3, 4, 5)
    model = build(L.global_avgpool(), shape=(3, 4, 5))
    assert model.output_shape == (3,)
    assert torch.allclose(model(x), x.mean((2, 3)), atol=1e-6)


def test_flatten_joins_every_dimension_after_the_batch():
    model = build(L.flatten(), shape=(2, 3, 4))
    assert model.output_shape == (24,)
    assert model(torch.randn(5, 2, 3, 4)).shape == (5, 24)


def test_residual_with_equal_shapes_adds_the_input_without_projection():
    model = build(S.residual(body=L.identity()), shape=(6,))
    x = torch.randn(2, 6)
    assert torch.allclose(model(x), 2 * x)
    assert params(model) == 0


def test_residual_projects_the_input_when_the_body_changes_the_width():
    model = build(S.residual(body=L.linear(out=9, bias=False)), shape=(4,))
    assert model.output_shape == (9,)
    assert params(model) == 4 * 9 + 4 * 9  # body weight + projection


def test_residual_projects_with_a_strided_1x1_conv_when_channels_and_size_change():
    model = build(S.residual(body=L.conv2d(out=6, stride=2, bias=False)), shape=(3, 8, 8))
    assert model.output_shape == (6, 4, 4)
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 6, 4, 4)
    assert params(model) == 6 * 3 * 9 + 6 * 3


def test_attention_maps_a_sequence_to_a_sequence_and_projects_to_dim():
    model = build(L.attention(heads=2, dim=8), shape=(5, 6))
    assert model.output_shape == (5, 8)
    assert model(torch.randn(3, 5, 6)).shape == (3, 5, 8)


def test_attention_mixes_tokens():
    model = build(L.attention(heads=2), shape=(4, 8))
    x = torch.randn(1, 4, 8)
    y0 = model(x)
    x2 = x.clone()
    x2[0, 3] = torch.randn(8)
    assert not torch.allclose(model(x2)[0, 0], y0[0, 0])


def test_phm_linear_weight_is_a_sum_of_kronecker_products():
    model = build(L.phm_linear(out=6, n=2), shape=(4,))
    layer = model.target.layers[0]
    w = sum(torch.kron(layer.rules[i], layer.blocks[i]) for i in range(2))
    x = torch.randn(3, 4)
    assert torch.allclose(model(x), F.linear(x, w, layer.bias), atol=1e-6)


def test_phm_linear_holds_about_one_nth_of_the_parameters_of_linear():
    real = params(build(L.linear(out=64), shape=(64,)))
    phm = params(build(L.phm_linear(out=64, n=4), shape=(64,)))
    assert phm == 4 ** 3 + 64 * 64 // 4 + 64
    assert phm < real / 4 * 1.2


def test_phm_conv2d_holds_about_one_nth_of_the_parameters_of_conv2d():
    real = params(build(L.conv2d(out=16, bias=False), shape=(16, 6, 6)))
    phm = params(build(L.phm_conv2d(out=16, n=4, bias=False), shape=(16, 6, 6)))
    assert phm == 4 ** 3 + real // 4


def test_phm_conv2d_weight_is_a_sum_of_kronecker_products_at_every_kernel_position():
    model = build(L.phm_conv2d(out=4, kernel=3, n=2, padding=1), shape=(2, 5, 5))
    layer = model.target.layers[0]
    w = torch.stack([sum(torch.kron(layer.rules[i], layer.blocks[i][:, :, kh, kw]) for i in range(2))
                     for kh in range(3) for kw in range(3)], dim=-1).reshape(4, 2, 3, 3)
    x = torch.randn(2, 2, 5, 5)
    assert torch.allclose(model(x), F.conv2d(x, w, layer.bias, padding=1), atol=1e-5)


def test_moe_runs_each_token_through_exactly_k_experts():
    model = build(L.moe(experts=4, k=2), shape=(6, 8))
    seen = []
    for expert in model.target.layers[0].experts:
        expert.register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape[0]))
    model(torch.randn(5, 6, 8))
    assert sum(seen) == 2 * 5 * 6
    assert len(seen) <= 4


def test_moe_with_k_one_scales_the_chosen_experts_output_by_its_gate_probability():
    model = build(L.moe(experts=3, k=1), shape=(4,))
    moe = model.target.layers[0]
    x = torch.randn(6, 4)
    probs = F.linear(x, moe.gate_weight).softmax(-1)
    choice = probs.argmax(-1)
    expected = torch.stack([probs[i, c] * moe.experts[int(c)](x[i:i + 1])[0] for i, c in enumerate(choice)])
    assert torch.allclose(model(x), expected, atol=1e-6)


def test_moe_balance_loss_is_exposed_by_aux_loss_and_has_a_gradient():
    model = build(L.moe(experts=4, k=1, balance=0.5), L.linear(out=2), shape=(8,))
    model(torch.randn(16, 8))
    loss = model.aux_loss()
    assert loss.item() > 0
    loss.backward()
    assert model.target.layers[0].gate_weight.grad.abs().sum() > 0


def test_aux_loss_is_zero_without_moe():
    model = build(L.linear(out=2), shape=(3,))
    model(torch.randn(2, 3))
    assert model.aux_loss().item() == 0.0


def test_moe_body_can_be_a_small_network():
    body = S.sequential(layers=[L.linear(out=16), L.relu(), L.linear(out=5)])
    model = build(L.moe(experts=2, k=1, body=body), shape=(3, 4))
    assert model.output_shape == (3, 5)
    assert model(torch.randn(2, 3, 4)).shape == (2, 3, 5)


def test_user_component_is_lowered_with_its_arguments_and_input_shape():
    @hypsearch.component(name="test_scaled_linear")
    class ScaledLinear(torch.nn.Module):
        def __init__(self, out: int, scale: float = 2.0, in_shape=None):
            super().__init__()
            self.lin = torch.nn.Linear(in_shape[-1], out)
            self.scale = scale

        def forward(self, x):
            return self.lin(x) * self.scale

    comp = hypsearch.dsl.registry.lookup("test_scaled_linear")(out=3, scale=0.5)
    model = build(comp, L.relu(), shape=(5,))
    assert model.output_shape == (3,)
    x = torch.randn(2, 5)
    lin = model.target.layers[0].module.lin
    assert torch.allclose(model(x), F.relu(lin(x) * 0.5))
