"""The language features over one document: diagnostics from the real loader (the messages and
positions `hypsearch check` prints), hover, completion, definition and document symbols.

Each function takes the text (as a `Document`) and returns lsprotocol values; the server only
routes requests here. Names of decisions come from the last `Space` that loaded: the path of a
primitive call is worked out from the text and matched against `Space.decisions`, so a decision
in a `repeat` shows every copy and a decision in a `def` body falls back to its kind and field.
"""

from __future__ import annotations

import os
import re
from typing import List, Optional, Sequence, Tuple
from urllib.parse import unquote as url_unquote, urlparse

from lsprotocol import types as lsp

from hypsearch.dsl.api import loads
from hypsearch.dsl.errors import HypError
from hypsearch.dsl.registry import lookup, names as component_names

from . import vocab
from .document import PRIMITIVES, Document, Frame, Statement, Token, unquote

SOURCE = "hypsearch"
INTERNAL = "internal error of hypsearch while checking this file (please report it)"
_PRIMITIVE_KINDS = {"oneof": "choice", "optional": "choice", "manyof": "subset", "intv": "int", "floatv": "float"}


def uri_to_path(uri: str) -> str:
    """Local path of a file:// URI (other schemes: the URI itself)."""
    p = urlparse(uri)
    return url_unquote(p.path) if p.scheme == "file" else uri


def path_to_uri(path: str) -> str:
    """file:// URI of a local path."""
    from pathlib import Path
    return Path(os.path.abspath(path)).as_uri()


def _range(doc: Document, start: int, end: int) -> lsp.Range:
    (l1, c1), (l2, c2) = doc.position(start), doc.position(end)
    return lsp.Range(lsp.Position(l1, c1), lsp.Position(l2, c2))


def _token_range(doc: Document, t: Token) -> lsp.Range:
    return _range(doc, t.start, t.end)


# -- diagnostics --------------------------------------------------------------------------------
def check(doc: Document, path: str):
    """(Space or None, diagnostics) of the text loaded as the file at `path`."""
    try:
        space = loads(doc.text, filename=path)
    except HypError as e:
        return None, [_diagnostic(doc, e, path)]
    except RecursionError:
        return None, [lsp.Diagnostic(_range(doc, 0, 0), "the file nests too deeply to check",
                                     severity=lsp.DiagnosticSeverity.Error, source=SOURCE)]
    except Exception as e:  # noqa: BLE001 - a bug in the checker: said in the editor, not swallowed
        return None, [lsp.Diagnostic(_range(doc, 0, 0), f"{INTERNAL}: {type(e).__name__}: {e}",
                                     severity=lsp.DiagnosticSeverity.Error, source=SOURCE)]
    return space, []


def _diagnostic(doc: Document, e: HypError, path: str) -> lsp.Diagnostic:
    loc = e.location
    if loc is None or os.path.abspath(loc.file) != os.path.abspath(path):
        # No position, or one in another file (an imported .py): shown at the top of this one.
        rng = _range(doc, 0, 0)
        message = e.message if loc is None else f"{loc}: {e.message}"
    else:
        start = doc.offset(loc.line - 1, loc.column - 1)
        i = doc.token_index_at(start)
        end = doc.tokens[i].end if i is not None and doc.tokens[i].start == start else min(start + 1, len(doc.text))
        rng = _range(doc, start, max(end, start))
        message = e.message
    return lsp.Diagnostic(rng, message, severity=lsp.DiagnosticSeverity.Error, source=SOURCE)


# -- decisions at a position --------------------------------------------------------------------
def _call_kwargs(doc: Document, lpar: int) -> dict:
    """Keyword arguments of the call whose `(` is token `lpar`: name -> value token (depth 1 only)."""
    out, depth, toks = {}, 0, doc.tokens
    for i in range(lpar, len(toks)):
        t = toks[i]
        if t.type in ("LPAR", "LSQB"):
            depth += 1
        elif t.type in ("RPAR", "RSQB"):
            depth -= 1
            if depth == 0:
                break
        elif (depth == 1 and t.type == "NAME" and i + 2 < len(toks) and toks[i + 1].type == "EQUAL"
              and toks[i - 1].type in ("LPAR", "COMMA")):
            out[t.value] = toks[i + 2]
    return out


def _call_end(doc: Document, lpar: int) -> int:
    depth, toks = 0, doc.tokens
    for i in range(lpar, len(toks)):
        if toks[i].type in ("LPAR", "LSQB"):
            depth += 1
        elif toks[i].type in ("RPAR", "RSQB"):
            depth -= 1
            if depth == 0:
                return i
    return len(toks) - 1


