"""A tolerant reading of `.hyp` text for the editor: tokens, statements and the call context at
a position, for text that is half typed and does not parse.

The token kinds and patterns are the terminals of `grammars/hyp.lark` (taken from Lark, so the
editor and the parser never disagree on what a token is); a character no terminal matches becomes
an ERROR token instead of stopping the scan. Statements are found the way the grammar's comment
says LALR finds them: each starts with a keyword or `NAME =` at bracket depth 0.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import List, Optional, Tuple

# Decision primitives: calls the grammar does not distinguish and the semantics gives meaning to
# (the language's own list, so a new primitive appears here without edits).
from hypsearch.dsl.semantics import PRIMITIVES

STATEMENT_KEYWORDS = ("IMPORT", "LET", "DEF")


@dataclass(frozen=True)
class Token:
    """One token: its Lark terminal name, text and 0-based offsets, line and column."""

    type: str
    value: str
    start: int
    end: int
    line: int
    column: int


@functools.lru_cache(maxsize=1)
def _lexer() -> Tuple[re.Pattern, dict]:
    import lark

    text = resources.files("hypsearch.grammars").joinpath("hyp.lark").read_text(encoding="utf-8")
    grammar = lark.Lark(text, parser="lalr")
    keywords, patterns = {}, []
    for t in grammar.terminals:
        if type(t.pattern).__name__ == "PatternStr":
            if re.fullmatch(r"[A-Za-z_]\w*", t.pattern.value):
                keywords[t.pattern.value] = t.name  # a NAME spelled like a keyword is the keyword
            else:
                patterns.append((t.name, re.escape(t.pattern.value)))
        else:
            patterns.append((t.name, t.pattern.to_regexp()))
    # Longest literal punctuation first never matters here (all are one character); regexps keep
    # the grammar's order, which puts NUMBER before NAME and STRING before the ERROR fallback.
    master = "|".join(f"(?P<{name}>{rx})" for name, rx in patterns) + r"|(?P<ERROR>.)"
    return re.compile(master, re.S), keywords


def tokenize(text: str, keep_trivia: bool = False) -> List[Token]:
    """Every token of `text`; whitespace and comments only with `keep_trivia`."""
    rx, keywords = _lexer()
    out: List[Token] = []
    line, line_start, pos = 0, 0, 0
    n = len(text)
    while pos < n:
        m = rx.match(text, pos)
        kind, value = m.lastgroup, m.group()
        if kind == "NAME" and value in keywords:
            kind = keywords[value]
        if keep_trivia or kind not in ("WS", "COMMENT"):
            out.append(Token(kind, value, pos, m.end(), line, pos - line_start))
        newlines = value.count("\n")
        if newlines:
            line += newlines
            line_start = pos + value.rindex("\n") + 1
        pos = m.end()
    return out


@dataclass
class Statement:
    """A top-level statement: `field` (NAME = ...), `let`, `def` or `import`."""

    kind: str
    name: str
    name_token: Token
    first: int  # index of its first token
    last: int  # index of its last token
    body: int = 0  # index of the first token of its expression
    params: List[Token] = field(default_factory=list)


@dataclass
class Frame:
    """An open bracket around a position: a call (`callee` set) or a list."""

    open: Token
    callee: Optional[str]
    index: int = 0  # positional argument (or list item) number
    positional: int = 0  # positional arguments before the current one
    keyword: Optional[str] = None  # `NAME =` of the current argument
    given: List[str] = field(default_factory=list)  # keyword names already written


class Document:
    """Tokens, statements and lookups of one version of a `.hyp` text."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self._starts = [t.start for t in self.tokens]
        self.statements = _statements(self.tokens)
        self._line_offsets = [0] + [m.end() for m in re.finditer("\n", text)]

    # -- positions ------------------------------------------------------------------------------
    def offset(self, line: int, character: int) -> int:
        """Offset of a 0-based (line, character) position, clamped to the text."""
        if line >= len(self._line_offsets):
            return len(self.text)
        start = self._line_offsets[line]
        end = self._line_offsets[line + 1] - 1 if line + 1 < len(self._line_offsets) else len(self.text)
        return min(start + max(character, 0), end)

    def position(self, offset: int) -> Tuple[int, int]:
        """0-based (line, character) of an offset."""
        line = bisect.bisect_right(self._line_offsets, offset) - 1
        return line, offset - self._line_offsets[line]

    def token_index_at(self, offset: int) -> Optional[int]:
        """Index of the token containing `offset` (or ending at it), else None."""
        i = bisect.bisect_right(self._starts, offset) - 1
        if i >= 0 and self.tokens[i].start <= offset <= self.tokens[i].end:
            return i
        return None

    def statement_of(self, index: int) -> Optional[Statement]:
        """The statement holding token `index`."""
        for s in self.statements:
            if s.first <= index <= s.last:
                return s
        return None

    def definitions(self, kind: str) -> dict:
        """name -> Statement for every `let` or `def` (the first when written twice)."""
        out: dict = {}
        for s in self.statements:
            if s.kind == kind and s.name not in out:
                out[s.name] = s
        return out

    # -- context --------------------------------------------------------------------------------
    def frames(self, stmt: Statement, upto: int) -> List[Frame]:
        """The open calls and lists of `stmt` around token index `upto` (exclusive), outermost first."""
        stack: List[Frame] = []
        toks = self.tokens
        for i in range(stmt.body, min(upto, stmt.last + 1)):
            t = toks[i]
            if t.type == "LPAR":
                prev = toks[i - 1] if i > 0 else None
                callee = prev.value if prev is not None and prev.type == "NAME" else None
                stack.append(Frame(t, callee))
            elif t.type == "LSQB":
                stack.append(Frame(t, None))
            elif t.type in ("RPAR", "RSQB"):
                if stack:
                    stack.pop()
            elif t.type == "COMMA" and stack:
                f = stack[-1]
                if f.keyword is None:
                    f.positional += 1
                f.index += 1
                f.keyword = None
            elif (t.type == "NAME" and stack and stack[-1].open.type == "LPAR" and i + 1 < len(toks)
                  and toks[i + 1].type == "EQUAL" and toks[i - 1].type in ("LPAR", "COMMA")):
                stack[-1].keyword = t.value
                stack[-1].given.append(t.value)
        return stack


