"""Hypernetworks: what they generate, how they are conditioned, their bodies, heads and MIP."""

import pytest
import torch

import hypsearch
from hypsearch.dsl.vocabulary import Program
from hypsearch.dsl.vocabulary import data as D
from hypsearch.dsl.vocabulary import hypernet as H
from hypsearch.dsl.vocabulary import layers as L
from hypsearch.dsl.vocabulary import structure as S


def mlp_target(width=8, out=10):
    return S.sequential(layers=[L.linear(out=width), L.relu(), L.linear(out=out)])


def build(target=None, data=None, shape=None, **hyper):
    hyper.setdefault("input", H.task_embedding(dim=4))
    hyper.setdefault("body", H.mlp(hidden=[16]))
    program = Program(target=target or mlp_target(), data=data or D.split_digits(tasks=3),
                      hypernet=H.hypernet(**hyper))
    return hypsearch.build(program, input_shape=shape)


def generated_keys(model):
    return [t.key for t in model.hypernet.targets]


def test_generate_all_moves_every_target_tensor_to_the_hypernetwork():
    model = build(generate="all")
    assert generated_keys(model) == ["target.layers[0].weight", "target.layers[0].bias",
                                     "target.layers[2].weight", "target.layers[2].bias"]
    assert list(model.target.parameters()) == []


def test_generate_by_kind_is_exact():
    target = S.sequential(layers=[L.linear(out=8), L.phm_linear(out=8, n=2), L.linear(out=10)])
    model = build(target=target, generate=["linear"])
    assert generated_keys(model) == ["target.layers[0].weight", "target.layers[0].bias",
                                     "target.layers[2].weight", "target.layers[2].bias"]
    assert model.target.layers[1].rules.requires_grad


def test_generate_phm_layers_generates_their_factors():
    target = S.sequential(layers=[L.phm_linear(out=8, n=2), L.linear(out=10)])
    model = build(target=target, generate=["phm_linear"])
    assert generated_keys(model) == ["target.layers[0].rules", "target.layers[0].blocks", "target.layers[0].bias"]
    model(torch.randn(2, 64), task=0).sum().backward()


def test_generate_path_pattern_treats_brackets_literally():
    model = build(generate=["target.layers[2]"])
    assert generated_keys(model) == ["target.layers[2].weight", "target.layers[2].bias"]


def test_generate_path_pattern_star_matches_any_index():
    model = build(generate="target.layers[*]")
    assert len(generated_keys(model)) == 4


def test_generate_pattern_selects_everything_inside_the_matched_component():
    target = S.sequential(layers=[S.residual(body=L.linear(out=8)), L.linear(out=10)])
    model = build(target=target, generate=["target.layers[0]"])
    assert generated_keys(model) == ["target.layers[0].proj_weight", "target.layers[0].body.weight",
                                     "target.layers[0].body.bias"]


def test_batchnorm_statistics_stay_buffers_when_batchnorm_is_generated():
    target = S.sequential(layers=[L.linear(out=8), L.batchnorm(), L.linear(out=10)])
    model = build(target=target, generate=["batchnorm"])
    assert generated_keys(model) == ["target.layers[1].weight", "target.layers[1].bias"]
    bn = model.target.layers[1]
    model(torch.randn(4, 64) + 2, task=1)
    assert bn.running_mean.abs().sum() > 0


def test_ungenerated_tensors_remain_ordinary_parameters():
    model = build(generate=["target.layers[0]"])
    names = [n for n, _ in model.target.named_parameters()]
    assert names == ["layers.2.weight", "layers.2.bias"]


def test_training_flows_through_the_generated_weights_into_the_hypernetwork():
    model = build(generate="all")
    model(torch.randn(4, 64), task=2).pow(2).sum().backward()
    grads = [p.grad for p in model.hypernet.parameters()]
    assert all(g is not None for g in grads)
    assert model.hypernet.head.weight.grad.abs().sum() > 0


def test_task_id_as_int_and_as_uniform_tensor_agree():
    model = build()
    x = torch.randn(3, 64)
    assert torch.allclose(model(x, task=1), model(x, task=torch.tensor([1, 1, 1])))


def test_mixed_task_ids_give_each_sample_its_tasks_weights():
    model = build()
    x = torch.randn(3, 64)
    mixed = model(x, task=torch.tensor([0, 2, 0]))
    assert torch.allclose(mixed[1], model(x[1:2], task=2)[0], atol=1e-6)
    assert torch.allclose(mixed[2], model(x[2:3], task=0)[0], atol=1e-6)