def decision_path(doc: Document, stmt: Statement, frames: Sequence[Frame], prefix: Optional[str] = None,
                  depth: int = 0) -> Optional[str]:
    """A regular expression for the names of the decisions a primitive at the end of `frames`
    makes, from the text alone. A `def` body has no path of its own: it gets `prefix`, the path of
    one of its uses; an argument of a `def` call gets the path where the body uses the parameter."""
    if prefix is not None:
        parts = [prefix]
    elif stmt.kind in ("field", "let"):
        parts = [re.escape(stmt.name)]
    else:
        return None
    defs = doc.definitions("def")
    for f in frames:
        if f.callee in defs and depth < 8:
            inner = _parameter_path(doc, defs[f.callee], f, "".join(parts), depth)
            if inner is None:
                return None
            parts = [inner]
            continue
        if f.callee is None:
            parts.append(rf"\[{f.index}\]")
            continue
        if f.callee in PRIMITIVES:
            if f.callee == "repeat":
                parts.append(r"\.n" if f.positional == 0 else r"\[\d+\]")
            elif f.callee in ("oneof", "manyof"):
                j = f.positional - (1 if f.callee == "manyof" else 0)
                cand = _candidate_callee(doc, f, j)
                parts.append(rf"(?:\.{re.escape(cand)}|#{j})" if cand else f"#{j}")
            elif f.callee == "optional":
                pass  # the item shares the optional's path (or `.value` when a decision itself)
            continue
        cls = lookup(f.callee)
        if cls is None:
            return None
        name = f.keyword or vocab.positional_field(cls, f.positional)
        if name is None:
            return None
        parts.append(rf"\.{re.escape(name)}")
        if name == cls.__hyp_varargs__:
            parts.append(rf"\[{f.positional}\]")
    return "".join(parts)


def _parameter_path(doc: Document, d: Statement, f: Frame, prefix: str, depth: int) -> Optional[str]:
    """Path of the argument filled at frame `f` of a call of the `def` `d` whose result sits at
    `prefix`: where the body first uses that parameter."""
    names = [p.value for p in d.params]
    param = f.keyword or (names[f.positional] if f.positional < len(names) else None)
    if param is None:
        return None
    toks = doc.tokens
    for k in range(d.body, min(d.last + 1, len(toks))):
        t = toks[k]
        nxt = toks[k + 1] if k + 1 < len(toks) else None
        if t.type == "NAME" and t.value == param and (nxt is None or nxt.type not in ("EQUAL", "LPAR")):
            return decision_path(doc, d, doc.frames(d, k), prefix=prefix, depth=depth + 1)
    return None


def _def_uses(doc: Document, d: Statement) -> List[str]:
    """Paths (regular expressions) of every use of the `def` `d` in fields and lets."""
    out = []
    for i, t in enumerate(doc.tokens):
        if (t.type == "NAME" and t.value == d.name and i + 1 < len(doc.tokens) and doc.tokens[i + 1].type == "LPAR"
                and not d.first <= i <= d.first + 1):
            s = doc.statement_of(i)
            if s is not None and s.kind in ("field", "let"):
                path = decision_path(doc, s, doc.frames(s, i))
                if path is not None:
                    out.append(path)
    return out


def _candidate_callee(doc: Document, f: Frame, j: int) -> Optional[str]:
    """Callee name of candidate j of the oneof/manyof opened at `f`, when it is a call."""
    toks = doc.tokens
    i = _index_of(doc, f.open)
    depth, arg = 0, 0
    for k in range(i, len(toks)):
        t = toks[k]
        if t.type in ("LPAR", "LSQB"):
            depth += 1
            if depth == 2 and arg == j and k > 0 and toks[k - 1].type == "NAME":
                return toks[k - 1].value
        elif t.type in ("RPAR", "RSQB"):
            depth -= 1
            if depth == 0:
                break
        elif t.type == "COMMA" and depth == 1:
            arg += 1
    return None


def _index_of(doc: Document, t: Token) -> int:
    import bisect
    return bisect.bisect_left([x.start for x in doc.tokens], t.start)


