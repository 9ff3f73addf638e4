"""The rule tests' rig: a ledger-writing provider registered as the SDK would register it, and an engine.

Why apart: ``test_rules.py`` and ``test_rules_replacement.py`` share it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime._serialization import _serialize

from tests.engine.ledger_provider import LedgerProvider
from tests.support.engine import Engine, Program, Registration, StackConfig
from tests.support.engine_wire import Secret

TYPE = "pulumi-python:dynamic/test:Ledger"
CONFIG = StackConfig({"target": "none"}, stack="test")
SENTINEL = "Ledger-Sentinel-3e1a!"


def urn(name: str) -> str:
    return f"urn:pulumi:test::esso-cluster::{TYPE}::{name}"


def _blob(provider: LedgerProvider) -> str:
    """The ``__provider`` string exactly as ``dyn.Resource.__init__`` builds it."""
    text, _ = _serialize(True, serialize_provider, provider)
    return str(text)


class Rig:
    """A ledger, an engine, and a registration builder."""

    def __init__(self, tmp_path: Path, host: str = "in-process") -> None:
        self.ledger = tmp_path / "ledger.jsonl"
        self.ledger.touch()
        self.engine = Engine(tmp_path / "state.json", host=host)  # type: ignore[arg-type]

    def reg(
        self,
        name: str,
        *,
        provider: LedgerProvider | None = None,
        deps: tuple[str, ...] = (),
        replace_with: tuple[str, ...] = (),
        protect: bool = False,
        retain: bool = False,
        aso: tuple[str, ...] = (),
        dbr: bool | None = None,
        **inputs: Any,
    ) -> Registration:
        props = {
            "name": name,
            "ledger": str(self.ledger),
            **inputs,
            "__provider": Secret(_blob(provider or LedgerProvider())),
        }
        return Registration(
            urn=urn(name),
            type=TYPE,
            name=name,
            custom=True,
            parent="",
            inputs=props,
            dependencies=tuple(urn(d) for d in deps),
            replace_with=tuple(urn(d) for d in replace_with),
            protect=protect,
            retain_on_delete=retain,
            delete_before_replace=dbr,
            additional_secret_outputs=aso,
        )

    def ops(self, *, mutations_only: bool = True) -> list[tuple[str, str]]:
        """The provider calls so far, (op, name); create/update/delete/read unless told otherwise."""
        lines = [json.loads(x) for x in self.ledger.read_text(encoding="utf-8").splitlines()]
        kinds = {"create", "update", "delete", "read"} if mutations_only else {e["op"] for e in lines}
        return [(e["op"], e["name"]) for e in lines if e["op"] in kinds]

    def reset(self) -> None:
        self.ledger.write_text("", encoding="utf-8")

    def world(self, changes: dict[str, Any]) -> None:
        Path(str(self.ledger) + ".world.json").write_text(json.dumps(changes), encoding="utf-8")


def program(*registrations: Registration) -> Program:
    return Program(CONFIG, registrations)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield Rig(tmp_path)
