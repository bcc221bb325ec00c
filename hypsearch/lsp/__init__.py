"""Editor support for `.hyp`: a language server (`hypsearch lsp`) built on the real loader and
the registry, and a Pygments lexer. The server needs pygls (the `lsp` extra); the lexer needs
only Pygments.
"""
