"""`hypsearch check` and `hypsearch sample` through the real console entry point."""

import os
import subprocess
import sys

import hypsearch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "hypsearch.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_check_reports_decisions_by_kind_and_size():
    r = cli("check", "examples/nb201.hyp", "examples/quickstart.hyp")
    assert r.returncode == 0, r.stderr
    assert "examples/nb201.hyp: ok, 6 decisions (6 oneof), size 15,625" in r.stdout
    assert "examples/quickstart.hyp: ok, 10 decisions (2 floatv, 1 intv, 7 oneof), size infinite" in r.stdout


def test_check_reports_every_bad_file_and_exits_2(tmp_path):
    (tmp_path / "a.hyp").write_text("target = linear(out = 3\n")
    (tmp_path / "b.hyp").write_text("target = relu(slope = 1)\n")
    r = cli("check", str(tmp_path / "a.hyp"), "examples/nb201.hyp", str(tmp_path / "b.hyp"))
    assert r.returncode == 2
    assert f"{tmp_path / 'a.hyp'}:1:" in r.stderr and f"{tmp_path / 'b.hyp'}:1:15: error:" in r.stderr
    assert "Traceback" not in r.stderr
    assert "examples/nb201.hyp: ok" in r.stdout


def test_check_no_build_and_sample_never_import_torch_or_ray():
    code = ("import sys, hypsearch.cli as c; c.main(['check', '--no-build', 'examples/digits_hypernet.hyp']);"
            "c.main(['sample', 'examples/digits_hypernet.hyp', '-n', '2']);"
            "print(sorted(m for m in ('torch', 'ray') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("[]")


def test_sample_same_seed_same_programs():
    a = cli("sample", "examples/digits_hypernet.hyp", "-n", "3", "--seed", "4")
    b = cli("sample", "examples/digits_hypernet.hyp", "-n", "3", "--seed", "4")
    assert a.returncode == 0 and a.stdout == b.stdout
    assert a.stdout.count("# sample") == 3


def test_sample_writes_loadable_files(tmp_path):
    out = tmp_path / "samples"
    r = cli("sample", "examples/nb201.hyp", "-n", "2", "--seed", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    files = sorted(os.listdir(out))
    assert files == ["sample-000.hyp", "sample-001.hyp"]
    space = hypsearch.load(str(out / files[0]))
    assert space.size == 1 and len(space.sample().params["cell"]) == 6


def test_unknown_file_is_a_user_error():
    r = cli("sample", "nope.hyp")
    assert r.returncode == 2 and "error: cannot read nope.hyp" in r.stderr and "Traceback" not in r.stderr
