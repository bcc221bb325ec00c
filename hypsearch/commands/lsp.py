"""`hypsearch lsp`: the `.hyp` language server, speaking LSP on stdin/stdout for editors."""

from __future__ import annotations

import argparse

from hypsearch.dsl.errors import HypError

DESCRIPTION = """Run the .hyp language server on stdin/stdout (editors start it; see editors/vscode/).

It reports what `hypsearch check` reports as you type, documents components and decisions on
hover, completes names and goes to definitions. Checking runs the Python files a .hyp file imports,
as `hypsearch check` does. Needs the `lsp` extra: pip install 'hypsearch[lsp]'."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default and only transport)")


def main(args: argparse.Namespace) -> int:
    try:
        import pygls  # noqa: F401
    except ModuleNotFoundError:
        raise HypError("`hypsearch lsp` needs pygls, from the `lsp` extra: pip install 'hypsearch[lsp]'") from None
    from hypsearch.lsp.server import serve
    serve()
    return 0
