"""The Pygments lexer for `.hyp`: found through its entry point (as Sphinx and pygmentize find
it), and on every example each token of the language's lexer gets its Pygments token type."""

from pathlib import Path

import pytest

pygments = pytest.importorskip("pygments")
from pygments import lex  # noqa: E402
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename  # noqa: E402
from pygments.token import Comment, Error, Keyword, Name, Number, String  # noqa: E402

from hypsearch.lsp.document import PRIMITIVES, tokenize  # noqa: E402

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.hyp"))


def test_found_by_name_and_file_name():
    assert type(get_lexer_by_name("hyp")).__name__ == "HypLexer"
    assert type(get_lexer_for_filename("space.hyp")).__name__ == "HypLexer"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_tokens_match_the_grammar(path):
    text = path.read_text(encoding="utf-8")
    spans, pos = {}, 0
    for ttype, value in lex(text, get_lexer_by_name("hyp")):
        assert ttype not in Error, (path.name, value)
        spans[pos] = ttype
        pos += len(value)
    toks = tokenize(text, keep_trivia=True)
    code = [t for t in toks if t.type not in ("WS", "COMMENT")]
    expect = {"COMMENT": Comment, "STRING": String, "NUMBER": Number, "TRUE": Keyword.Constant,
              "FALSE": Keyword.Constant, "NONE": Keyword.Constant, "IMPORT": Keyword.Namespace,
              "LET": Keyword.Declaration, "DEF": Keyword.Declaration}
    for t in toks:
        want = expect.get(t.type)
        if t.type == "NAME":
            k = code.index(t)
            if k + 1 < len(code) and code[k + 1].type == "LPAR" and (k == 0 or code[k - 1].type != "DEF"):
                want = Name.Builtin if t.value in PRIMITIVES else Name.Function
        if want is not None:
            assert t.start in spans and spans[t.start] in want, (path.name, t, spans.get(t.start))
