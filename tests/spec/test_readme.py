"""The README and docs/ keep their promises: the two commands, a short operator README, generated reference tables.

Why: the README is for operators (under 2,500 words, no word they cannot look up) and docs/ holds the rest;
the tables a person relies on (configuration keys, outputs, errors, scripts) are checked against the code,
and every relative link resolves, so moving content cannot silently break them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.settings import get_root_resource

from provider.config.project_file import reference_markdown
from provider.errors import CATALOGUE, error_table_markdown
from provider.spec import ClusterSpec
from tests.support.doc_tables import between, script_table_markdown
from tests.support.mocks import program

__all__ = ["program"]

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# docs/ pages written with the README (docs/rules.md has its own author and checks).
OWN_DOCS = ("architecture", "ci", "design", "operations", "reference", "scripts", "testing", "winrm")
DOCS = {f"{n}.md": (ROOT / "docs" / f"{n}.md").read_text(encoding="utf-8") for n in OWN_DOCS}
SECRETS = {"serviceAccountPassword": "Svc-Readme-Sentinel-1!", "backupPassword": "Bak-Readme-Sentinel-2!"}
# Words an operator cannot look up: internal names of research notes that are not in this repository.
JARGON = re.compile(r"(?i:\bseed\b|reference §)|\bDESIGN\b")


def table_keys(table: str) -> list[str]:
    """The first column's backticked names of a markdown table (``a``, ``b`` in one cell count as two)."""
    keys: list[str] = []
    for line in table.splitlines()[2:]:
        keys += re.findall(r"`([^`]+)`", line.split("|")[1])
    return keys


def model_keys() -> dict[str, Any]:
    """Every configuration key, dotted for section fields, with its model default (or None)."""
    keys: dict[str, Any] = {}
    for name, field in ClusterSpec.model_fields.items():
        key = field.alias or name
        section = getattr(field.annotation, "model_fields", None)
        if section is None:
            keys[key] = None
            continue
        for sub_name, sub in section.items():
            default = sub.default if sub.default.__class__.__name__ != "PydanticUndefinedType" else None
            keys[f"{key}.{sub.alias or sub_name}"] = default
    return keys


def test_readme_shows_both_commands() -> None:
    assert "make demo" in README and "make test" in README


def test_readme_is_short_and_for_operators() -> None:
    words = len(README.split())
    assert words < 2500, f"README.md has {words} words; move developer material to docs/"
    for heading in ("## Two commands", "## A first real deployment, step by step", "## When a run fails"):
        assert heading in README
    assert README.index("Status: the PowerShell scripts have not yet run on Windows") < 1500


def test_no_word_a_user_cannot_look_up() -> None:
    texts = {"README.md": README, **{f"docs/{n}": t for n, t in DOCS.items()}}
    texts["docs/design.md"] = texts["docs/design.md"].split("## Sources", 1)[0]  # the glossary of old citations
    texts["docs/reference.md"] = texts["docs/reference.md"].split("<!-- error-table:start -->", 1)[0]
    found = {name: JARGON.findall(text) for name, text in texts.items()}
    assert {n: w for n, w in found.items() if w} == {}


def test_error_table_is_the_catalogue() -> None:
    reference = DOCS["reference.md"]
    assert between(reference, "error-table") == error_table_markdown(), "regenerate: python -m tests.support.doc_tables"
    for code in CATALOGUE:
        assert code in reference


def test_the_configuration_table_lists_exactly_the_model_keys_and_their_defaults() -> None:
    table = between(DOCS["reference.md"], "config-table")
    assert table == reference_markdown(), "regenerate: python -m tests.support.doc_tables"
    keys = model_keys()
    assert sorted(table_keys(table)) == sorted(keys)
    rows = [line.split("|") for line in table.splitlines()[2:]]
    cells = {re.findall(r"`([^`]+)`", row[1])[0]: row[3] for row in rows}
    for key, default in keys.items():
        if isinstance(default, bool):
            assert re.search(rf"\b{str(default).lower()}\b", cells[key]), key
        elif isinstance(default, int | float) and default:
            assert f"{default:g}" in cells[key], key
        elif isinstance(default, str) and default and "\\" not in default:
            assert default in cells[key], key


def test_every_script_is_in_the_generated_catalogue() -> None:
    assert between(DOCS["scripts.md"], "script-table") == script_table_markdown(), (
        "regenerate: python -m tests.support.doc_tables"
    )


@pulumi.runtime.test
def test_the_outputs_table_lists_exactly_what_the_program_exports(program: Any) -> Any:
    program(SECRETS)
    root = get_root_resource()
    assert root is not None
    table = README.split("| Output | Meaning |", 1)[1].split("\n\n", 1)[0]
    listed = table_keys("| Output | Meaning |" + table)
    assert sorted(listed) == sorted(root.outputs)  # type: ignore[attr-defined]


def test_every_relative_link_resolves() -> None:
    texts = {ROOT / "README.md": README, **{ROOT / "docs" / n: t for n, t in DOCS.items()}}
    broken: list[str] = []
    for path, text in texts.items():
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"https?://", target):
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (path.parent / file_part).resolve() if file_part else path
            if not resolved.exists():
                broken.append(f"{path.name}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text(encoding="utf-8")):
                broken.append(f"{path.name}: {target} (no such heading)")
    assert broken == []


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    return {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in markdown.splitlines()
        if line.startswith("#")
    }
