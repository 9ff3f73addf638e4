"""A side-effect-free dynamic provider for the harness's own rule tests: it writes each call to a ledger.

Why: each engine rule (secret annotation, the DIFF_UNKNOWN fallback, replacement order, replaceWith,
protect, retainOnDelete, preview, refresh) is easiest to prove on a provider whose behaviour the test
chooses through its inputs, and whose calls the test reads back — in either host mode, so the ledger is a
file (``inputs["ledger"]``), never process memory. Importable by reference from the project directory
(``tests.engine.ledger_provider``), like the product's providers.

Inputs it understands: ``ledger`` (file), ``replaceKeys`` (keys whose change replaces), ``askDbr``
(the provider's Diff asks for delete-before-replace; the rig's ``dbr`` sets the resource option instead),
``diffMode`` (``"unknown"``: answer DIFF_UNKNOWN), ``slowRead`` (seconds a Read takes, logged as
``read-start`` first). Outputs: the inputs, plus ``token`` (derived from ``password`` when given) and a
``serial`` counted across creates. ``<ledger>.world.json`` drives failures and drift:
``{"<name>": "gone"}`` or ``{"<name>": {...outputs to change}}`` for ``read``; ``"fail-create"`` or
``"fail-delete"`` make that call raise before it is logged.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult


def _log(props: dict[str, Any], op: str) -> None:
    with open(props["ledger"], "a", encoding="utf-8") as out:
        out.write(json.dumps({"op": op, "name": props["name"]}) + "\n")


def _world(props: dict[str, Any]) -> dict[str, Any]:
    world_path = Path(str(props["ledger"]) + ".world.json")
    world: dict[str, Any] = json.loads(world_path.read_text(encoding="utf-8")) if world_path.exists() else {}
    return world


def _fail_if(props: dict[str, Any], what: str) -> None:
    if _world(props).get(props["name"]) == what:
        raise RuntimeError(f"{props['name']}: {what} (the test's world says so)")


def _next_serial(props: dict[str, Any]) -> int:
    counter = Path(str(props["ledger"]) + ".counter")
    serial = int(counter.read_text(encoding="utf-8")) + 1 if counter.exists() else 1
    counter.write_text(str(serial), encoding="utf-8")
    return serial


class LedgerProvider(ResourceProvider):
    """Every method records itself; diff and replacement behaviour come from the inputs."""

    def __init__(self, flavour: str = "") -> None:
        self.flavour = flavour  # changes the pickled blob (and nothing else)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        _log(news, "check")
        return CheckResult(news, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        _log(news, "diff")
        if news.get("diffMode") == "unknown":
            return DiffResult()
        keys = [k for k in news if k not in ("__provider", "serial", "token") and olds.get(k) != news.get(k)]
        replaces = [k for k in news.get("replaceKeys") or [] if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(keys), replaces=replaces, delete_before_replace=bool(news.get("askDbr")))

    def _outs(self, props: dict[str, Any]) -> dict[str, Any]:
        outs = {k: v for k, v in props.items() if k != "__provider"}
        if props.get("password"):
            outs["token"] = hashlib.sha256(str(props["password"]).encode()).hexdigest()[:16]
        return outs

    def create(self, props: dict[str, Any]) -> CreateResult:
        _fail_if(props, "fail-create")
        _log(props, "create")
        serial = _next_serial(props)
        return CreateResult(f"{props['name']}-{serial}", {**self._outs(props), "serial": serial})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _log(news, "update")
        return UpdateResult({**self._outs(news), "serial": olds.get("serial")})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if props.get("slowRead"):
            _log(props, "read-start")
            time.sleep(float(props["slowRead"]))
        _log(props, "read")
        change = _world(props).get(props["name"])
        if change == "gone":
            return ReadResult("", {})
        return ReadResult(id_, {**props, **(change or {})})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        _fail_if(props, "fail-delete")
        _log(props, "delete")
