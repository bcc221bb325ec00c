"""Every mistake in a .hyp file is a HypError with file, line, column and a useful message."""

import random

import pytest

import hypsearch
from hypsearch import HypError

CASES = [
    ("target = linear(out = 3", "expected `,` or `)` to close the call opened at 1:16"),
    ("x = [1, 2\ny = 3", "expected `,` or `]` to close the list opened at 1:5"),
    ("target = linear(out = )", "expected an expression"),
    ("x = 3 $", "unexpected character '$'"),
    ('x = "abc', "unterminated string"),
    ("target = sequentail(linear(out = 3))", "unknown component `sequentail` (did you mean `sequential`?)"),
    ("let width = 3\nx = widht", "unknown name `widht` (did you mean `width`?)"),
    ("target = linear(outt = 3)", "`linear` has no argument `outt` (did you mean `out`?)"),
    ("target = linear()", "`linear` is missing argument `out`"),
    ("target = linear(out = 3, out = 4)", "argument `out` of `linear` given twice"),
    ('target = linear(out = "wide")', "argument `out` of `linear` takes an int, got 'wide'"),
    ("target = linear(out = 3.5)", "argument `out` of `linear` takes an int, got 3.5"),
    ("target = linear(out = floatv(1.0, 2.0))", "but floatv gives a float"),
    ("target = dropout(p = oneof(0.1, relu()))", "argument `p` of `dropout` takes a number, got a `relu` component"),
    ("data = linear(out = 3)", "`data` takes a data or python component"),
    ("n = intv(5, 1)", "`intv` has lo > hi (5 > 1)"),
    ("f = floatv(0.0, 1.0, log = true)", "`floatv` with log = true needs lo > 0"),
    ("m = manyof(3, 1, 2)", "`manyof` picks k = 3 distinct choices out of only 2"),
    ("x = oneof()", "`oneof` needs at least one choice"),
    ("def a() = b()\ndef b() = a()\ntarget = a()", "def `a` recurses (a -> b -> a)"),
    ('import "missing_file.py"', "no such file"),
    ('import "missing.hyp"', "cannot import 'missing.hyp'"),
    ("import no_such_module_xyz", "cannot import module `no_such_module_xyz`"),
    ('a = oneof(1, 2, name = "x")\nb = oneof(1, 2, name = "x")', "duplicate decision name `x` (first at line 1)"),
    ("x = 1\nx = 2", "`x` is assigned twice (first at line 1)"),
    ("let relu = 3", "`relu` is a built-in name"),
    ("x = relu", "`relu` is a component: call it as `relu()`"),
    ("def t(a) = a\nx = t", "`t` is a template"),
    ("target = linear(3, 4, 5)", "`linear` takes at most 2 positional argument(s)"),
    ('target = repeat(floatv(1.0, 2.0), relu())', "the count of `repeat` must be"),
    ("x = intv(1)", "`intv` takes two bounds"),
    ("x = oneof(1, 2, nam = \"a\")", "`oneof` has no argument `nam` (did you mean `name`?)"),
]


@pytest.mark.parametrize("text,message", CASES, ids=[c[1][:40] for c in CASES])
def test_mistake_is_reported_with_position_and_message(tmp_path, text, message):
    path = tmp_path / "bad.hyp"
    path.write_text(text + "\n")
    with pytest.raises(HypError) as info:
        hypsearch.load(str(path))
    err = info.value
    assert message in err.message
    assert err.file == str(path) and err.line >= 1 and err.column >= 1
    rendered = err.render()
    assert rendered.startswith(f"{path}:{err.line}:{err.column}: error: ")
    assert "^" in rendered


def test_cyclic_hyp_import_is_reported(tmp_path):
    (tmp_path / "a.hyp").write_text('import "b.hyp"\n')
    (tmp_path / "b.hyp").write_text('import "a.hyp"\n')
    with pytest.raises(HypError, match="cyclic import: a.hyp -> b.hyp -> a.hyp"):
        hypsearch.load(str(tmp_path / "a.hyp"))


