"""Bad text never crashes the language server: the corrupted examples of test_dsl_errors.py go
through every feature in-process (where an exception would surface) and through a running
`hypsearch lsp` (which must answer every request and stay up)."""

import asyncio
import random
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="the `lsp` extra (pygls) is not installed")
pytest_lsp = pytest.importorskip("pytest_lsp")
from lsprotocol import types as lsp  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

from hypsearch.lsp import features  # noqa: E402
from hypsearch.lsp.document import Document  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["quickstart", "digits_hypernet", "hpo", "nb201"]


def corrupted(example: str, n: int):
    """`n` corruptions of an example, made as test_dsl_errors.py makes them."""
    text = (ROOT / f"examples/{example}.hyp").read_text(encoding="utf-8")
    rng = random.Random(example)
    alphabet = "()[],=\"'#.-_ \n0123456789abcxyz" + "é\t\\"
    for _ in range(n):
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
        yield "".join(chars), rng


def positions(text: str, rng: random.Random, k: int):
    lines = text.split("\n")
    for _ in range(k):
        line = rng.randrange(len(lines) + 1)  # one past the end too
        yield line, rng.randrange(len(lines[line]) + 2) if line < len(lines) else 0


@pytest.mark.parametrize("example", EXAMPLES)
def test_features_never_raise_on_corrupted_text(example):
    path = str(ROOT / f"examples/{example}.hyp")
    space, _ = features.check(Document((ROOT / f"examples/{example}.hyp").read_text(encoding="utf-8")), path)
    assert space is not None
    for text, rng in corrupted(example, 150):
        doc = Document(text)
        _, diags = features.check(doc, path)
        for d in diags:
            assert d.message and d.range.start.line <= d.range.end.line
            assert not d.message.startswith(features.INTERNAL), d.message
        features.symbols(doc)
        for line, ch in positions(text, rng, 6):
            features.hover(doc, space, line, ch)  # the last good space, as the server keeps it
            features.completion(doc, line, ch)
            features.definition(doc, Path(path).as_uri(), line, ch)


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[sys.executable, "-m", "hypsearch.cli", "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=client_capabilities("visual-studio-code")))
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio(loop_scope="module")
async def test_server_survives_corrupted_edits(client):
    for example in EXAMPLES:
        uri = (ROOT / f"examples/{example}.hyp").as_uri()
        version = 0
        client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(
            uri=uri, language_id="hyp", version=version,
            text=(ROOT / f"examples/{example}.hyp").read_text(encoding="utf-8"))))
        for text, rng in corrupted(example, 30):
            version += 1
            client.text_document_did_change(lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                [lsp.TextDocumentContentChangeWholeDocument(text=text)]))
            doc_id = lsp.TextDocumentIdentifier(uri)
            for line, ch in positions(text, rng, 2):
                pos = lsp.Position(line, ch)
                await asyncio.wait_for(client.text_document_hover_async(lsp.HoverParams(doc_id, pos)), 10)
                await asyncio.wait_for(client.text_document_completion_async(lsp.CompletionParams(doc_id, pos)), 10)
                await asyncio.wait_for(client.text_document_definition_async(lsp.DefinitionParams(doc_id, pos)), 10)
            await asyncio.wait_for(client.text_document_document_symbol_async(lsp.DocumentSymbolParams(doc_id)), 10)
        # After the burst of edits, one debounced check of the last text arrives.
        client.diagnostics.pop(uri, None)
        while uri not in client.diagnostics:
            await asyncio.wait_for(client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), 10)
        client.text_document_did_close(lsp.DidCloseTextDocumentParams(lsp.TextDocumentIdentifier(uri)))
    assert client.error is None
