"""The harness's stack state: one resource's stored state, dependency order, and the encrypted checkpoint.

Why apart: the state is what survives between operations (``resource.State`` and the snapshot in
``pkg/backend/snapshot.go``); the step generator (``engine_steps``) only reads and replaces it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.engine_program import PROJECT, Registration
from tests.support.engine_wire import Secret, StateCipher, mark_additional_secret_outputs, strip_secrets


@dataclass(frozen=True)
class ResourceState:
    """One resource in the stored state (``resource.State``)."""

    urn: str
    type: str
    name: str
    id: str
    parent: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    dependencies: tuple[str, ...] = ()
    replace_with: tuple[str, ...] = ()
    protect: bool = False
    retain_on_delete: bool = False
    additional_secret_outputs: tuple[str, ...] = ()
    delete: bool = False  # the old half of a create-before-delete replacement, awaiting deletion
    # deleted by a delete-before-replace and not yet recreated (``NewDeleteReplacementStep(pendingReplace=true)``,
    # ``step.go`` DeleteStep.Apply): it stays in the state until its CreateReplacement succeeds
    pending_replacement: bool = False

    @classmethod
    def of(cls, reg: Registration, id_: str, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> ResourceState:
        return cls(
            urn=reg.urn,
            type=reg.type,
            name=reg.name,
            id=id_,
            parent=reg.parent,
            inputs=dict(inputs),
            outputs=mark_additional_secret_outputs(outputs, reg.additional_secret_outputs),
            dependencies=reg.dependencies,
            replace_with=reg.replace_with,
            protect=reg.protect,
            retain_on_delete=reg.retain_on_delete,
            additional_secret_outputs=reg.additional_secret_outputs,
        )

    @property
    def secret_outputs(self) -> list[str]:
        return sorted(k for k, v in self.outputs.items() if isinstance(v, Secret))

    @property
    def plain_outputs(self) -> dict[str, Any]:
        """The outputs with secrets revealed (for assertions in tests; never written anywhere)."""
        result: dict[str, Any] = strip_secrets(self.outputs)
        return result

    def to_json(self, cipher: StateCipher) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "id": self.id,
            "parent": self.parent,
            "inputs": cipher.seal(self.inputs),
            "outputs": cipher.seal(self.outputs),
            "secretOutputs": self.secret_outputs,
            "dependencies": list(self.dependencies),
            "replaceWith": list(self.replace_with),
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "additionalSecretOutputs": list(self.additional_secret_outputs),
            "delete": self.delete,
            "pendingReplacement": self.pending_replacement,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], cipher: StateCipher) -> ResourceState:
        return cls(
            urn=data["urn"],
            type=data["type"],
            name=data["urn"].rsplit("::", 1)[-1],
            id=data["id"],
            parent=data["parent"],
            inputs=cipher.unseal(data["inputs"]),
            outputs=cipher.unseal(data["outputs"]),
            dependencies=tuple(data["dependencies"]),
            replace_with=tuple(data["replaceWith"]),
            protect=data["protect"],
            retain_on_delete=data["retainOnDelete"],
            additional_secret_outputs=tuple(data["additionalSecretOutputs"]),
            delete=data.get("delete", False),
            pending_replacement=data.get("pendingReplacement", False),
        )


def topological(items: Sequence[ResourceState]) -> list[ResourceState]:
    """Dependency order, stable (``graph.DependencyGraph``): a resource after everything it depends on."""
    urns = {s.urn for s in items}
    done: set[int] = set()
    placed: set[str] = set()
    ordered: list[ResourceState] = []
    while len(ordered) < len(items):
        progressed = False
        for index, item in enumerate(items):
            if index in done:
                continue
            needs = {d for d in item.dependencies if d in urns and d != item.urn}
            if needs <= placed:
                ordered.append(item)
                done.add(index)
                if not item.delete:
                    placed.add(item.urn)
                progressed = True
        if not progressed:  # a cycle, or a dependency only on a pending delete: keep the given order
            ordered += [item for index, item in enumerate(items) if index not in done]
            break
    return ordered


class StateStore:
    """The stack's state file (a checkpoint): resources in dependency order, every secret encrypted."""

    def __init__(self, path: Path, passphrase: str) -> None:
        self.path = path
        self.passphrase = passphrase
        self._cipher: StateCipher | None = None

    def cipher(self) -> StateCipher:
        """The cipher of this state file: its salt is in the file, the passphrase only in memory."""
        if self._cipher is None:
            salt = None
            if self.path.exists():
                salt = base64.b64decode(json.loads(self.path.read_text(encoding="utf-8"))["secrets"]["salt"])
            self._cipher = StateCipher(self.passphrase, salt)
        return self._cipher

    def load(self) -> list[ResourceState]:
        if not self.path.exists():
            return []
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return [ResourceState.from_json(r, self.cipher()) for r in data["resources"]]

    def save(self, resources: Iterable[ResourceState]) -> None:
        cipher = self.cipher()
        document = {
            "version": 1,
            "project": PROJECT,
            "secrets": {"type": "harness-passphrase", "cipher": "aes-256-gcm", "salt": cipher.salt_text},
            "resources": [r.to_json(cipher) for r in topological(list(resources))],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(document, indent=1), encoding="utf-8")
        tmp.replace(self.path)

    def raw(self) -> bytes:
        return self.path.read_bytes() if self.path.exists() else b""