def test_python_import_that_raises_is_reported_at_the_import(tmp_path):
    (tmp_path / "boom.py").write_text("x = 1\nraise ValueError('nope')\n")
    (tmp_path / "s.hyp").write_text('\nimport "boom.py"\n')
    with pytest.raises(HypError, match=r"ValueError: nope \(at boom.py:2\)") as info:
        hypsearch.load(str(tmp_path / "s.hyp"))
    assert info.value.line == 2


def test_binary_and_non_utf8_files_are_rejected(tmp_path):
    (tmp_path / "bin.hyp").write_bytes(b"\x00\x01\x02target")
    with pytest.raises(HypError, match="binary file"):
        hypsearch.load(str(tmp_path / "bin.hyp"))
    (tmp_path / "latin.hyp").write_bytes(b'x = "caf\xe9"\n')
    with pytest.raises(HypError, match="not UTF-8") as info:
        hypsearch.load(str(tmp_path / "latin.hyp"))
    assert (info.value.line, info.value.column) == (1, 9)


def test_missing_file_is_a_hyp_error():
    with pytest.raises(HypError, match="cannot read"):
        hypsearch.load("no/such/file.hyp")


@pytest.mark.parametrize("example", ["quickstart", "digits_hypernet", "hpo", "nb201"])
def test_corrupted_examples_only_ever_raise_hyp_error(example):
    text = open(f"examples/{example}.hyp", encoding="utf-8").read()
    rng = random.Random(example)
    alphabet = "()[],=\"'#.-_ \n0123456789abcxyz" + "é\t\\"
    for _ in range(150):
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            i = rng.randrange(len(chars) + 1)
            if op < 0.4 and chars:
                del chars[min(i, len(chars) - 1)]
            elif op < 0.8:
                chars.insert(i, rng.choice(alphabet))
            elif chars:
                j = rng.randrange(len(chars))
                chars[min(i, len(chars) - 1)], chars[j] = chars[j], chars[min(i, len(chars) - 1)]
        try:
            space = hypsearch.loads("".join(chars), filename=f"examples/{example}.hyp")
            space.sample(seed=0)
        except HypError:
            pass


AUGMENT_CASES = [
    ("augment = [random_crop(), relu()]", 2, 27,
     "`augment` takes an augment component, got `relu` (a layer); allowed: random_crop, flip, cutout, noise"),
    ("augment = flip()", 2, 11, "`augment` takes a list: `augment = [random_crop(padding = 4), optional(flip())]`"),
    ("augment = [flip(p = 2)]", 2, 21, "argument `p` of `flip` takes a number in [0.0, 1.0], got 2"),
    ("augment = [optional(flip(p = floatv(0.5, 1.5)))]", 2, 30,
     "argument `p` of `flip` takes a number in [0.0, 1.0], but floatv reaches 1.5"),
    ("augment = [random_crop(padding = oneof(2, -1))]", 2, 43,
     "argument `padding` of `random_crop` takes an int >= 0, got -1"),
    ("augment = [cutout(size = intv(0, 4))]", 2, 26, "argument `size` of `cutout` takes an int >= 1, but intv reaches 0"),
    ("augment = [noise(std = -0.1)]", 2, 24, "argument `std` of `noise` takes a number >= 0.0, got -0.1"),
    ("augment = [flip(q = 1)]", 2, 17, "`flip` has no argument `q`; it takes: p"),
    ("augment = [flipp()]", 2, 12, "unknown component `flipp` (did you mean `flip`?)"),
]


@pytest.mark.parametrize("text,line,column,message", AUGMENT_CASES, ids=[c[3][:40] for c in AUGMENT_CASES])
def test_augment_items_and_options_are_checked_where_they_are_written(tmp_path, text, line, column, message):
    path = tmp_path / "aug.hyp"
    path.write_text("data = digits(image = true)\n" + text + "\n")
    with pytest.raises(HypError) as info:
        hypsearch.load(str(path))
    assert info.value.render().startswith(f"{path}:{line}:{column}: error: {message}")
