"""docs/rules.md names a home, a simulator model and tests for each rule: every file and name it cites exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "rules.md"
REFERENCE = re.compile(r"`((?:provider|tests|components|docs)/[^`\s:]+)(?:::([A-Za-z_][\w.-]*))?`")


def references(text: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in REFERENCE.finditer(text)]


def problem(path: str, name: str | None) -> str | None:
    """Why a ``path::name`` reference is stale, or None."""
    file = ROOT / path
    if not file.is_file():
        return f"{path} does not exist"
    if name is None:
        return None
    source = file.read_text(encoding="utf-8")
    if path.endswith(".ps1"):  # a PowerShell function of a script or a lib/ fragment
        found = re.search(rf"^function {re.escape(name)}\b", source, re.M | re.I)
        return None if found else f"{path} defines no function {name}"
    if path.startswith("tests/") and name.startswith("test_"):
        return None if re.search(rf"^def {re.escape(name)}\(", source, re.M) else f"{path} has no test {name}"
    missing = [part for part in name.split(".") if not re.search(rf"\b(?:def|class) {re.escape(part)}\b", source)]
    missing = [p for p in missing if not re.search(rf"^{re.escape(p)}\b", source, re.M)]  # module-level names
    return f"{path} defines no {', '.join(missing)}" if missing else None


def test_every_reference_in_the_rules_table_exists() -> None:
    found = references(TABLE.read_text(encoding="utf-8"))
    assert len(found) > 60
    stale = [why for path, name in found if (why := problem(path, name))]
    assert stale == []


def test_each_of_the_designs_thirteen_rules_has_a_row_with_a_home_a_model_and_a_test() -> None:
    rows = [line for line in TABLE.read_text(encoding="utf-8").splitlines() if re.match(r"^\| \d+ \|", line)]
    assert [int(r.split("|")[1]) for r in rows] == list(range(1, 14))
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        home, model, tests = cells[2], cells[4], cells[5]
        assert references(home), row
        assert references(model), row
        assert any(path.startswith("tests/") for path, _ in references(tests)), row


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("provider/remote/policy.py", "CallPolicy.no_such_method"),
        ("provider/nowhere.py", None),
        ("tests/providers/test_call_policy.py", "test_that_does_not_exist"),
    ],
)
def test_the_check_finds_a_stale_reference(path: str, name: str | None) -> None:
    assert problem(path, name) is not None