def decisions_at(doc: Document, space, index: int) -> Tuple[Optional[str], list]:
    """(the primitive's keyword, the decisions it makes) for the primitive NAME at token `index`."""
    t = doc.tokens[index]
    stmt = doc.statement_of(index)
    if space is None or stmt is None:
        return t.value, []
    kwargs = _call_kwargs(doc, index + 1)
    decisions = list(space.decisions)
    if "name" in kwargs and kwargs["name"].type == "STRING":
        user = unquote(kwargs["name"].value)
        found = [d for d in decisions if d.name == user or d.name.startswith(user + "@")]
        if found:
            return t.value, found
    frames = doc.frames(stmt, index)
    if stmt.kind == "def":  # every use of the def makes its own copies of the body's decisions
        patterns = [p for use in _def_uses(doc, stmt) for p in [decision_path(doc, stmt, frames, prefix=use)] if p]
    else:
        patterns = [p for p in [decision_path(doc, stmt, frames)] if p]
    if patterns:
        pattern = "|".join(f"(?:{p})" for p in patterns)
        if t.value == "optional":
            pattern = rf"(?:{pattern})(?:\.value)?"
        elif t.value == "repeat":
            pattern = rf"(?:{pattern})\.n"  # the count is the repeat's decision
        rx = re.compile(f"(?:{pattern})" + r"(?:@.*)?")
        found = [d for d in decisions if rx.fullmatch(d.name)]
        if found or t.value == "repeat":
            return t.value, found
    # Inside a `def`, or a path the text does not show: the decisions of this kind whose name ends
    # with the argument the call fills.
    kind = _PRIMITIVE_KINDS.get(t.value)
    last = frames[-1] if frames else None
    field = last.keyword if last is not None else None
    if field is None and last is not None and last.callee and lookup(last.callee) is not None:
        field = vocab.positional_field(lookup(last.callee), last.positional)
    found = [d for d in decisions if (kind is None or str(d.kind.value if hasattr(d.kind, "value") else d.kind) == kind)
             and field is not None and re.search(rf"\.{re.escape(field)}(?:\[\d+\])?(?:@.*)?$", d.name)]
    return t.value, found


def _decision_markdown(keyword: str, decisions: list, checked: bool = True) -> str:
    sig, doc = vocab.PRIMITIVE_DOCS[keyword]
    lines = [f"```hyp\n{sig}\n```", f"*decision primitive*: {doc}"]
    if decisions:
        lines.append("")
        many = len(decisions) > 1
        if many:
            lines.append(f"{len(decisions)} decisions (one per copy or use):")
        for d in decisions[:12]:
            when = (f", active when `{d.condition.parent}` in {sorted(d.condition.values)}"
                    if d.condition is not None else ", always active")
            lines.append(f"{'- ' if many else ''}`{d.name}`: {d.describe()}{when}")
        if len(decisions) > 12:
            lines.append(f"- ... and {len(decisions) - 12} more")
    elif not checked:
        lines.append("\n(its name and domain show once the file checks)")
    elif keyword == "repeat":
        lines.append("\nits count is fixed: no decision of its own")
    else:
        lines.append("\n(no decision of the last checked version of the file is written here)")
    return "\n".join(lines)


# -- hover --------------------------------------------------------------------------------------
def hover(doc: Document, space, line: int, character: int) -> Optional[lsp.Hover]:
    """Documentation of the component, argument, decision, `let` or `def` under the position."""
    i = doc.token_index_at(doc.offset(line, character))
    if i is None or doc.tokens[i].type != "NAME":
        return None
    t = doc.tokens[i]
    toks = doc.tokens
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    stmt = doc.statement_of(i)
    text = None
    defs = doc.definitions("def")
    lets = doc.definitions("let")
    if nxt is not None and nxt.type == "LPAR":
        if t.value in PRIMITIVES:
            text = _decision_markdown(*decisions_at(doc, space, i), checked=space is not None)
        elif t.value in defs:
            text = _definition_markdown(doc, defs[t.value])
        else:
            cls = lookup(t.value)
            text = vocab.component_markdown(cls) if cls is not None else None
    elif nxt is not None and nxt.type == "EQUAL" and stmt is not None and i >= stmt.body:
        frames = doc.frames(stmt, i)
        callee = frames[-1].callee if frames else None
        cls = lookup(callee) if callee else None
        if cls is not None:
            text = vocab.argument_markdown(cls, t.value)
        elif callee in PRIMITIVES:
            text = f"`{t.value}`: an option of `{callee}`: {vocab.PRIMITIVE_DOCS[callee][0]}"
    elif stmt is not None and stmt.kind == "field" and stmt.name_token == t:
        doc_text = vocab.program_fields().get(t.value)
        decisions = [d for d in space.decisions if d.name == t.value] if space is not None else []
        if doc_text:
            text = f"`{t.value}`: {doc_text}"
        elif decisions:
            text = _decision_markdown_plain(decisions[0])
        else:
            text = f"`{t.value}`: a user parameter"
    elif t.value in lets:
        text = _definition_markdown(doc, lets[t.value])
        if space is not None:
            same = [d for d in space.decisions if d.name == t.value]
            if same:
                text += "\n\n" + _decision_markdown_plain(same[0])
    elif t.value in defs:
        text = _definition_markdown(doc, defs[t.value])
    if text is None:
        return None
    return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, text), range=_token_range(doc, t))


