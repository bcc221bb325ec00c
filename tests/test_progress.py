"""Progress on stderr: what is starting before the first trial ends, the in-place line with each
running trial's epoch on a terminal, and quiet when stderr is not a terminal unless asked."""

import io
import os
import subprocess
import sys
import textwrap

from hypsearch.runner.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_shows_starting_line_and_epochs_of_running_trials():
    out = _Terminal()
    p = Progress(3, stream=out)  # enabled=None: on, since this is a terminal
    p.starting("3 trials of random search with the inline executor, data digits()")
    p.update(0, None, 1)
    p.epoch(0, 1, 4)
    p.epoch(0, 2, 4)
    text = out.getvalue()
    assert text.startswith("starting: 3 trials of random search with the inline executor, data digits()\n")
    assert "starting: the first trial (1 running): loading the data" in text
    assert text.rstrip().endswith("t0:2/4") and "\r[" in text
    p.update(1, 0.9, 0, "trial 0 ok 0.9")
    assert "t0:" not in out.getvalue().rsplit("\r", 1)[-1]  # a finished trial's epochs are gone
    p.close()
    assert out.getvalue().endswith("\n")


def test_quiet_when_not_a_terminal_unless_asked():
    out = io.StringIO()
    p = Progress(2, stream=out)
    p.starting("x")
    p.update(0, None, 1)
    p.epoch(0, 1, 2)
    p.update(1, 0.5, 0, "trial 0 ok 0.5")
    p.close()
    assert out.getvalue() == ""
    asked = io.StringIO()
    p = Progress(2, stream=asked, enabled=True)
    p.update(0, None, 1)
    p.epoch(0, 1, 2)  # no in-place line in captured output
    p.update(1, 0.5, 0, "trial 0 ok 0.5")
    lines = asked.getvalue().splitlines()
    assert lines[0].startswith("starting: the first trial") and len(lines) == 2 and lines[1].endswith("(trial 0 ok 0.5)")
    assert "\r" not in asked.getvalue()


SPACE = textwrap.dedent("""\
    x = intv(1, 4)
    objective = maximize(python("objective.py:score"))
""")


def test_cli_progress_on_a_terminal_and_not_when_captured(tmp_path):
    import pty

    (tmp_path / "space.hyp").write_text(SPACE)
    (tmp_path / "objective.py").write_text("def score(program):\n    return program.params['x']\n")
    cmd = [sys.executable, "-m", "hypsearch.cli", "run", "space.hyp", "--executor", "inline", "--trials", "2",
           "--algo", "random", "--seed", "0"]
    captured = subprocess.run(cmd + ["--out", "captured"], cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert captured.returncode == 0, captured.stderr
    assert "starting:" not in captured.stderr and "trials  best" not in captured.stderr

    leader, follower = pty.openpty()
    proc = subprocess.Popen(cmd + ["--out", "tty"], cwd=tmp_path, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=240) == 0
    os.close(leader)
    text = b"".join(chunks).decode(errors="replace")
    assert "starting: 2 trials of random search with the inline executor" in text
    assert "\r[" in text and "2/2 trials" in text


def test_a_terminal_shows_the_running_trials_epochs(tmp_path):
    import pty

    (tmp_path / "space.hyp").write_text("data = iris()\ntarget = sequential(linear(out = oneof(4, 8)), relu(), "
                                        "linear(out = 3))\ntrain = train(epochs = 3)\n")
    cmd = [sys.executable, "-m", "hypsearch.cli", "run", "space.hyp", "--executor", "inline", "--trials", "1",
           "--seed", "0", "--out", "tty"]
    leader, follower = pty.openpty()
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=240) == 0
    os.close(leader)
    text = b"".join(chunks).decode(errors="replace")
    assert "t0:1/3" in text and "t0:3/3" in text  # trial 0's epochs, as they end
