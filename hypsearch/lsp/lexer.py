"""A Pygments lexer for `.hyp`, registered as the `pygments.lexers` entry point `hyp`, so Sphinx,
MkDocs and `pygmentize` highlight `.hyp` files and ```hyp blocks.

Token patterns follow `grammars/hyp.lark`; decision primitives are marked as builtins and a
name before `(` as a function (a component or a `def`), like the TextMate grammar does.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text, Whitespace

PRIMITIVES = ("oneof", "manyof", "intv", "floatv", "optional", "repeat")


class HypLexer(RegexLexer):
    """Lexer for hypsearch's `.hyp` search-space language."""

    name = "hyp"
    aliases = ["hyp", "hypsearch"]
    filenames = ["*.hyp"]
    mimetypes = ["text/x-hyp"]
    url = "https://pypi.org/project/hypsearch/"

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r"(def)(\s+)([A-Za-z_]\w*)", bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (r"(let)(\s+)([A-Za-z_]\w*)", bygroups(Keyword.Declaration, Whitespace, Name.Variable)),
            (r"import\b", Keyword.Namespace),
            (words(("true", "false", "none"), suffix=r"\b"), Keyword.Constant),
            (words(PRIMITIVES, suffix=r"(?=\s*\()"), Name.Builtin),
            (r'"(\\.|[^"\\\n])*"', String.Double),
            (r"'(\\.|[^'\\\n])*'", String.Single),
            (r"-?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", Number),
            (r"[A-Za-z_]\w*(?=\s*\()", Name.Function),
            (r"([A-Za-z_]\w*)(\s*)(=)(?!=)", bygroups(Name.Attribute, Whitespace, Operator)),
            (r"[A-Za-z_]\w*", Name),
            (r"=", Operator),
            (r"[()\[\],.]", Punctuation),
            (r".", Text),
        ],
    }
