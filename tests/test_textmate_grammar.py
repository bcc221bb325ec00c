"""The VS Code TextMate grammar (editors/vscode/syntaxes/hyp.tmLanguage.json) tokenised by
vscode-textmate with Oniguruma under node, as VS Code runs it: every token the language's own
lexer finds in every example gets the scope expected for it (keywords, strings, numbers,
comments, decision primitives, component names, fields and arguments)."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from hypsearch.lsp.document import PRIMITIVES, tokenize

ROOT = Path(__file__).resolve().parents[1]
VSCODE = ROOT / "editors" / "vscode"
EXAMPLES = sorted((ROOT / "examples").glob("*.hyp"))

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

EDGE = '''# a comment with "quotes" and oneof(
import "my_layers.py"
import pkg.layers
let w = oneof(-1, 2.5e-3, .5, 'single \\' quote', "double # not a comment", true, false, none)
def block(n, act) = sequential(
  linear(out = n),   # trailing comment
  act,
)
target = sequential(
  repeat(intv(1, 3, log = true), block(w, relu())),
  [manyof(2, relu(), gelu(), distinct = true)],
  optional(dropout(p = floatv(0.0, 0.5))),
)
objective = maximize(python("f.py:score"))
'''


@pytest.fixture(scope="module")
def tokenized(tmp_path_factory):
    if not (VSCODE / "node_modules" / "vscode-textmate").exists():
        npm = shutil.which("npm")
        assert npm is not None, "node is installed but npm is not: cannot install editors/vscode's devDependencies"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=VSCODE, check=True, capture_output=True, timeout=300)
    edge = tmp_path_factory.mktemp("tm") / "edge.hyp"
    edge.write_text(EDGE, encoding="utf-8")
    files = [str(p) for p in EXAMPLES] + [str(edge)]
    out = subprocess.run(["node", str(VSCODE / "test" / "tokenize.js"), *files], capture_output=True, text=True,
                         timeout=120, check=True)
    return {Path(d["file"]).name: d["lines"] for d in map(json.loads, out.stdout.splitlines())}


def expected_scopes(text: str):
    """(token, expected scope) for every token of the language's lexer, with its context."""
    toks = tokenize(text, keep_trivia=True)
    code = [t for t in toks if t.type not in ("WS",)]
    depth, after_def_name = 0, False
    for k, t in enumerate(code):
        prev = code[k - 1] if k > 0 and code[k - 1].type != "COMMENT" else None
        nxt = next((x for x in code[k + 1:] if x.type != "COMMENT"), None)
        scope = None
        if t.type == "COMMENT":
            scope = "comment.line.number-sign.hyp"
        elif t.type == "STRING":
            scope = "string.quoted.double.hyp" if t.value[0] == '"' else "string.quoted.single.hyp"
        elif t.type == "NUMBER":
            scope = "constant.numeric.hyp"
        elif t.type in ("TRUE", "FALSE", "NONE"):
            scope = "constant.language.hyp"
        elif t.type == "IMPORT":
            scope = "keyword.control.import.hyp"
        elif t.type == "LET":
            scope = "storage.type.let.hyp"
        elif t.type == "DEF":
            scope = "storage.type.function.def.hyp"
        elif t.type == "NAME":
            if prev is not None and prev.type == "DEF":
                scope, after_def_name = "entity.name.function.def.hyp", True
            elif after_def_name:
                scope = "variable.parameter.hyp"
            elif prev is not None and prev.type == "LET":
                scope = "variable.other.constant.let.hyp"
            elif nxt is not None and nxt.type == "LPAR":
                scope = "support.function.decision.hyp" if t.value in PRIMITIVES else "support.class.component.hyp"
            elif nxt is not None and nxt.type == "EQUAL":
                scope = "variable.other.field.hyp" if depth == 0 else "variable.parameter.argument.hyp"
            else:
                scope = "variable.other.reference.hyp"
        elif t.type in ("LPAR", "LSQB"):
            depth += 1
        elif t.type in ("RPAR", "RSQB"):
            depth -= 1
            after_def_name = False
        if scope is not None:
            yield t, scope


def scopes_at(lines, t) -> list:
    for tm in lines[t.line]:
        if tm["start"] <= t.column < tm["end"]:
            return tm["scopes"]
    raise AssertionError(f"no TextMate token at {t.line + 1}:{t.column + 1}")


@pytest.mark.parametrize("name", [p.name for p in EXAMPLES] + ["edge.hyp"])
def test_every_token_has_its_scope(tokenized, name):
    text = EDGE if name == "edge.hyp" else (ROOT / "examples" / name).read_text(encoding="utf-8")
    lines = tokenized[name]
    checked = {}
    for t, scope in expected_scopes(text):
        scopes = scopes_at(lines, t)
        assert scope in scopes, f"{name}:{t.line + 1}:{t.column + 1} {t.value!r}: {scopes}, expected {scope}"
        assert scopes[0] == "source.hyp"
        # Nothing outside a comment or string is taken for one.
        if not scope.startswith(("comment", "string")):
            assert not any(s.startswith(("comment", "string")) for s in scopes), (name, t, scopes)
        checked[scope] = checked.get(scope, 0) + 1
    assert checked.get("support.class.component.hyp") and checked.get("constant.numeric.hyp")
    if name == "edge.hyp":
        assert set(checked) >= {"comment.line.number-sign.hyp", "string.quoted.double.hyp", "string.quoted.single.hyp",
                                "constant.language.hyp", "keyword.control.import.hyp", "storage.type.let.hyp",
                                "storage.type.function.def.hyp", "support.function.decision.hyp",
                                "variable.parameter.argument.hyp", "variable.other.field.hyp", "variable.parameter.hyp"}


def test_escapes_and_comment_markers(tokenized):
    lines = tokenized["edge.hyp"]
    line = EDGE.splitlines()[3]
    esc = [tm for tm in lines[3] if "constant.character.escape.hyp" in tm["scopes"]]
    assert [tm["text"] for tm in esc] == ["\\'"]
    hash_in_string = line.index("# not")
    assert any(tm["start"] <= hash_in_string < tm["end"] and "string.quoted.double.hyp" in tm["scopes"] for tm in lines[3])


def test_manifest_points_at_the_grammar_and_configuration():
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    (lang,) = manifest["contributes"]["languages"]
    (grammar,) = manifest["contributes"]["grammars"]
    assert lang["extensions"] == [".hyp"] and grammar["language"] == lang["id"] == "hyp"
    assert json.loads((VSCODE / grammar["path"]).read_text(encoding="utf-8"))["scopeName"] == grammar["scopeName"]
    conf = json.loads((VSCODE / lang["configuration"]).read_text(encoding="utf-8"))
    assert conf["comments"]["lineComment"] == "#" and ["(", ")"] in conf["brackets"]
    assert (VSCODE / manifest["main"]).exists() and (VSCODE / "package-lock.json").exists()
    # The client parses (it runs only inside VS Code, which provides the `vscode` module).
    subprocess.run(["node", "--check", str(VSCODE / manifest["main"])], check=True, timeout=60)
