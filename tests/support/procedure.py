"""Drive the six providers in the component's order against the simulator, as a first `up` would.

Why not the engine: these tests pin what each provider does to the world; the engine contract
(pickling, gRPC, state) has its own harness in tests/engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provider.resources.base import EssoProvider
from provider.resources.clustered_service import ClusteredServiceInputs, ClusteredSsoServiceProvider
from provider.resources.domain_groups import DomainGroupsInputs, SsoDomainGroupsProvider
from provider.resources.master_secret_restore import MasterSecretRestoreProvider, RestoreInputs
from provider.resources.node_join import NodeJoinInputs, SsoNodeJoinProvider
from provider.resources.secret_server_name import SecretServerNameInputs, SecretServerNameProvider
from provider.resources.sso_system import SsoSystemInputs, SsoSystemProvider
from provider.spec import ClusterSpec, load_spec

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
        """(name, provider class, inputs) in the component's order."""
        spec = self.spec
        service = spec.service_account_password.get_secret_value()
        backup = spec.backup_password.get_secret_value() if spec.backup_password else None
        nodes = list(spec.cluster.nodes)
        items: list[tuple[str, type[EssoProvider], dict[str, Any]]] = [
            ("sso-domain-groups", SsoDomainGroupsProvider, DomainGroupsInputs.from_spec(spec).props()),
            (
                "sso-system",
                SsoSystemProvider,
                {
                    **SsoSystemInputs.from_spec(spec).props(),
                    "serviceAccountPassword": service,
                    "backupPassword": backup,
                },
            ),
        ]
        for node in nodes:
            items.append(
                (
                    f"sso-join-{node.lower()}",
                    SsoNodeJoinProvider,
                    {**NodeJoinInputs.from_spec(spec, node).props(), "serviceAccountPassword": service},
                )
            )
        items.append(("secret-server-name", SecretServerNameProvider, SecretServerNameInputs.from_spec(spec).props()))
        items.append(
            ("clustered-sso-service", ClusteredSsoServiceProvider, ClusteredServiceInputs.from_spec(spec).props())
        )
        for node in nodes:
            items.append(
                (
                    f"master-secret-restore-{node.lower()}",
                    MasterSecretRestoreProvider,
                    {**RestoreInputs.from_spec(spec, node).props(), "backupPassword": backup},
                )
            )
        return items

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
