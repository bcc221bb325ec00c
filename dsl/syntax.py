"""The syntax tree of a `.hyp` file and the parser that builds it (Lark, LALR).

Every node keeps its `Location`, so errors found later (unknown argument, bad type, shape
mismatch) point at the line and column the user wrote.

Limits, each a located error rather than a crash, a hang or gigabytes of memory (the evaluator
adds its own on what the text expands to, see semantics.py):
- a file holds at most MAX_SOURCE_CHARS characters (1 MB: parsing and evaluation are linear in it);
- brackets nest at most MAX_NESTING deep (every later stage walks the tree recursively);
- a string literal holds at most MAX_STRING_CHARS characters;
- an integer literal is at most 2**63 - 1 in absolute value; a number literal must be finite.
Line ends may be LF, CRLF or CR alone, and a UTF-8 byte-order mark is ignored, as editors write them.
"""

from __future__ import annotations

import ast as _pyast
import functools
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any, List, Optional, Tuple, Union

import lark
from lark import Lark, Transformer, v_args

from .errors import HypError, Location


@dataclass
class Node:
    loc: Location


@dataclass
class Lit(Node):
    value: Any


@dataclass
class ListExpr(Node):
    items: List["Expr"]


@dataclass
class Ref(Node):
    name: str


@dataclass
class Kwarg:
    name: str
    value: "Expr"
    loc: Location


@dataclass
class Call(Node):
    name: str
    args: List["Expr"]
    kwargs: List[Kwarg]


Expr = Union[Lit, ListExpr, Ref, Call]


@dataclass
class ImportFile(Node):
    path: str


@dataclass
class ImportModule(Node):
    module: str


@dataclass
class Let(Node):
    name: str
    value: Expr


@dataclass
class Def(Node):
    name: str
    params: List[str]
    body: Expr


@dataclass
class Assign(Node):
    name: str
    value: Expr


Statement = Union[ImportFile, ImportModule, Let, Def, Assign]


MAX_SOURCE_CHARS = 1_000_000
MAX_NESTING = 100
MAX_STRING_CHARS = 100_000
MAX_INT = 2**63 - 1


