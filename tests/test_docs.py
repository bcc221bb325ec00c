"""docs/vocabulary.md is what `hypsearch docs` generates from the registry, never stale."""

import os

from hypsearch.cli import main
from hypsearch.dsl.reference import vocabulary_markdown

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMITTED = os.path.join(ROOT, "docs", "vocabulary.md")


def test_the_committed_reference_is_up_to_date():
    with open(COMMITTED, encoding="utf-8") as f:
        assert f.read() == vocabulary_markdown(), "docs/vocabulary.md is stale: run `hypsearch docs`"


def test_the_reference_lists_arguments_with_types_defaults_and_docs_but_no_user_component():
    import hypsearch

    @hypsearch.component
    def my_docs_probe_layer(out: int, in_shape=None):
        """A user layer the reference must not list."""
        raise AssertionError("never lowered")

    text = vocabulary_markdown()
    assert "| `padding` | Union[int, str] | `\"same\"` |" in text and "### `residual`" in text
    assert "my_docs_probe_layer" not in text


def test_docs_check_fails_on_a_stale_file_and_docs_rewrites_it(tmp_path, capsys):
    out = tmp_path / "vocabulary.md"
    out.write_text("# old\n")
    assert main(["docs", "--check", "--out", str(out)]) == 1
    assert main(["docs", "--out", str(out)]) == 0
    assert main(["docs", "--check", "--out", str(out)]) == 0