def _decision_markdown_plain(d) -> str:
    when = f", active when `{d.condition.parent}` in {sorted(d.condition.values)}" if d.condition else ""
    return f"decision `{d.name}`: {d.describe()}{when}"


def _definition_markdown(doc: Document, s: Statement) -> str:
    first, last = doc.tokens[s.first], doc.tokens[s.last]
    body = doc.text[first.start:last.end]
    if len(body) > 600:
        body = body[:600] + " ..."
    return f"```hyp\n{body}\n```"


# -- completion ---------------------------------------------------------------------------------
def completion(doc: Document, line: int, character: int) -> lsp.CompletionList:
    """Names valid at the position: components for the slot, primitives, lets, defs, arguments."""
    offset = doc.offset(line, character)
    toks = doc.tokens
    import bisect
    i = bisect.bisect_left([t.start for t in toks], offset)  # first token at or after the cursor
    # A NAME being typed that ends at the cursor is the prefix, not context.
    if i > 0 and toks[i - 1].type in ("NAME", "LET", "DEF", "IMPORT", "TRUE", "FALSE", "NONE") and toks[i - 1].end == offset:
        i -= 1
    prev = toks[i - 1] if i > 0 else None
    stmt = doc.statement_of(i - 1) if i > 0 else None
    items: List[lsp.CompletionItem] = []
    at_statement_start = prev is None or (stmt is not None and i - 1 >= stmt.body and prev.type in
                                           ("RPAR", "RSQB", "NUMBER", "STRING", "NAME", "TRUE", "FALSE", "NONE")
                                           and not doc.frames(stmt, i))
    if at_statement_start and (prev is None or prev.line < (toks[i].line if i < len(toks) else doc.position(offset)[0])
                               or prev is None):
        given = {s.name for s in doc.statements if s.kind == "field"}
        for kw in ("let", "def", "import"):
            items.append(lsp.CompletionItem(kw, kind=lsp.CompletionItemKind.Keyword))
        for name, text in vocab.program_fields().items():
            if name not in given:
                items.append(lsp.CompletionItem(name, kind=lsp.CompletionItemKind.Field, detail=text,
                                                insert_text=f"{name} = "))
        return lsp.CompletionList(is_incomplete=False, items=items)
    if stmt is None or prev is None or prev.type not in ("EQUAL", "LPAR", "COMMA", "LSQB") or i - 1 < stmt.body - 1:
        return lsp.CompletionList(is_incomplete=False, items=[])
    frames = doc.frames(stmt, i)
    if prev.type == "EQUAL" and frames and frames[-1].keyword is None:
        return lsp.CompletionList(is_incomplete=False, items=[])
    allowed = vocab.slot(stmt.kind, stmt.name, frames)
    if frames and prev.type in ("LPAR", "COMMA") and frames[-1].callee is not None:
        f = frames[-1]
        typing = toks[i].value if i < len(toks) and toks[i].start <= offset <= toks[i].end else None
        # Arguments written after the cursor count as given; the one being typed does not.
        f.given = sorted((set(f.given) | set(_call_kwargs(doc, _index_of(doc, f.open)))) - {typing})
        items += _argument_items(f)
    if allowed is None or allowed:
        for name in component_names():
            if allowed is not None and name not in allowed:
                continue
            cls = lookup(name)
            items.append(lsp.CompletionItem(
                name, kind=lsp.CompletionItemKind.Class, detail=f"{cls.__hyp_kind__}: {vocab.signature(cls)}",
                documentation=lsp.MarkupContent(lsp.MarkupKind.Markdown, vocab.component_markdown(cls))))
    in_primitive_option = frames and frames[-1].callee in PRIMITIVES and (
        frames[-1].keyword is not None or frames[-1].callee in ("intv", "floatv"))
    if not in_primitive_option:
        for name, (sig, text) in vocab.PRIMITIVE_DOCS.items():
            items.append(lsp.CompletionItem(name, kind=lsp.CompletionItemKind.Function, detail=sig, documentation=text))
    params = [p.value for p in stmt.params] if stmt.kind == "def" else []
    for s in doc.statements:
        if s.kind == "let" and s.name and s is not stmt:
            items.append(lsp.CompletionItem(s.name, kind=lsp.CompletionItemKind.Variable, detail="let"))
        elif s.kind == "def" and s.name and _def_fits(doc, s, allowed):
            sig = ", ".join(p.value for p in s.params)
            items.append(lsp.CompletionItem(s.name, kind=lsp.CompletionItemKind.Function, detail=f"def {s.name}({sig})"))
    for p in params:
        items.append(lsp.CompletionItem(p, kind=lsp.CompletionItemKind.Variable, detail="parameter"))
    for lit in vocab.LITERALS:
        items.append(lsp.CompletionItem(lit, kind=lsp.CompletionItemKind.Constant))
    return lsp.CompletionList(is_incomplete=False, items=items)


