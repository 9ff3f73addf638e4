"""Issue 13, point 10: docs/security.md says what is secret, where it travels and rests, what an operator
protects, the threat model, and lists every finding of the review with what was done."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REVIEW_FINDINGS = ["H1", *(f"M{i}" for i in range(1, 8)), *(f"L{i}" for i in range(1, 11))]


def test_the_security_page_covers_what_the_issue_asks() -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    for heading in (
        "## What is secret",
        "## Where each secret travels and rests",
        "## What you must protect",
        "## Threat model",
        "## Findings of the review and what was done",
    ):
        assert heading in text
    for place in ("Stack configuration", "State", "SecureString", "protected", "escrow", "Secrets Manager"):
        assert place.lower() in text.lower(), place
    for asset in ("The escrow", "The state backend", "The WinRM listener"):
        assert f"**{asset}" in text, asset
    table = text.split("## Findings of the review and what was done", 1)[1]
    rows = re.findall(r"^\| (H\d+|M\d+|L\d+) \|", table, re.M)
    assert rows == REVIEW_FINDINGS
