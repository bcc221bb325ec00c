"""`hypsearch lsp` without its extra: a clear error naming the `lsp` extra, exit status 2."""

import subprocess
import sys


def test_lsp_names_the_extra_when_pygls_is_missing():
    code = ("import sys; sys.modules['pygls'] = None\n"
            "from hypsearch.cli import main\n"
            "sys.exit(main(['lsp']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "`lsp` extra" in r.stderr and "pip install 'hypsearch[lsp]'" in r.stderr and "Traceback" not in r.stderr
