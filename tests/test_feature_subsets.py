"""The `feature_subsets` hypernetwork input: an ensemble over seeded feature masks, trained with masks
drawn per step, predicting with the average of its test members; on the bundled tabular sets, a csv
table, and through export / load_model."""

import numpy as np
import pytest
import torch

import hypsearch
from hypsearch.cli import main as cli
from hypsearch.compile.layers.base import Generated
from hypsearch.runner.trial import evaluate

SPACE = """\
data = DATA
target = sequential(linear(out = 16), relu(), linear(out = CLASSES))
hypernet = hypernet(input = feature_subsets(members = 8, fraction = 0.5, seed = 3), body = mlp(hidden = [32]),
                    head = full())
train = train(epochs = EPOCHS, batch_size = 32, optimizer = adam(lr = 0.01))
objective = maximize("val_accuracy")
"""


def _program(data="wine()", classes=3, epochs=8, space=SPACE):
    return hypsearch.loads(space.replace("DATA", data).replace("CLASSES", str(classes))
                           .replace("EPOCHS", str(epochs))).sample()


def _model(features=13, classes=3, **kw):
    return hypsearch.build(_program(classes=classes, **kw), input_shape=(features,))


def test_test_masks_are_seeded_and_keep_the_fraction_of_the_features():
    a, b = _model().hypernet.conditioner, _model().hypernet.conditioner
    assert torch.equal(a.test_masks, b.test_masks)
    assert a.test_masks.shape == (8, 13)
    assert (a.test_masks.sum(dim=1) == round(0.5 * 13)).all()
    assert len({tuple(m.tolist()) for m in a.test_masks}) > 1
    other = _model(space=SPACE.replace("seed = 3", "seed = 4")).hypernet.conditioner
    assert not torch.equal(a.test_masks, other.test_masks)


@torch.no_grad()
def _members_one_by_one(model, x):
    """The mean of the test members' class probabilities, each member generated and run alone."""
    cond, hyper = model.hypernet.conditioner, model.hypernet
    probs = []
    for mask in cond.test_masks:
        params = {k: v[0] for k, v in hyper.generate(cond.encode(mask[None])).items()}
        probs.append(model.target(x * mask, Generated(params, False)).softmax(dim=-1))
    return torch.stack(probs).mean(dim=0)


def test_prediction_averages_the_probabilities_of_the_members_run_one_by_one():
    model = _model().eval()
    x = torch.randn(5, 13)
    with torch.no_grad():
        assert torch.allclose(model(x).exp(), _members_one_by_one(model, x), atol=1e-5)


def test_training_draws_fresh_masks_each_step_and_the_seed_fixes_them():
    model = _model().train()
    x = torch.randn(6, 13)
    torch.manual_seed(0)
    first, second = model(x), model(x)
    torch.manual_seed(0)
    again = model(x)
    assert not torch.allclose(first, second) and torch.equal(first, again)


def test_a_member_ignores_the_features_its_mask_leaves_out():
    model = _model().eval()
    cond = model.hypernet.conditioner
    cond.test_masks.copy_(cond.test_masks[:1].expand_as(cond.test_masks))  # every member: mask 0
    x = torch.randn(4, 13)
    y = x.clone()
    y[:, cond.test_masks[0] == 0] += 5.0
    with torch.no_grad():
        assert torch.allclose(model(x), model(y))


@pytest.mark.parametrize("data,classes,floor", [("wine()", 3, 0.9), ("breast_cancer()", 2, 0.9),
                                                ("iris()", 3, 0.8)])
def test_the_ensemble_learns_the_bundled_tabular_sets(data, classes, floor):
    result = evaluate(_program(data, classes))
    assert result.metrics["val_accuracy"] >= floor