def _def_fits(doc: Document, s: Statement, allowed) -> bool:
    """Whether a `def` can fill a slot: its body's outer component is allowed there (or unknown)."""
    if allowed is None:
        return True
    if not allowed:
        return False
    toks = doc.tokens
    head = toks[s.body] if s.body < len(toks) else None
    if head is None or head.type != "NAME" or lookup(head.value) is None:
        return True  # a primitive, a reference or a literal: the text does not say
    return head.value in allowed


def _argument_items(f: Frame) -> List[lsp.CompletionItem]:
    if f.callee in PRIMITIVES:
        opts = {"oneof": ["name"], "manyof": ["distinct", "sorted", "name"], "intv": ["log", "name"],
                "floatv": ["log", "name"], "optional": ["name"], "repeat": []}[f.callee]
        return [lsp.CompletionItem(o, kind=lsp.CompletionItemKind.Property, insert_text=f"{o} = ")
                for o in opts if o not in f.given]
    cls = lookup(f.callee)
    if cls is None:
        return []
    out = []
    for k, fld in cls.hyp_fields().items():
        if k in f.given or k == cls.__hyp_varargs__ or k == cls.__hyp_extra_kwargs__:
            continue
        out.append(lsp.CompletionItem(k, kind=lsp.CompletionItemKind.Property, insert_text=f"{k} = ",
                                      detail=f"{vocab.type_text(fld.value)}: {fld.description or ''}"))
    return out


# -- definition ---------------------------------------------------------------------------------
def definition(doc: Document, uri: str, line: int, character: int) -> Optional[lsp.Location]:
    """Where the `let`/`def` under the position is written, or the file an `import "..."` names."""
    i = doc.token_index_at(doc.offset(line, character))
    if i is None:
        return None
    t = doc.tokens[i]
    if t.type == "STRING" and i > 0 and doc.tokens[i - 1].type == "IMPORT":
        base = os.path.dirname(uri_to_path(uri))
        target = os.path.normpath(os.path.join(base, unquote(t.value)))
        if not os.path.exists(target):
            return None
        return lsp.Location(path_to_uri(target), lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)))
    if t.type != "NAME":
        return None
    stmt = doc.statement_of(i)
    if stmt is not None and stmt.kind == "def" and any(p.value == t.value for p in stmt.params) and i >= stmt.first:
        p = next(p for p in stmt.params if p.value == t.value)
        return lsp.Location(uri, _token_range(doc, p))
    for kind in ("let", "def"):
        s = doc.definitions(kind).get(t.value)
        if s is not None:
            return lsp.Location(uri, _token_range(doc, s.name_token))
    return None


# -- symbols ------------------------------------------------------------------------------------
def symbols(doc: Document) -> List[lsp.DocumentSymbol]:
    """The top-level fields, lets and defs, in order."""
    kinds = {"field": lsp.SymbolKind.Field, "let": lsp.SymbolKind.Variable, "def": lsp.SymbolKind.Function}
    out = []
    for s in doc.statements:
        if s.kind not in kinds or not s.name:
            continue
        first, last = doc.tokens[s.first], doc.tokens[max(s.last, s.first)]
        detail = "def(" + ", ".join(p.value for p in s.params) + ")" if s.kind == "def" else s.kind
        out.append(lsp.DocumentSymbol(name=s.name, kind=kinds[s.kind], range=_range(doc, first.start, last.end),
                                      selection_range=_token_range(doc, s.name_token), detail=detail))
    return out
