"""The language server through a real LSP client (pytest-lsp) talking to `hypsearch lsp` in a
subprocess: diagnostics as `hypsearch check` reports them, hover, completion, definition and
symbols on the examples and on broken files."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="the `lsp` extra (pygls) is not installed")
pytest_lsp = pytest.importorskip("pytest_lsp")
from lsprotocol import types as lsp  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.hyp"))
SERVER = [sys.executable, "-m", "hypsearch.cli", "lsp"]


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=client_capabilities("visual-studio-code")))
    yield
    await lsp_client.shutdown_session()


async def diagnostics_of(client: LanguageClient, uri: str, timeout: float = 20.0):
    """Wait for the next diagnostics published for `uri`."""
    client.diagnostics.pop(uri, None)
    async def wait():
        while uri not in client.diagnostics:
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        return list(client.diagnostics[uri])
    return await asyncio.wait_for(wait(), timeout)


_version = iter(range(1, 10**6))


async def open_doc(client: LanguageClient, path: Path, text: str = None):
    """Open `path` (with `text` instead of its contents when given) and return (uri, diagnostics)."""
    uri = path.resolve().as_uri()
    text = path.read_text(encoding="utf-8") if text is None else text
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        lsp.TextDocumentItem(uri=uri, language_id="hyp", version=next(_version), text=text)))
    return uri, await diagnostics_of(client, uri)


def where(text: str, needle: str, delta: int = 0) -> lsp.Position:
    """Position of the first `needle` in `text`, plus `delta` characters."""
    off = text.index(needle) + delta
    line = text.count("\n", 0, off)
    return lsp.Position(line, off - (text.rfind("\n", 0, off) + 1))


async def hover_text(client, uri, pos) -> str:
    h = await client.text_document_hover_async(lsp.HoverParams(lsp.TextDocumentIdentifier(uri), pos))
    return h.contents.value if h is not None else ""


async def completion_labels(client, uri, pos) -> set:
    r = await client.text_document_completion_async(lsp.CompletionParams(lsp.TextDocumentIdentifier(uri), pos))
    items = r.items if isinstance(r, lsp.CompletionList) else (r or [])
    return {i.label for i in items}


@pytest.mark.asyncio(loop_scope="module")
async def test_examples_check_clean(client):
    for path in EXAMPLES:
        _, diags = await open_doc(client, path)
        assert diags == [], f"{path.name}: {[d.message for d in diags]}"


BROKEN = {
    "misspelt": ("examples/quickstart.hyp", "linear(out = 10)", "linaer(out = 10)"),
    "bad_arg": ("examples/quickstart.hyp", "dropout(p = ", "dropout(q = "),
    "syntax": ("examples/hpo.hyp", "max_features = oneof(0.5, 0.75, 1.0)", "max_features = oneof(0.5, 0.75, 1.0"),
    "bad_range": ("examples/hpo.hyp", "intv(5, 50)", "intv(50, 5)"),
}


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("case", sorted(BROKEN))
async def test_broken_file_diagnostic_matches_check(client, tmp_path, case):
    src, old, new = BROKEN[case]
    text = (ROOT / src).read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / f"{case}.hyp"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    for py in (ROOT / "examples").glob("*.py"):
        (tmp_path / py.name).write_text(py.read_text(encoding="utf-8"), encoding="utf-8")
    check = subprocess.run([sys.executable, "-m", "hypsearch.cli", "check", str(path)],
                           capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 2
    head = check.stderr.splitlines()[0]  # FILE:LINE:COL: error: MESSAGE
    loc, message = head.split(": error: ", 1)
    line, col = (int(x) for x in loc.rsplit(":", 2)[1:])
    _, diags = await open_doc(client, path)
    assert len(diags) == 1
    d = diags[0]
    assert d.message == message
    assert (d.range.start.line, d.range.start.character) == (line - 1, col - 1)
    assert d.severity == lsp.DiagnosticSeverity.Error and d.source == "hypsearch"


@pytest.mark.asyncio(loop_scope="module")
async def test_change_rechecks_after_debounce(client, tmp_path):
    path = tmp_path / "live.hyp"
    text = (ROOT / "examples/quickstart.hyp").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    uri, diags = await open_doc(client, path)
    assert diags == []
    # Three quick edits: the server checks once, the last text.
    for i, bad in enumerate(["relu(", "relu(),", "reluu()"]):
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=uri, version=100 + i),
            [lsp.TextDocumentContentChangeWholeDocument(text=text.replace("relu()", bad, 1))]))
    diags = await diagnostics_of(client, uri)
    assert len(diags) == 1 and "reluu" in diags[0].message and "did you mean `relu`" in diags[0].message
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(uri=uri, version=200), [lsp.TextDocumentContentChangeWholeDocument(text=text)]))
    assert await diagnostics_of(client, uri) == []


@pytest.mark.asyncio(loop_scope="module")
async def test_hover_components_arguments_and_decisions(client):
    path = ROOT / "examples/quickstart.hyp"
    text = path.read_text(encoding="utf-8")
    uri, _ = await open_doc(client, path)
    h = await hover_text(client, uri, where(text, "linear(out = oneof"))
    assert "linear(out: int, bias: bool = true)" in h and "Fully connected" in h and "output features" in h
    h = await hover_text(client, uri, where(text, "adam("))
    assert "*optimizer*" in h and "lr: float = 0.001" in h
    h = await hover_text(client, uri, where(text, "epochs ="))
    assert "passes over the training data" in h
    # The repeat's count and a decision in every copy of its item, with their conditions.
    h = await hover_text(client, uri, where(text, "intv(1, 3)"))
    assert "`target.layers[0].n`: intv(1, 3), always active" in h
    h = await hover_text(client, uri, where(text, "oneof(32, 64, 128)"))
    assert "3 decisions" in h
    assert "`target.layers[0][2].layers[0].out`: oneof(32, 64, 128), active when `target.layers[0].n` in [3]" in h
    h = await hover_text(client, uri, where(text, "floatv(1e-4"))
    assert "`train.optimizer.lr`: floatv(0.0001, 0.01, log)" in h

    path = ROOT / "examples/digits_hypernet.hyp"
    text = path.read_text(encoding="utf-8")
    uri, _ = await open_doc(client, path)
    h = await hover_text(client, uri, where(text, "size = oneof", len("size = ")))
    assert "`hypernet.head.chunked.size`: oneof(256, 1024), active when `hypernet.head` in [1]" in h


@pytest.mark.asyncio(loop_scope="module")
async def test_hover_decisions_of_def_bodies_and_arguments(client, tmp_path):
    text = ("def block(w) = sequential(linear(out = w), dropout(p = floatv(0.0, 0.5)))\n"
            "target = sequential(\n"
            "  repeat(intv(1, 2), block(oneof(8, 16))),\n"
            "  block(32),\n"
            "  repeat(2, relu()),\n"
            "  linear(out = 10),\n"
            ")\n")
    path = tmp_path / "defs.hyp"
    path.write_text(text, encoding="utf-8")
    uri, diags = await open_doc(client, path)
    assert diags == []
    # A decision in a def body: one per use, and per repeat copy.
    h = await hover_text(client, uri, where(text, "floatv"))
    assert "3 decisions" in h and "`target.layers[1].layers[1].p`: floatv(0.0, 0.5), always active" in h
    assert "`target.layers[0][1].layers[1].p`: floatv(0.0, 0.5), active when `target.layers[0].n` in [2]" in h
    # A decision passed as a def argument: named where the body uses the parameter.
    h = await hover_text(client, uri, where(text, "oneof(8"))
    assert "`target.layers[0][0].layers[0].out`: oneof(8, 16)" in h and "2 decisions" in h
    h = await hover_text(client, uri, where(text, "repeat(intv"))
    assert "`target.layers[0].n`: intv(1, 2), always active" in h
    h = await hover_text(client, uri, where(text, "repeat(2"))
    assert "its count is fixed" in h


@pytest.mark.asyncio(loop_scope="module")
async def test_hover_user_component_and_let(client, tmp_path):
    (tmp_path / "my_layers.py").write_text(
        "import hypsearch\n\n"
        "@hypsearch.component(name='lsp_scaled')\n"
        "def lsp_scaled(out: int, scale: float = 2.0):\n"
        "    \"\"\"A linear layer whose output is multiplied by scale.\"\"\"\n"
        "    raise RuntimeError('not built in this test')\n", encoding="utf-8")
    text = ('import "my_layers.py"\n'
            "let width = oneof(8, 16)\n"
            "target = sequential(lsp_scaled(out = width, scale = floatv(0.5, 4.0)), linear(out = 2))\n")
    path = tmp_path / "user.hyp"
    path.write_text(text, encoding="utf-8")
    uri, diags = await open_doc(client, path)
    assert diags == []
    h = await hover_text(client, uri, where(text, "lsp_scaled(out"))
    assert "lsp_scaled(out: int, scale: float = 2.0)" in h and "multiplied by scale" in h and "my_layers" in h
    h = await hover_text(client, uri, where(text, "width,"))
    assert "let width = oneof(8, 16)" in h and "decision `width`: oneof(8, 16)" in h
    h = await hover_text(client, uri, where(text, "floatv(0.5"))
    assert "`target.layers[0].scale`: floatv(0.5, 4.0)" in h


@pytest.mark.asyncio(loop_scope="module")
async def test_completion_by_position(client, tmp_path):
    text = ("let w = oneof(32, 64)\n"
            "def block(n) = sequential(linear(out = n), relu())\n"
            "target = sequential(linear(out = w), )\n"
            "hypernet = hypernet(input = task_embedding(), head = )\n"
            "train = train(optimizer = , epochs = 3)\n"
            "objective = maximize()\n")
    path = tmp_path / "complete.hyp"
    path.write_text(text, encoding="utf-8")
    uri, _ = await open_doc(client, path)
    layers = await completion_labels(client, uri, where(text, "), )\n", 3))
    assert {"linear", "relu", "sequential", "residual", "oneof", "repeat", "w", "block"} <= layers
    assert not {"adam", "digits", "full", "train"} & layers
    heads = await completion_labels(client, uri, where(text, "head = )", len("head = ")))
    assert {"full", "chunked", "lowrank"} <= heads and not {"linear", "adam"} & heads
    opts = await completion_labels(client, uri, where(text, "optimizer = ,", len("optimizer = ")))
    assert {"adam", "adamw", "sgd"} <= opts and not {"linear", "relu", "block"} & opts
    args = await completion_labels(client, uri, where(text, "out = w", 0))
    assert {"out", "bias"} <= args
    # Already given arguments are not offered again; the call's own fields are.
    args = await completion_labels(client, uri, where(text, "optimizer = ,", len("optimizer = ,")))
    assert {"batch_size", "weight_decay", "clip"} <= args and not {"optimizer", "epochs"} & args
    objective = await completion_labels(client, uri, where(text, "maximize()", len("maximize(")))
    assert "python" in objective and "metric" in objective and "linear" not in objective
    top = await completion_labels(client, uri, lsp.Position(6, 0))
    assert {"let", "def", "import", "data", "search"} <= top and "target" not in top


@pytest.mark.asyncio(loop_scope="module")
async def test_definition_and_symbols(client, tmp_path):
    (tmp_path / "my_layers.py").write_text("import hypsearch\n", encoding="utf-8")
    text = ('import "my_layers.py"\n'
            "let w = oneof(32, 64)\n"
            "def block(n) = sequential(linear(out = n), relu())\n"
            "target = sequential(block(w), block(16), linear(out = 2))\n"
            "data = digits()\n")
    path = tmp_path / "defs.hyp"
    path.write_text(text, encoding="utf-8")
    uri, diags = await open_doc(client, path)
    assert diags == []

    async def definition(pos):
        r = await client.text_document_definition_async(lsp.DefinitionParams(lsp.TextDocumentIdentifier(uri), pos))
        return r[0] if isinstance(r, list) else r

    loc = await definition(where(text, "block(w)"))
    assert loc.uri == uri and loc.range.start == lsp.Position(2, 4)
    loc = await definition(where(text, "w), block"))
    assert loc.range.start == lsp.Position(1, 4)
    loc = await definition(where(text, "n), relu"))
    assert loc.range.start == lsp.Position(2, 10)
    loc = await definition(where(text, '"my_layers.py"', 2))
    assert loc.uri == (tmp_path / "my_layers.py").resolve().as_uri()

    syms = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(lsp.TextDocumentIdentifier(uri)))
    assert [(s.name, s.kind) for s in syms] == [("w", lsp.SymbolKind.Variable), ("block", lsp.SymbolKind.Function),
                                                ("target", lsp.SymbolKind.Field), ("data", lsp.SymbolKind.Field)]
    assert syms[2].range.start == lsp.Position(3, 0) and syms[2].range.end == lsp.Position(3, len(text.splitlines()[3]))


@pytest.mark.asyncio(loop_scope="module")
async def test_a_2000_line_file_checks_in_a_second(client, tmp_path):
    lines = [f"p{i} = oneof({i}, {i + 1}, {i + 2})" for i in range(1990)]
    text = "\n".join(lines) + "\ntarget = sequential(linear(out = 4))\n"
    assert text.count("\n") >= 1990
    path = tmp_path / "big.hyp"
    path.write_text(text, encoding="utf-8")
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    uri, diags = await open_doc(client, path)
    elapsed = loop.time() - t0
    assert diags == []
    assert elapsed < float(os.environ.get("HYP_LSP_BIG_FILE_S", "5")), elapsed