def _statements(toks: List[Token]) -> List[Statement]:
    out: List[Statement] = []
    depth = 0
    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        starts = None
        if t.type in STATEMENT_KEYWORDS:
            starts = t.type.lower()
        elif (t.type == "NAME" and i + 1 < n and toks[i + 1].type == "EQUAL"
              and (depth == 0 or (t.column == 0 and (i == 0 or toks[i - 1].type not in ("LPAR", "COMMA"))))):
            # At column 0 after an unclosed bracket, a `NAME =` is taken as a new statement: a
            # half-typed call must not swallow the rest of the file.
            starts = "field"
        if starts is None:
            if t.type in ("LPAR", "LSQB"):
                depth += 1
            elif t.type in ("RPAR", "RSQB"):
                depth = max(depth - 1, 0)
            if out:
                out[-1].last = i
            i += 1
            continue
        depth = 0
        if starts == "field":
            out.append(Statement("field", t.value, t, i, i + 1, body=i + 2))
            i += 2
            continue
        name_tok = toks[i + 1] if i + 1 < n else t
        if starts == "import":
            name = name_tok.value if name_tok.type in ("STRING", "NAME") else ""
            out.append(Statement("import", name, name_tok, i, min(i + 1, n - 1), body=i + 2))
            i += 2
            continue
        if name_tok.type != "NAME":  # `let` alone, or `let 3`: nothing to name
            out.append(Statement(starts, "", t, i, i, body=i + 1))
            i += 1
            continue
        stmt = Statement(starts, name_tok.value, name_tok, i, i + 1)
        j = i + 2
        if starts == "def" and j < n and toks[j].type == "LPAR":
            j += 1
            while j < n and toks[j].type in ("NAME", "COMMA"):
                if toks[j].type == "NAME":
                    stmt.params.append(toks[j])
                j += 1
            if j < n and toks[j].type == "RPAR":
                j += 1
        if j < n and toks[j].type == "EQUAL":
            j += 1
        stmt.last = max(j - 1, i + 1)
        stmt.body = j
        out.append(stmt)
        i = j
    return out


def unquote(s: str) -> str:
    """The value of a STRING token (escapes kept as written but for the quotes)."""
    return s[1:-1] if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'" else s.strip("\"'")
