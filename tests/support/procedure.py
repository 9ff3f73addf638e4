"""Drive the six providers in the component's order against the simulator, as a first `up` would.

Why not the engine: these tests pin what each provider does to the world; the engine contract
(pickling, gRPC, state) has its own harness in tests/engine.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import dill
import pulumi
from pulumi.runtime._serialization import _deserialize

from components.clustered_master_secret import ClusteredMasterSecret, ProgramSecrets
from provider.resources.base import EssoProvider
from provider.spec import ClusterSpec, load_spec
from tests.support.engine_program import Registration, run_under_mocks
from tests.support.engine_wire import strip_secrets

SERVICE_PASSWORD = "Svc-Sentinel-7d1e!"
BACKUP_PASSWORD = "Bak-Sentinel-93fa#"


def demo_spec(tmp_path: Path, nodes: tuple[str, ...] = ("SSO01", "SSO02"), **overrides: Any) -> ClusterSpec:
    """The demo stack's settings, with its world and escrow under ``tmp_path``."""
    config: dict[str, Any] = {
        "target": "simulator",
        "simulatorState": str(tmp_path / "world.json"),
        "cluster": {"networkName": "BIZTALKSSO", "role": "SSO", "nodes": list(nodes)},
        "domain": {"name": "CONTOSO"},
        "sso": {"serviceAccount": "CONTOSO\\svc-entsso", "configuringAccount": "CONTOSO\\esso-config"},
        "database": {"server": "SQL01", "name": "SSODB"},
        "escrow": {"kind": "local", "path": str(tmp_path / "escrow")},
        "transport": {"auth": "credssp", "secondHop": "credssp"},
        "allowDisruption": True,
        "serviceAccountPassword": SERVICE_PASSWORD,
        "backupPassword": BACKUP_PASSWORD,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return load_spec(config)


def component_registrations(spec: ClusterSpec) -> list[Registration]:
    """The component's dynamic resources in registration order, from ``ClusteredMasterSecret`` run under mocks
    (as ``__main__.py`` builds it: the passwords as secret Outputs)."""
    backup = spec.backup_password.get_secret_value() if spec.backup_password else None
    key = (spec.model_dump_json(), spec.service_account_password.get_secret_value(), backup)
    if key not in _LEARNED:
        _LEARNED[key] = _registrations(spec)
    return list(_LEARNED[key])


_LEARNED: dict[tuple[str, str, str | None], tuple[Registration, ...]] = {}  # the component is pure: run it once


def _registrations(spec: ClusterSpec) -> tuple[Registration, ...]:
    def program() -> None:
        backup = spec.backup_password.get_secret_value() if spec.backup_password else None
        secrets = ProgramSecrets(
            service_account_password=pulumi.Output.secret(spec.service_account_password.get_secret_value()),
            backup_password=pulumi.Output.secret(backup) if backup is not None else None,
        )
        ClusteredMasterSecret("demo", spec, secrets)

    return tuple(r for r in run_under_mocks(program) if r.dynamic)


def provider_class(registration: Registration) -> type[EssoProvider]:
    """The provider class of a dynamic resource: the class of its pickled ``__provider``."""
    blob = base64.b64decode(registration.provider_blob)
    provider = _deserialize(lambda: dill.loads(blob))  # noqa: S301 - our own blob
    assert isinstance(provider, EssoProvider), type(provider)
    return type(provider)


def seed_order(tmp_path: Path, nodes: tuple[str, ...] = ("SSO01", "SSO02")) -> list[str]:
    """The resource names in the component's order for ``nodes`` (the seed's procedure, as the component has it)."""
    return [r.name for r in component_registrations(demo_spec(tmp_path, nodes))]


class Procedure:
    """One provider per resource of the component, configured with the spec, called in seed order."""

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self.outputs: dict[str, dict[str, Any]] = {}

    def provider(self, cls: type[EssoProvider]) -> EssoProvider:
        p = cls()
        p.use_spec(self.spec)
        return p

    def resources(self) -> list[tuple[str, type[EssoProvider], dict[str, Any]]]:
        """(name, provider class, inputs) in the component's order, as the component registers them.

        Derived, not re-typed: ``ClusteredMasterSecret`` runs under mocks with this spec, and each dynamic
        resource gives its name, its provider (the class of the pickled ``__provider``) and its inputs with the
        secrets revealed — what the engine hands to ``check()``.
        """
        return [
            (r.name, provider_class(r), {k: strip_secrets(v) for k, v in r.inputs.items() if k != "__provider"})
            for r in component_registrations(self.spec)
        ]

    def up(self) -> dict[str, dict[str, Any]]:
        """Create every resource (or, on a converged world, adopt it) in order; returns outputs by name."""
        for name, cls, inputs in self.resources():
            provider = self.provider(cls)
            checked = provider.check({}, inputs)
            assert not checked.failures, [(f.property, f.reason) for f in checked.failures]
            result = provider.create(inputs)
            assert result.outs is not None
            self.outputs[name] = dict(result.outs)
        return self.outputs
