"""A model file from someone else runs none of their code: load_model and export skip (or refuse)
the Python imports stored in its program text unless the caller says trust=True / --trust."""

import os
import subprocess
import sys
import textwrap

import pytest

import hypsearch
from hypsearch.cli import main as cli
from hypsearch.dsl.errors import HypError

PLANTED = textwrap.dedent("""\
    import pathlib
    pathlib.Path(__file__).with_name("PLANTED_RAN").write_text("their code ran")
""")

BODY = "target = sequential(linear(out = 10))\ndata = digits()\n"


def _model_file(tmp_path, text):
    """A model file whose program text is `text` (weights of the built-in part, built here)."""
    from hypsearch.compile import build
    from hypsearch.runner.worker import save_weights
    (tmp_path / "planted.py").write_text(PLANTED)
    model = build(hypsearch.loads(BODY).sample())
    path = str(tmp_path / "model.pt")
    save_weights(path, model, text, str(tmp_path / "model.hyp"))
    return path


def test_load_model_runs_no_imported_file_unless_trusted(tmp_path):
    path = _model_file(tmp_path, 'import "planted.py"\n' + BODY)
    marker = tmp_path / "PLANTED_RAN"
    model = hypsearch.load_model(path)  # built-in components only: loads, the import is not run
    assert model is not None and not marker.exists()
    hypsearch.load_model(path, trust=True)
    assert marker.exists()


def test_an_untrusted_model_that_needs_its_imports_is_refused_with_a_clear_message(tmp_path):
    path = _model_file(tmp_path, 'import "planted.py"\ntarget = sequential(planted_layer(out = 10))\ndata = digits()\n')
    with pytest.raises(HypError, match=r'imports "planted.py", which were not run.*trust=True'):
        hypsearch.load_model(path)
    assert not (tmp_path / "PLANTED_RAN").exists()


def test_an_untrusted_model_importing_a_module_on_the_path_does_not_import_it(tmp_path):
    (tmp_path / "plantedmod.py").write_text(PLANTED)
    path = _model_file(tmp_path, "import plantedmod\n" + BODY)
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import hypsearch; hypsearch.load_model({path!r})"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(tmp_path))
    assert not (tmp_path / "PLANTED_RAN").exists()


def test_export_refuses_the_planted_import_without_trust(tmp_path, capsys):
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "run.json").write_text('{"settings": {}, "space_file": "space.hyp"}')
    os.replace(_model_file(tmp_path, 'import "planted.py"\ntarget = sequential(planted_layer(out = 10))\n'
                                     'data = digits()\n'), exp / "best.pt")
    assert cli(["export", str(exp), "--out", str(tmp_path / "out.pt")]) == 2
    assert "--trust" in capsys.readouterr().err
    assert not (tmp_path / "PLANTED_RAN").exists()


def test_a_model_file_whose_program_asks_for_more_weights_than_it_holds_is_refused_before_allocating(tmp_path):
    path = _model_file(tmp_path, "target = sequential(linear(out = 1000000000), linear(out = 10))\ndata = digits()\n")
    with pytest.raises(HypError, match="builds 75,000,000,010 parameters but the file holds"):
        hypsearch.load_model(path)