def test_different_tasks_get_different_weights():
    model = build()
    x = torch.randn(2, 64)
    assert not torch.allclose(model(x, task=0), model(x, task=1))


def test_task_out_of_range_is_a_hyp_error():
    with pytest.raises(hypsearch.HypError, match="task 5 is out of range"):
        build()(torch.randn(1, 64), task=5)


def test_layer_embedding_gives_each_generated_tensor_its_own_embedding():
    model = build(input=H.layer_embedding(dim=6), head=H.chunked(size=16, dim=3))
    assert model.hypernet.mode == "tensor_chunks"
    assert model(torch.randn(2, 64)).shape == (2, 10)
    tables = [m for m in model.hypernet.units.parts]
    assert tables[0].embedding.weight.shape == (4, 6)


def test_data_conditioned_output_of_a_sample_does_not_depend_on_the_rest_of_its_batch():
    model = build(input=H.data_conditioned(dim=5), data=D.digits())
    model.eval()
    x = torch.randn(4, 64)
    together = model(x)
    alone = model(x[2:3])
    assert torch.allclose(together[2], alone[0], atol=1e-5)
    assert not torch.allclose(together[0], together[1])


def test_data_conditioned_generation_covers_conv_layers_per_sample():
    target = S.sequential(layers=[L.conv2d(out=3), L.batchnorm(), L.global_avgpool(), L.linear(out=10)])
    model = build(target=target, input=H.data_conditioned(dim=4), data=D.digits(image=True))
    model.eval()
    x = torch.randn(3, 1, 8, 8)
    assert torch.allclose(model(x)[1], model(x[1:2])[0], atol=1e-5)


def test_coordinates_generator_size_does_not_grow_with_the_target():
    small = build(target=mlp_target(width=4), input=H.coordinates(hidden=8, frequencies=2), data=D.digits())
    large = build(target=mlp_target(width=64), input=H.coordinates(hidden=8, frequencies=2), data=D.digits())
    assert small.param_counts["hypernet"] == large.param_counts["hypernet"]
    assert large.param_counts["target_generated"] > 10 * small.param_counts["target_generated"]


def test_rnn_body_makes_each_tensor_depend_on_the_earlier_steps_only():
    model = build(input=H.layer_embedding(dim=4), body=H.rnn(hidden=8), data=D.digits())
    table = model.hypernet.units.parts[0].embedding.weight
    third = model.hypernet.deltas()["target.layers[2].weight"]
    grad = torch.autograd.grad(third.sum(), table)[0]
    assert grad[0].abs().sum() > 0  # step 0 (first weight) influences step 2
    assert grad[3].abs().sum() == 0  # step 3 (last bias) comes later


def test_full_head_holds_width_times_generated_parameters():
    model = build(body=H.mlp(hidden=[16]), head=H.full())
    p = model.param_counts["target_generated"]
    assert model.param_counts["hypernet_head"] == 16 * p + p


