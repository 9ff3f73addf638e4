"""The README keeps its promises: both commands, the generated error table, every script listed."""

from __future__ import annotations

from pathlib import Path

from provider.contracts import SCRIPTS
from provider.errors import CATALOGUE, error_table_markdown

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_shows_both_commands() -> None:
    assert "make demo" in README and "make test" in README


def test_error_table_is_the_catalogue() -> None:
    start = README.index("<!-- error-table:start -->") + len("<!-- error-table:start -->")
    end = README.index("<!-- error-table:end -->")
    assert README[start:end].strip() == error_table_markdown(), "regenerate the README's error table"
    for code in CATALOGUE:
        assert code in README


def test_every_script_is_named_in_the_readme() -> None:
    missing = [name for name in SCRIPTS if f"`{name}`" not in README]
    assert missing == []
