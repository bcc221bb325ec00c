"""`hypsearch check` over the whole space: shapes, metric names, search settings, empty files;
and `run` skipping the programs that cannot be built without spending trials."""

import json

import pytest

from hypsearch.cli import main


def check(tmp_path, text, *flags, name="s.hyp"):
    path = tmp_path / name
    path.write_text(text)
    return main(["check", str(path), *flags]), str(path)


DIGITS = "data = digits()\n"


@pytest.mark.parametrize("body, expected", [
    ("target = sequential(conv2d(out = 8, kernel = 3), linear(out = 10))\n", "add flatten()"),
    ("target = sequential(linear(out = 32), linear(out = 7))\n", "end the target with linear(out = 10)"),
    ("target = sequential(moe(experts = 2, k = 3), linear(out = 10))\n", "k = 3 must be between 1 and experts = 2"),
])
def test_every_program_failing_to_build_is_an_error_at_its_location(tmp_path, capsys, body, expected):
    data = 'data = cifar10("x")\n' if "conv2d" in body else DIGITS
    rc, path = check(tmp_path, data + body)
    out, err = capsys.readouterr()
    assert rc == 2 and "ok" not in out
    assert f"{path}:2:" in err and "every program of the space fails to build" in err and expected in err


def test_some_programs_failing_is_a_warning_naming_the_decision_value(tmp_path, capsys):
    rc, path = check(tmp_path, DIGITS + "target = sequential(phm_linear(out = 32, n = oneof(2, 3, 4)), relu(), linear(out = 10))\n")
    out, err = capsys.readouterr()
    assert rc == 0 and "ok" in out
    assert f"{path}:2:21: warning: some programs fail to build (1 of 3" in err
    assert "when `target.layers[0].n = 3`" in err and "n = 2" not in err


def test_generate_pattern_and_empty_file(tmp_path, capsys):
    rc, _ = check(tmp_path, "data = split_digits(tasks = 5)\ntarget = sequential(linear(out = 32), relu(), linear(out = 10))\n"
                  "hypernet = hypernet(input = task_embedding(dim = 8), body = mlp(hidden = [16]), head = full(), generate = [\"conv\"])\n")
    assert rc == 2 and "did you mean `conv2d`?" in capsys.readouterr().err
    rc, _ = check(tmp_path, "", name="empty.hyp")
    assert rc == 2 and "the file defines nothing" in capsys.readouterr().err


def test_metric_and_search_settings_are_checked_at_their_location(tmp_path, capsys):
    base = DIGITS + "target = linear(out = 10)\n"
    rc, path = check(tmp_path, base + 'objective = maximize("val_acc")\n')
    err = capsys.readouterr().err
    assert rc == 2 and f"{path}:3:22:" in err and "did you mean `val_accuracy`?" in err
    rc, path = check(tmp_path, base + 'search = search(algo = "mcst")\n')
    err = capsys.readouterr().err
    assert rc == 2 and f"{path}:3:" in err and "did you mean `mcts`?" in err
    rc, path = check(tmp_path, base + 'search = search(algo = "evolution", populaton = 8)\n')
    err = capsys.readouterr().err
    assert rc == 2 and f"{path}:3:" in err and "did you mean `population`?" in err


def test_list_shows_conditions_as_the_choice_text(tmp_path, capsys):
    rc, _ = check(tmp_path, DIGITS + "target = sequential(oneof(linear(out = 10), sequential(linear(out = intv(8, 16)), "
                  "linear(out = 10))))\n", "--list")
    out = capsys.readouterr().out
    assert rc == 0 and "when target.layers[0] is sequential(...)" in out


def test_run_skips_programs_that_cannot_be_built_without_spending_trials(tmp_path, capsys):
    import hypsearch

    (tmp_path / "s.hyp").write_text(DIGITS + "target = sequential(phm_linear(out = 32, n = oneof(2, 3)), linear(out = 10))\n"
                                    "train = train(epochs = 1)\n")
    exp = hypsearch.run(str(tmp_path / "s.hyp"), executor="inline", trials=2, out=str(tmp_path / "exp"), progress=False)
    err = capsys.readouterr().err
    assert "warning: some programs fail to build" in err and "the space is exhausted" in err
    assert [t.choices for t in exp.trials] == [{"target.layers[0].n": 2}]
    lines = [json.loads(line) for line in (tmp_path / "exp" / "trials.jsonl").read_text().splitlines()]
    assert all(line.get("status") != "invalid" for line in lines)
    hypsearch.run(resume=str(tmp_path / "exp"), trials=1)
    assert "nothing left to do" in capsys.readouterr().err
