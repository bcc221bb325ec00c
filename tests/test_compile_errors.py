"""Programs that cannot be lowered raise HypError naming the component, its path and the sizes."""

import pytest

import hypsearch
from hypsearch.dsl.errors import Location
from hypsearch.dsl.vocabulary import Program
from hypsearch.dsl.vocabulary import data as D
from hypsearch.dsl.vocabulary import hypernet as H
from hypsearch.dsl.vocabulary import layers as L
from hypsearch.dsl.vocabulary import structure as S


def build(*layers, shape=(8,)):
    return hypsearch.build(S.sequential(layers=list(layers)), input_shape=shape)


def test_output_size_different_from_the_class_count_names_both_sizes():
    program = Program(target=S.sequential(layers=[L.linear(out=7)]), data=D.digits())
    with pytest.raises(hypsearch.HypError, match=r"target \(sequential\): outputs 7 .* 10 classes"):
        hypsearch.build(program)


def test_conv_on_flat_features_names_the_layer_and_both_shapes():
    with pytest.raises(hypsearch.HypError, match=r"target.layers\[1\] \(conv2d\): expects .*channels x height x width, got 16"):
        build(L.linear(out=16), L.conv2d(out=4))


def test_residual_that_cannot_be_projected_gives_both_shapes():
    with pytest.raises(hypsearch.HypError, match=r"target.layers\[0\] \(residual\).*\(2x4x4\).*\(32\)"):
        build(S.residual(body=S.sequential(layers=[L.flatten(), L.linear(out=32)])), shape=(2, 4, 4))


def test_phm_with_n_not_dividing_the_sizes_is_an_error():
    with pytest.raises(hypsearch.HypError, match=r"n = 3 must divide both the input size \(8\) and out \(9\)"):
        build(L.phm_linear(out=9, n=3))


def test_moe_with_k_larger_than_experts_is_an_error():
    with pytest.raises(hypsearch.HypError, match=r"k = 5 must be between 1 and experts = 4"):
        build(L.moe(experts=4, k=5))


def test_attention_heads_not_dividing_the_width_is_an_error():
    with pytest.raises(hypsearch.HypError, match=r"heads = 3 must divide the width 8"):
        build(L.attention(heads=3), shape=(4, 8))


def test_conv_groups_not_dividing_channels_is_an_error():
    with pytest.raises(hypsearch.HypError, match=r"groups = 2 must divide both the input channels \(3\)"):
        build(L.conv2d(out=4, groups=2), shape=(3, 5, 5))


def test_kernel_larger_than_the_input_is_an_error():
    with pytest.raises(hypsearch.HypError, match=r"kernel 5 does not fit the input 3x3"):
        build(L.conv2d(out=4, kernel=5, padding=0), shape=(1, 3, 3))


def test_unknown_padding_string_is_an_error():
    with pytest.raises(hypsearch.HypError, match=r"padding must be an int, \"same\" or \"valid\""):
        build(L.conv2d(out=4, padding="full"), shape=(1, 5, 5))


def test_dropout_probability_out_of_range_is_an_error():
    with pytest.raises(hypsearch.HypError, match=r"p must be in \[0, 1\), got 1.0"):
        build(L.dropout(p=1.0))


def test_error_carries_the_hyp_location_the_parser_recorded(tmp_path):
    src = tmp_path / "net.hyp"
    src.write_text("target = sequential(\n  moe(experts = 2, k = 3),\n)\n")
    layer = L.moe(experts=2, k=3)
    layer._hyp_location = Location(str(src), 2, 3)
    with pytest.raises(hypsearch.HypError) as info:
        build(layer)
    assert info.value.line == 2
    assert "moe(experts = 2, k = 3)" in info.value.render()


def test_generate_matching_nothing_lists_what_could_be_generated():
    program = Program(target=S.sequential(layers=[L.linear(out=10)]), data=D.digits(),
                      hypernet=H.hypernet(input=H.task_embedding(), generate=["conv2d"]))
    with pytest.raises(hypsearch.HypError, match=r"selects no parameters.*linear \(target.layers\[0\]\)"):
        hypsearch.build(program)


def test_generate_with_an_unknown_kind_suggests_the_closest():
    program = Program(target=S.sequential(layers=[L.linear(out=10)]), data=D.digits(),
                      hypernet=H.hypernet(input=H.task_embedding(), generate=["linaer"]))
    with pytest.raises(hypsearch.HypError, match=r"did you mean `linear`"):
        hypsearch.build(program)


def test_coordinates_with_a_chunked_head_is_an_error():
    program = Program(target=S.sequential(layers=[L.linear(out=10)]), data=D.digits(),
                      hypernet=H.hypernet(input=H.coordinates(), head=H.chunked()))
    with pytest.raises(hypsearch.HypError, match=r"hypernet.head \(chunked\).*must be full\(\)"):
        hypsearch.build(program)


def test_task_conditioned_model_with_several_tasks_needs_the_task_id():
    import torch
    program = Program(target=S.sequential(layers=[L.linear(out=10)]), data=D.split_digits(tasks=2),
                      hypernet=H.hypernet(input=H.task_embedding()))
    model = hypsearch.build(program)
    with pytest.raises(hypsearch.HypError, match=r"call model\(x, task=i\)"):
        model(torch.randn(1, 64))


def test_missing_input_shape_is_an_error_that_says_how_to_give_it():
    program = Program(target=S.sequential(layers=[L.linear(out=10)]), data=D.npz(path="x.npz"))
    with pytest.raises(hypsearch.HypError, match="pass input_shape="):
        hypsearch.build(program)


def test_a_non_layer_component_in_the_target_is_an_error():
    with pytest.raises(hypsearch.HypError, match=r"target.layers\[0\] \(digits\): `digits` is a data component"):
        build(D.digits())


def test_data_conditioned_generation_of_a_user_component_is_an_error():
    import torch

    @hypsearch.component(name="test_err_user_linear")
    def user_linear(out: int, in_shape=None):
        return torch.nn.Linear(in_shape[-1], out)

    comp = hypsearch.dsl.registry.lookup("test_err_user_linear")(out=10)
    program = Program(target=S.sequential(layers=[comp]), data=D.digits(),
                      hypernet=H.hypernet(input=H.data_conditioned(), generate="all"))
    with pytest.raises(hypsearch.HypError, match=r"leave target.layers\[0\] out of generate"):
        hypsearch.build(program)
