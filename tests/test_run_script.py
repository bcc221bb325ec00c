"""`hypsearch.run(...)` at the top level of a plain script (no `if __name__ == "__main__"` guard),
as a quick experiment is written: the trial worker must not run the script again."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_a_script_without_a_main_guard_runs_its_search_once(tmp_path):
    (tmp_path / "objective.py").write_text("def score(program):\n    return float(program.params['x'])\n")
    (tmp_path / "space.hyp").write_text('x = intv(1, 5)\nobjective = maximize(python("objective.py:score"))\n')
    (tmp_path / "script.py").write_text(textwrap.dedent(f"""\
        import hypsearch
        print("script body ran")
        exp = hypsearch.run({str(tmp_path / "space.hyp")!r}, executor="inline", trials=3, seed=0,
                            out={str(tmp_path / "exp")!r}, progress=False)
        print(exp.counts())
    """))
    result = subprocess.run([sys.executable, str(tmp_path / "script.py")], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("script body ran") == 1
    assert "'ok': 3" in result.stdout
