"""The redacted record of what a provider did, and small helpers every provider step uses."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from provider.config.problems import printable


class Steps:
    """The redacted record of what a provider did: node, step, changed. Never values."""

    def __init__(self, resource: str) -> None:
        self.resource = resource
        self.items: list[dict[str, Any]] = []
        self.live: Callable[[str], None] | None = None  # the resource's status line (provider/operate/progress)

    def add(self, node: str, step: str, changed: bool, note: str = "") -> None:
        item: dict[str, Any] = {"node": node, "step": step, "changed": changed}
        if note:
            item["note"] = note
        self.items.append(item)
        state = "changed" if changed else "ok"
        extra = f" ({printable(note)})" if note else ""
        line = f"esso: [{printable(self.resource)}] {printable(node)} {printable(step)} {state}{extra}"
        print(line, file=sys.stderr, flush=True)  # escaped: a node's reply cannot forge or erase a line (L4)
        if self.live is not None:
            self.live(f"{printable(node)} {printable(step)} {state}{extra}")


def has_unknowns(value: Any) -> bool:
    """True when a preview left any value unknown (the host passes ``pulumi.output.Unknown``)."""
    if isinstance(value, Mapping):
        return any(has_unknowns(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_unknowns(v) for v in value)
    return type(value).__name__ == "Unknown"


def now_utc() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()