def test_chunked_head_uses_ceil_of_size_over_chunk_embeddings_and_cuts_the_last():
    model = build(head=H.chunked(size=100, dim=3))
    p = model.param_counts["target_generated"]
    chunks = model.hypernet.units.parts[0].embedding.weight
    assert chunks.shape == (-(-p // 100), 3)
    assert model(torch.randn(2, 64), task=0).shape == (2, 10)


def test_lowrank_head_generates_weights_of_at_most_its_rank():
    model = build(head=H.lowrank(rank=2))
    w = model.hypernet(task=0).params["target.layers[0].weight"]
    assert w.shape == (8, 64)
    assert torch.linalg.matrix_rank(w) <= 2


def test_generated_weights_start_at_the_scale_of_the_targets_default_init():
    model = build(target=mlp_target(width=32), body=H.mlp(hidden=[32]))
    w = model.hypernet(task=0).params["target.layers[0].weight"]
    expected = 1 / (3 * 64) ** 0.5  # std of U(-1/sqrt(64), 1/sqrt(64))
    assert 0.5 * expected < w.std().item() < 2 * expected


def test_mip_starts_at_theta0_initialised_like_the_target():
    model = build(mip=True)
    base = model.hypernet.base[0]
    bound = 1 / 64 ** 0.5
    assert base.abs().max() <= bound
    w = model.hypernet(task=0).params["target.layers[0].weight"]
    delta = w - base
    assert delta.std() < 0.3 * base.std()


def _delta_norm_after_scaling_task_embeddings(model, c):
    with torch.no_grad():
        model.hypernet.conditioner.embedding.weight.mul_(c)
    return torch.cat([d.flatten() for d in model.hypernet.deltas(task=1).values()]).norm().item()


def test_with_mip_scaling_the_conditioning_input_leaves_the_delta_norm_unchanged():
    torch.manual_seed(0)
    model = build(mip=True)
    before = _delta_norm_after_scaling_task_embeddings(model, 1.0)
    after = _delta_norm_after_scaling_task_embeddings(model, 10.0)
    assert after == pytest.approx(before, rel=1e-4)


def test_without_mip_scaling_the_conditioning_input_grows_the_delta_norm():
    torch.manual_seed(0)
    model = build(mip=False)
    before = _delta_norm_after_scaling_task_embeddings(model, 1.0)
    after = _delta_norm_after_scaling_task_embeddings(model, 10.0)
    assert after > 3 * before


def test_mip_encodes_coordinates_on_the_unit_circle():
    model = build(input=H.coordinates(hidden=8, frequencies=1), mip=True, data=D.digits())
    feats = model.hypernet.units.parts[0]
    encoded = torch.cat([torch.cos(feats.coords * torch.pi / 2), torch.sin(feats.coords * torch.pi / 2)], -1)
    assert feats.features() == 8
    assert torch.allclose(encoded.norm(dim=-1), torch.full((encoded.shape[0],), 2.0))


def test_generated_attention_and_moe_run_per_sample():
    target = S.sequential(layers=[L.attention(heads=2), L.moe(experts=3, k=2), L.flatten(), L.linear(out=10)])
    model = build(target=target, input=H.data_conditioned(dim=4), data=D.digits(sequence=True),
                  head=H.chunked(size=64))
    model.eval()
    x = torch.randn(3, 8, 8)
    assert torch.allclose(model(x)[2], model(x[2:3])[0], atol=1e-5)


def test_user_component_parameters_can_be_generated():
    @hypsearch.component(name="test_gen_affine")
    def affine_layer(out: int, in_shape=None):
        return torch.nn.Linear(in_shape[-1], out)

    comp = hypsearch.dsl.registry.lookup("test_gen_affine")(out=10)
    model = build(target=S.sequential(layers=[comp]), generate=["test_gen_affine"])
    assert generated_keys(model) == ["target.layers[0].weight", "target.layers[0].bias"]
    model(torch.randn(2, 64), task=1).sum().backward()
    assert model.hypernet.head.weight.grad.abs().sum() > 0


EVERY_LAYER = [
    ((1, 8, 8), [L.conv2d(out=4, stride=2), L.batchnorm(), L.phm_conv2d(out=4, n=2), L.maxpool(),
                 S.residual(body=L.conv2d(out=8)), L.global_avgpool(), L.phm_linear(out=10, n=2)]),
    ((8, 8), [L.conv1d(out=8), L.layernorm(), L.attention(heads=2, dim=12), L.moe(experts=3, k=2),
              L.flatten(), L.linear(out=10)]),
]


@pytest.mark.parametrize("shape, layers", EVERY_LAYER)
@pytest.mark.parametrize("inp", [H.task_embedding(dim=4), H.data_conditioned(dim=4)])
def test_every_layer_trains_through_generated_weights(shape, layers, inp):
    model = build(target=S.sequential(layers=layers), input=inp, data=D.digits(), shape=shape,
                  head=H.chunked(size=128))
    assert list(model.target.parameters()) == []
    model(torch.randn(3, *shape)).logsumexp(-1).sum().backward()
    assert model.hypernet.head.weight.grad.abs().sum() > 0


def test_generated_norm_scales_start_near_one_and_shifts_near_zero():
    target = S.sequential(layers=[L.linear(out=32), L.layernorm(), L.linear(out=10)])
    model = build(target=target, generate=["layernorm"])
    params = model.hypernet(task=0).params
    assert (params["target.layers[1].weight"] - 1).abs().max() < 0.5
    assert params["target.layers[1].bias"].abs().max() < 0.5
    assert 0.02 < params["target.layers[1].weight"].std() < 0.3