def test_the_ensemble_trains_on_a_csv_table_with_a_categorical_column_and_missing_values(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["a,b,colour,label"]
    for i in range(80):
        a, b = rng.standard_normal(2)
        colour = ["red", "green", ""][i % 3]
        label = "yes" if a + (colour == "red") > 0.3 else "no"
        rows.append(f"{'' if i % 10 == 0 else round(a, 3)},{round(b, 3)},{colour},{label}")
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    program = _program(f'csv("{tmp_path / "t.csv"}", target = "label")', 2, epochs=4)
    result = evaluate(program)
    assert result.model.hypernet.conditioner.features == 5  # a, b, three colours one-hot
    assert np.isfinite(result.metrics["val_loss"])


def test_bad_fraction_and_an_image_input_are_errors_that_name_the_input():
    with pytest.raises(hypsearch.HypError, match=r"fraction must be in \(0, 1\], got 1.5"):
        _model(space=SPACE.replace("fraction = 0.5", "fraction = 1.5"))
    with pytest.raises(hypsearch.HypError, match="masks the features of tabular rows"):
        flat = SPACE.replace("sequential(linear(out = 16)", "sequential(flatten(), linear(out = 16)")
        hypsearch.build(_program(space=flat), input_shape=(1, 8, 8))


def test_an_exported_ensemble_loads_and_predicts_its_averaged_probabilities(tmp_path, capsys):
    text = SPACE.replace("DATA", "iris()").replace("CLASSES", "3").replace("EPOCHS", "3")
    (tmp_path / "fs.hyp").write_text(text + 'search = search(algo = "random", trials = 1, seed = 0)\n')
    out = str(tmp_path / "exp")
    assert cli(["run", str(tmp_path / "fs.hyp"), "--executor", "inline", "--out", out, "--quiet"]) == 0
    assert cli(["export", out, "--out", str(tmp_path / "m.pt")]) == 0
    capsys.readouterr()
    model = hypsearch.load_model(str(tmp_path / "m.pt")).eval()
    x = torch.randn(7, 4)
    with torch.no_grad():
        p = model(x).exp()
    assert p.shape == (7, 3) and torch.allclose(p.sum(dim=1), torch.ones(7), atol=1e-5)
    # load_model takes raw rows (iris's own scale): the members see them standardised.
    assert torch.allclose(p, _members_one_by_one(model, (x - model.mean) / model.std), atol=1e-5)
    assert torch.equal(model.hypernet.conditioner.test_masks, _model(features=4).hypernet.conditioner.test_masks)


MEMBERS = SPACE.replace("seed = 3)", 'seed = 3, training = "members")')


def test_members_training_scores_every_test_member_on_every_sample():
    # HyperTab's way: in training the forward returns each test member's outputs for the whole
    # batch, member after member, and fit scores each against the sample's own target.
    model = _model(space=MEMBERS).train()
    assert model.outputs_per_sample == 8
    x = torch.randn(5, 13)
    with torch.no_grad():
        out = model(x)
        cond, hyper = model.hypernet.conditioner, model.hypernet
        assert out.shape == (8 * 5, 3)
        for m, mask in enumerate(cond.test_masks):
            params = {k: v[0] for k, v in hyper.generate(cond.encode(mask[None])).items()}
            alone = model.target(x * mask, Generated(params, False))
            assert torch.allclose(out[m * 5:(m + 1) * 5], alone, atol=1e-5), m
    model.eval()
    assert model.outputs_per_sample == 1
    with torch.no_grad():
        assert torch.allclose(model(x).exp(), _members_one_by_one(model, x), atol=1e-5)


def test_members_training_learns_and_keeps_its_test_masks():
    program = _program(space=MEMBERS, epochs=10)
    result = evaluate(program)
    assert result.metrics["val_accuracy"] >= 0.9
    assert torch.equal(result.model.hypernet.conditioner.test_masks, _model().hypernet.conditioner.test_masks)


def test_members_training_does_not_pack_and_a_bad_training_value_names_the_choices():
    from hypsearch.runner.packed.layout import unpackable_reason
    assert "training = \"members\"" in unpackable_reason(_model(space=MEMBERS))
    assert unpackable_reason(_model()) is None
    with pytest.raises(hypsearch.HypError, match=r"training must be one of 'drawn', 'members', got 'all'"):
        _model(space=MEMBERS.replace('"members"', '"all"'))
