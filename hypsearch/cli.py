"""The `hypsearch` command line: one subcommand per module in `hypsearch/commands/`.

User mistakes (`HypError`) print as `FILE:LINE:COL: error: ...` and exit with status 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

from .dsl.errors import HypError

# Subcommand name -> module under hypsearch.commands exposing add_arguments(parser) and main(args).
COMMANDS = {
    "check": "Check .hyp files and count their decisions (runs the Python files they import).",
    "sample": "Print concrete programs sampled from a space.",
    "run": "Search a space: train and score the proposed programs.",
    "show": "Show the trials of an experiment directory.",
    "export": "Export the best model of an experiment.",
    "plot": "Plot best-so-far curves of experiment directories.",
    "lsp": "Run the .hyp language server for editors (stdio).",
    "docs": "Write the vocabulary reference (docs/vocabulary.md) from the registry.",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 on bad usage already; keep its message short
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def make_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = _Parser(prog="hypsearch", description="Search neural architectures and hypernetworks described in .hyp files.")
    parser.add_argument("--version", action="version", version=f"hypsearch {__import__('hypsearch').__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, help_text in COMMANDS.items():
        try:
            module = importlib.import_module(f"hypsearch.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"hypsearch.commands.{name}":
                continue
            raise
        p = sub.add_parser(name, help=help_text, description=getattr(module, "DESCRIPTION", help_text),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_main=module.main)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the console script."""
    args = make_parser().parse_args(argv)
    try:
        return int(args._main(args) or 0)
    except HypError as e:
        print(e.render(), file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        resume = f"; continue it with: hypsearch run --resume {e.args[0]}" if e.args else ""
        print(f"interrupted{resume}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


def console() -> None:
    """The `hypsearch` executable: `main`, then exit without tearing the interpreter down.

    After torch is imported, Python's own shutdown (module teardown, collecting every object)
    takes 0.6-1.5 s, which every command paid after its work was done. The exit handlers still run
    (Ray's shutdown, multiprocessing's reaping of its children, logging's flush), other threads are
    waited for as the interpreter would, and the output is flushed; then the process exits."""
    import atexit
    import os
    import threading

    code = main()
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed (a broken pipe) or gone
            pass
    os._exit(code)


if __name__ == "__main__":
    console()
