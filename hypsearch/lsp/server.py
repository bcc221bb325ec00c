"""The `.hyp` language server (pygls, over stdio): routes LSP requests to `features` and
re-checks a document shortly after the last change (debounced), publishing its diagnostics.

Checking runs the real loader, so it runs the Python files a document imports, like `hypsearch
check`. Each document keeps the last `Space` that loaded, which names the decisions on hover
while the text is broken. No request may take the server down: a failing handler is logged and
answered with nothing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Dict, Optional

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from hypsearch import __version__

from . import features
from .document import Document

log = logging.getLogger(__name__)
DEBOUNCE_S = 0.25


class _State:
    """What the server knows of one open document."""

    def __init__(self):
        self.doc: Optional[Document] = None
        self.text: Optional[str] = None
        self.space = None
        self.timer: Optional[asyncio.TimerHandle] = None


class HypServer(LanguageServer):
    """A pygls server with per-document state."""

    def __init__(self, debounce_s: float = DEBOUNCE_S):
        super().__init__("hypsearch", __version__)
        self.debounce_s = debounce_s
        self.states: Dict[str, _State] = {}

    def state(self, uri: str) -> _State:
        """The state of `uri`, its `Document` brought up to the workspace's text."""
        st = self.states.setdefault(uri, _State())
        text = self.workspace.get_text_document(uri).source
        if st.text != text:
            st.text, st.doc = text, Document(text)
        return st

    def check_now(self, uri: str) -> None:
        """Load the document and publish its diagnostics."""
        st = self.state(uri)
        st.timer = None
        space, diagnostics = features.check(st.doc, features.uri_to_path(uri))
        if space is not None:
            st.space = space
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics))

    def check_later(self, uri: str) -> None:
        """Check `uri` once no change came for `debounce_s`."""
        st = self.states.setdefault(uri, _State())
        if st.timer is not None:
            st.timer.cancel()
        st.timer = asyncio.get_running_loop().call_later(self.debounce_s, _safe(self.check_now), uri)


def _safe(fn):
    """`fn`, logging and swallowing any exception (bad text must never stop the server)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 - a bug in a feature must not take the editor's server down
            log.exception("hypsearch lsp: %s failed", fn.__name__)
            return None
    return wrapper


def make_server(debounce_s: float = DEBOUNCE_S) -> HypServer:
    """A server with every feature registered."""
    server = HypServer(debounce_s)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    @_safe
    def did_open(ls: HypServer, params: lsp.DidOpenTextDocumentParams):
        ls.check_now(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    @_safe
    def did_change(ls: HypServer, params: lsp.DidChangeTextDocumentParams):
        ls.check_later(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    @_safe
    def did_save(ls: HypServer, params: lsp.DidSaveTextDocumentParams):
        ls.check_now(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    @_safe
    def did_close(ls: HypServer, params: lsp.DidCloseTextDocumentParams):
        st = ls.states.pop(params.text_document.uri, None)
        if st is not None and st.timer is not None:
            st.timer.cancel()
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    @_safe
    def hover(ls: HypServer, params: lsp.HoverParams):
        st = ls.state(params.text_document.uri)
        return features.hover(st.doc, st.space, params.position.line, params.position.character)

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["(", ",", "=", "["]))
    @_safe
    def completion(ls: HypServer, params: lsp.CompletionParams):
        st = ls.state(params.text_document.uri)
        return features.completion(st.doc, params.position.line, params.position.character)

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    @_safe
    def definition(ls: HypServer, params: lsp.DefinitionParams):
        st = ls.state(params.text_document.uri)
        return features.definition(st.doc, params.text_document.uri, params.position.line, params.position.character)

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @_safe
    def document_symbol(ls: HypServer, params: lsp.DocumentSymbolParams):
        return features.symbols(ls.state(params.text_document.uri).doc)

    return server


def serve() -> None:
    """Run the server on stdin/stdout until the client exits."""
    make_server().start_io()