def normalize_source(text: str) -> str:
    """Text with LF line ends (CRLF and CR alone are converted) and no byte-order mark."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def check_limits(text: str, filename: str) -> None:
    """HypError at the first place the text passes a limit of the module docstring; one linear scan."""
    if len(text) > MAX_SOURCE_CHARS:
        raise HypError(f"the file has {len(text):,} characters; .hyp files are limited to {MAX_SOURCE_CHARS:,}",
                       Location(filename, 1, 1))
    depth, quote, start = 0, None, (0, 0, 0)
    line, col, i, n = 1, 1, 0, len(text)
    while i < n:
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
                col += 1
            elif c == quote or c == "\n":
                quote = None
                if i - start[0] > MAX_STRING_CHARS:
                    raise HypError(f"a string literal of {i - start[0]:,} characters; the limit is {MAX_STRING_CHARS:,}",
                                   Location(filename, start[1], start[2]), _line(text, start[1]))
        elif c == "#":
            end = text.find("\n", i)
            end = n if end < 0 else end
            col += end - i
            i = end
            continue
        elif c in "\"'":
            quote, start = c, (i, line, col)
        elif c in "([":
            depth += 1
            if depth > MAX_NESTING:
                raise HypError(f"brackets nest more than {MAX_NESTING} deep here; name inner parts with `let` or "
                               f"`def` (the nesting limit of .hyp files)", Location(filename, line, col), _line(text, line))
        elif c in ")]" and depth:
            depth -= 1
        if c == "\n":
            line, col = line + 1, 1
        else:
            col += 1
        i += 1
    if quote and n - start[0] > MAX_STRING_CHARS:
        raise HypError(f"a string literal of {n - start[0]:,} characters; the limit is {MAX_STRING_CHARS:,}",
                       Location(filename, start[1], start[2]), _line(text, start[1]))


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    text = resources.files("hypsearch.grammars").joinpath("hyp.lark").read_text(encoding="utf-8")
    return Lark(text, parser="lalr", propagate_positions=True, maybe_placeholders=False)


class _ToTree(Transformer):
    """Lark tree -> syntax nodes; one small method per grammar rule."""

    def __init__(self, filename: str):
        super().__init__()
        self.filename = filename

    def _loc(self, meta_or_token) -> Location:
        return Location(self.filename, getattr(meta_or_token, "line", 1) or 1, getattr(meta_or_token, "column", 1) or 1)

    @v_args(meta=True)
    def start(self, meta, stmts):
        return list(stmts)

    @v_args(meta=True)
    def import_file(self, meta, children):
        return ImportFile(self._loc(meta), _decode_string(children[0], self._loc(children[0])))

    @v_args(meta=True)
    def import_module(self, meta, children):
        return ImportModule(self._loc(meta), children[0])

    def dotted_name(self, names):
        return ".".join(str(n) for n in names)

    @v_args(meta=True)
    def let_stmt(self, meta, children):
        name, value = children
        return Let(self._loc(name), str(name), value)

    @v_args(meta=True)
    def def_stmt(self, meta, children):
        name = children[0]
        params = children[1] if len(children) == 3 else []
        return Def(self._loc(name), str(name), params, children[-1])

    def params(self, names):
        return [str(n) for n in names]

    @v_args(meta=True)
    def assign_stmt(self, meta, children):
        name, value = children
        return Assign(self._loc(name), str(name), value)

    @v_args(meta=True)
    def ref(self, meta, children):
        return Ref(self._loc(children[0]), str(children[0]))

    @v_args(meta=True)
    def call(self, meta, children):
        name = children[0]
        args, kwargs = (children[1] if len(children) > 1 else ([], []))
        return Call(self._loc(name), str(name), args, kwargs)

    def args(self, items):
        positional, keywords = [], []
        for item in items:
            if isinstance(item, Kwarg):
                keywords.append(item)
            elif keywords:
                raise HypError("positional argument after a keyword argument", item.loc)
            else:
                positional.append(item)
        return positional, keywords

    @v_args(meta=True)
    def kwarg(self, meta, children):
        name, value = children
        return Kwarg(str(name), value, self._loc(name))

    @v_args(meta=True)
    def list(self, meta, items):
        return ListExpr(self._loc(meta), [i for i in items if i is not None])

    @v_args(meta=True)
    def number(self, meta, children):
        tok = children[0]
        text = str(tok)
        loc = self._loc(tok)
        if any(c in text for c in ".eE"):
            value = float(text)
            if not math.isfinite(value):
                raise HypError(f"the number {_short(text)} is out of range: numbers are finite floats "
                               f"(at most about 1.8e308 in absolute value)", loc)
            return Lit(loc, value)
        digits = text.lstrip("-").lstrip("0")
        if len(digits) > 19 or int(text) > MAX_INT or int(text) < -MAX_INT:
            raise HypError(f"the integer {_short(text)} is out of range: integers are at most 2**63 - 1 "
                           f"({MAX_INT:,}) in absolute value", loc)
        return Lit(loc, int(text))

    @v_args(meta=True)
    def string(self, meta, children):
        return Lit(self._loc(children[0]), _decode_string(children[0], self._loc(children[0])))

    @v_args(meta=True)
    def true(self, meta, children):
        return Lit(self._loc(meta), True)

    @v_args(meta=True)
    def false(self, meta, children):
        return Lit(self._loc(meta), False)

    @v_args(meta=True)
    def none(self, meta, children):
        return Lit(self._loc(meta), None)


def _short(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:10]}...{text[-6:]} ({len(text)} characters)"


def _decode_string(token, loc: Location) -> str:
    try:
        return _pyast.literal_eval(str(token))
    except (ValueError, SyntaxError) as e:
        raise HypError(f"bad string literal: {e}", loc) from None


# What a user most likely meant, keyed by the token the parser stopped at.
_EXPECTED_WORDS = {
    "RPAR": "`)`", "LPAR": "`(`", "RSQB": "`]`", "LSQB": "`[`", "COMMA": "`,`", "EQUAL": "`=`",
    "NAME": "a name", "NUMBER": "a number", "STRING": "a string", "TRUE": "`true`", "FALSE": "`false`",
    "NONE": "`none`", "IMPORT": "`import`", "LET": "`let`", "DEF": "`def`", "DOT": "`.`",
    "$END": "the end of the file",
}


def _describe_expected(expected) -> str:
    if {"NAME", "NUMBER", "STRING"} <= set(expected):
        return "an expression"
    words = sorted({_EXPECTED_WORDS.get(e, e) for e in expected})
    if len(words) > 6:
        if "a name" in words and "a number" in words:
            return "an expression"
        words = words[:6] + ["..."]
    return ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1] if words else "something else"


def _token_text(tok) -> str:
    if tok is None or getattr(tok, "type", "") == "$END":
        return "end of file"
    return f"`{tok}`"


def parse(text: str, filename: str = "<string>") -> List[Statement]:
    """Parse `.hyp` text into statements, or raise HypError with position and expectation."""
    text = normalize_source(text)
    check_limits(text, filename)
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedCharacters as e:
        char = text[e.pos_in_stream] if 0 <= e.pos_in_stream < len(text) else "?"
        msg = f"unexpected character {char!r}"
        if char in "\"'":
            msg = "unterminated string (strings end on the same line)"
        raise HypError(msg, Location(filename, e.line, e.column), _line(text, e.line)) from None
    except lark.exceptions.UnexpectedToken as e:
        tok = e.token
        line, col = (tok.line, tok.column) if getattr(tok, "line", None) else _end_position(text)
        msg = f"unexpected {_token_text(tok)}, expected {_describe_expected(e.expected)}"
        opened = _unclosed_bracket(text, _offset(text, line, col))
        closer = {"(": ("RPAR", "`)` to close the call"), "[": ("RSQB", "`]` to close the list")}
        if opened and closer[opened[0]][0] in e.expected:
            what = closer[opened[0]][1]
            if opened[0] == "(":
                what = "`)` to close the call" if opened[3] else "`)`"
            if "COMMA" in e.expected:
                what = "`,` or " + what
            msg = f"unexpected {_token_text(tok)}, expected {what} opened at {opened[1]}:{opened[2]}"
        raise HypError(msg, Location(filename, line, col), _line(text, line)) from None
    except lark.exceptions.UnexpectedEOF as e:
        line, col = _end_position(text)
        raise HypError(f"unexpected end of file, expected {_describe_expected(e.expected)}",
                       Location(filename, line, col), _line(text, line)) from None
    try:
        return _ToTree(filename).transform(tree)
    except lark.exceptions.VisitError as e:
        if isinstance(e.orig_exc, HypError):
            err = e.orig_exc
            if err.location and err.source_line is None:
                err.source_line = _line(text, err.location.line)
            raise err from None
        raise


def _offset(text: str, line: int, col: int) -> int:
    lines = text.split("\n")
    return sum(len(x) + 1 for x in lines[: line - 1]) + col - 1


def _unclosed_bracket(text: str, end: int):
    """The innermost bracket still open before `end`: (char, line, col, is_call), or None."""
    stack = []
    i, line, col = 0, 1, 1
    quote = None
    last = ""
    while i < min(end, len(text)):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
                col += 1
            elif c == quote or c == "\n":
                quote = None
        elif c == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        elif c in "\"'":
            quote = c
        elif c in "([":
            stack.append((c, line, col, last.isalnum() or last == "_"))
        elif c in ")]" and stack:
            stack.pop()
        if not c.isspace() and not quote:
            last = c  # the last character before a bracket (a name before it makes it a call)
        if c == "\n":
            line, col = line + 1, 1
        else:
            col += 1
        i += 1
    return stack[-1] if stack else None


def _end_position(text: str) -> Tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def _line(text: str, line: int) -> Optional[str]:
    lines = text.split("\n")
    return lines[line - 1] if 1 <= line <= len(lines) else None
