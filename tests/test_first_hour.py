"""What a new user meets first: explicit best.hyp, readable `show`, user fields as attributes,
resume and exhaustion messages."""

import hypsearch
from hypsearch.cli import main

SPACE = """lr = floatv(0.1, 1.0)
width = oneof(1, 2, 3, 4)
mode = oneof("a", "b")
objective = maximize(python("obj.py:score"))
search = search(algo = "random", trials = 2)
"""
OBJ = """import hypsearch

@hypsearch.objective
def score(program):
    assert program.lr == program["lr"] == program.params["lr"]
    return program.lr * program.width
"""


def test_dumps_writes_every_value_even_a_default():
    text = hypsearch.dumps(hypsearch.loads(
        "data = split_digits(tasks = 5)\ntarget = linear(out = 10)\ntrain = train(batch_size = 64)\n").sample(0))
    assert "tasks = 5" in text and "batch_size = 64" in text and "bias = true" in text
    again = hypsearch.loads(text).sample()
    assert hypsearch.dumps(again) == text


def test_a_run_resumed_with_more_trials_reads_well(tmp_path, capsys):
    (tmp_path / "s.hyp").write_text(SPACE)
    (tmp_path / "obj.py").write_text(OBJ)
    out = str(tmp_path / "exp")
    assert main(["run", str(tmp_path / "s.hyp"), "--executor", "inline", "--out", out, "--quiet", "--seed", "1"]) == 0
    assert main(["run", "--resume", out, "--trials", "3", "--executor", "inline", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["run", "--resume", out, "--executor", "inline", "--quiet"]) == 0
    assert "nothing left to do" in capsys.readouterr().err
    best = (tmp_path / "exp" / "best.hyp").read_text()
    assert "width = " in best and ('search = search(algo = "random", trials = 2, seed = 1)' in best
                                   or 'search = search(algo = "random", trials = 3, seed = 1)' in best)
    assert main(["show", out]) == 0
    shown = capsys.readouterr().out
    assert "3 trials (asked 2, then 3 on resume; 3 ok)" in shown
    header = next(line for line in shown.splitlines() if line.startswith("id"))
    assert "value" in header  # the objective is no metric column here
    rows = [line for line in shown.splitlines() if line[:1].isdigit()]
    assert all("lr=" in r and "width=" in r for r in rows)


def test_rays_token_authentication_notice_is_filtered_and_its_errors_kept(caplog):
    import logging

    from hypsearch.runner.ray_noise import RAY_AUTH_LOGGER, quiet_ray_notices

    quiet_ray_notices()
    quiet_ray_notices()  # idempotent
    logger = logging.getLogger(RAY_AUTH_LOGGER)
    with caplog.at_level(logging.WARNING, logger=RAY_AUTH_LOGGER):
        logger.warning("Token authentication is enabled for this Ray cluster. Set RAY_AUTH_MODE=disabled to opt out.")
        logger.warning("something else Ray wants to say")
        logger.error("Token authentication is disabled for this Ray cluster: and it failed")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["something else Ray wants to say", "Token authentication is disabled for this Ray cluster: and it failed"]
