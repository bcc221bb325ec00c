"""The Ray executor under misuse: a hanging trial times out, and the processes a run starts do not
outlive a killed driver (the watchdog, checked on a plain process tree)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import hypsearch
from hypsearch.runner import watchdog


def test_trial_timeout_on_ray_records_a_hanging_trial_failed(ray_local, tmp_path):
    (tmp_path / "slow.py").write_text(textwrap.dedent("""\
        import time

        def score(program):
            if program.params["x"] == 1:
                time.sleep(1000)
            return float(program.params["x"])
    """))
    (tmp_path / "space.hyp").write_text('x = oneof(1, 2)\nobjective = maximize(python("slow.py:score"))\n')
    started = time.monotonic()
    exp = hypsearch.run(str(tmp_path / "space.hyp"), executor="ray", algo="random", trials=2, seed=0,
                        out=str(tmp_path / "exp"), trial_timeout=2, max_concurrent=2)
    by_x = {t.choices["x"]: t for t in exp.trials}
    assert by_x[1].status == "failed" and "timed out after 2 s" in by_x[1].error
    assert by_x[2].status == "ok"
    assert time.monotonic() - started < 120


def _alive(processes):
    return [p for p in processes if watchdog._start_time(p[0]) == p[1]]


def test_the_watchdog_ends_a_killed_drivers_processes_and_their_children(tmp_path):
    driver = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""\
        import subprocess, sys, time
        from hypsearch.runner import watchdog
        # Like Ray's head processes: children of the driver, one with a child of its own.
        subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                          "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); time.sleep(120)"])
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        time.sleep(1.0)
        watchdog.guard(watchdog.descendants(__import__("os").getpid()))
        print("guarded", flush=True)
        time.sleep(120)
    """)], stdout=subprocess.PIPE, text=True)
    assert driver.stdout.readline().strip() == "guarded"
    tree = [p for p in watchdog.descendants(driver.pid)]
    assert len(tree) >= 4  # two children, a grandchild, the watchdog
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + watchdog.GRACE_S + 15
    while _alive(tree) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alive(tree) == []
