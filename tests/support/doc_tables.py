"""The generated parts of docs/: the configuration, error and script tables, written between their markers.

Why here: the tests check that each table equals what the code says (tests/spec/test_readme.py); this module
is the one place that renders them, so `make docs` rewrites them and the tests compare with the same text.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from provider.config.project_file import reference_markdown
from provider.contracts import SCRIPTS
from provider.errors import error_table_markdown

ROOT = Path(__file__).resolve().parents[2]


def between(text: str, marker: str) -> str:
    start = text.index(f"<!-- {marker}:start -->") + len(f"<!-- {marker}:start -->")
    return text[start : text.index(f"<!-- {marker}:end -->")].strip()


def script_table_markdown() -> str:
    """The script catalogue: each script's .SYNOPSIS and its contract's kind (read/change, second hop, disruptive)."""
    rows = ["| Script | What it does | Kind | Status |", "|---|---|---|---|"]
    for name in sorted(SCRIPTS):
        script = SCRIPTS[name]
        text = (ROOT / "provider" / "scripts" / f"{name}.ps1").read_text(encoding="utf-8")
        found = re.search(r"\.SYNOPSIS\s*\n(.*?)\n\s*\n", text, re.S)
        assert found, f"{name}.ps1 has no .SYNOPSIS"
        kind = ["change" if script.changes else "read"]
        kind += ["second hop"] * script.second_hop + ["disruptive"] * script.disruptive
        rows.append(
            f"| `{name}` | {' '.join(found.group(1).split())} | {', '.join(kind)} | parsed, never executed here |"
        )
    return "\n".join(rows)


GENERATED = {
    ("reference.md", "config-table"): reference_markdown,
    ("reference.md", "error-table"): error_table_markdown,
    ("scripts.md", "script-table"): script_table_markdown,
}


def replace_between(text: str, marker: str, body: str) -> str:
    start = text.index(f"<!-- {marker}:start -->") + len(f"<!-- {marker}:start -->")
    return text[:start] + "\n" + body + "\n" + text[text.index(f"<!-- {marker}:end -->") :]


def write() -> list[str]:
    """Rewrite every generated table in docs/; returns the pages that changed."""
    changed: list[str] = []
    for (page, marker), render in GENERATED.items():
        path = ROOT / "docs" / page
        text = path.read_text(encoding="utf-8")
        new = replace_between(text, marker, render())
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(page)
    return changed


if __name__ == "__main__":
    pages = write()
    print("rewrote " + ", ".join(pages) if pages else "docs/ tables are current")
    sys.exit(0)
