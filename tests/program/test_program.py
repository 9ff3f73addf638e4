"""The program under mocks: what it registers, in which order, with which secrets, and what it exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc
from pulumi.runtime.settings import get_root_resource

from tests.support.mocks import RecordingMonitor
from tests.support.procedure import component_registrations, demo_spec, seed_order

SECRETS = {"serviceAccountPassword": "Svc-Program-Sentinel-1!", "backupPassword": "Bak-Program-Sentinel-2!"}

EXPORTS = {
    "secretServerName",
    "ssoDatabaseServer",
    "ssoDatabaseName",
    "ssoAdminGroup",
    "ssoAffiliateAdminGroup",
    "entssoAccount",
    "clusterRole",
    "ssoClusterResource",
    "nodes",
    "firstNode",
    "ownerNodeLastSeen",
    "masterSecretId",
    "backupSha256",
    "escrowLocation",
    "failoverVerifiedAt",
}

SEED_ORDER = seed_order(Path("/learning"))  # the component's order, derived (tests/support/procedure.py)

# The seed's procedure (Microsoft's "clustering the master secret server"), one kind per step; ``*`` is one
# resource per node, in the stack's node order. The one place the order is written down as a rule.
SEED_PROCEDURE = (
    "SsoDomainGroups",
    "SsoSystem",
    "SsoNodeJoin*",
    "SecretServerName",
    "ClusteredSsoService",
    "MasterSecretRestore*",
)


def _deps(monitor: RecordingMonitor, name: str) -> set[str]:
    """Names of the resources a registration depends on (URNs end with ::<name>)."""
    return {urn.rsplit("::", 1)[-1] for urn in monitor.requests[name].dependencies}


@pulumi.runtime.test
def test_registers_the_seed_order_with_secrets_and_exports(program: Any, tmp_path: Path) -> Any:
    mocks, monitor = program(SECRETS)
    outputs = get_root_resource().outputs  # type: ignore[union-attr]
    assert set(outputs) >= EXPORTS

    def check(values: list[Any]) -> None:
        dynamic = [n for n in monitor.order if n in SEED_ORDER]
        assert dynamic == SEED_ORDER
        assert "sso-domain-groups" in _deps(monitor, "sso-system")
        assert "sso-system" in _deps(monitor, "sso-join-sso02")
        assert {"sso-system", "sso-join-sso02"} <= _deps(monitor, "secret-server-name")
        assert "secret-server-name" in _deps(monitor, "clustered-sso-service")
        assert {"clustered-sso-service", "sso-join-sso02"} <= _deps(monitor, "master-secret-restore-sso02")
        # passwords arrive as secrets, and their fingerprints are requested as secret outputs
        system_inputs = mocks.inputs["sso-system"]
        for key in ("serviceAccountPassword", "backupPassword"):
            assert rpc.is_rpc_secret(system_inputs[key]), key
        assert rpc.is_rpc_secret(mocks.inputs["sso-join-sso02"]["serviceAccountPassword"])
        assert set(monitor.requests["sso-system"].additionalSecretOutputs) == {
            "serviceAccountPasswordFingerprint",
            "backupPasswordFingerprint",
            "backupInUseFingerprint",
        }
        assert list(monitor.requests["master-secret-restore-sso02"].additionalSecretOutputs) == [
            "backupPasswordFingerprint"
        ]
        # component children are parented to the component
        assert all(monitor.requests[n].parent.endswith("::demo") for n in SEED_ORDER)
        exported = dict(zip(sorted(EXPORTS), values, strict=True))
        assert exported["secretServerName"] == "BIZTALKSSO"
        assert exported["nodes"] == ["SSO01", "SSO02"]
        assert exported["ownerNodeLastSeen"] == "SSO01"
        assert len(exported["backupSha256"]) == 64
        assert exported["failoverVerifiedAt"]
        for value in values:
            assert SECRETS["serviceAccountPassword"] not in str(value)

    return pulumi.Output.all(*[outputs[k] for k in sorted(EXPORTS)]).apply(check)


@pytest.mark.parametrize("nodes", [("SSO01", "SSO02"), ("SSO01", "SSO02", "SSO03"), ("SSO07", "SSO03")])
def test_the_component_registers_the_seeds_procedure_in_order(tmp_path: Path, nodes: tuple[str, ...]) -> None:
    registered = [(r.type.rsplit(":", 1)[-1], r.name) for r in component_registrations(demo_spec(tmp_path, nodes))]
    expected: list[str] = []
    for kind in SEED_PROCEDURE:
        expected += [kind.rstrip("*")] * (len(nodes) if kind.endswith("*") else 1)
    assert [kind for kind, _ in registered] == expected
    per_node = [name for kind, name in registered if kind in ("SsoNodeJoin", "MasterSecretRestore")]
    assert per_node == [f"sso-join-{n.lower()}" for n in nodes] + [f"master-secret-restore-{n.lower()}" for n in nodes]


def test_the_cluster_is_proven_only_when_every_node_is() -> None:
    """The stack output failoverVerifiedAt: the oldest node's proof, and nothing while any node's proof is owed."""
    from components.clustered_master_secret import cluster_failover_proof

    old, new = "2026-11-01T10:00:00+00:00", "2026-11-30T09:00:00+00:00"
    assert cluster_failover_proof([new, old], [False, False]) == old
    assert cluster_failover_proof([new, old], [False, True]) is None  # a proof still owed
    assert cluster_failover_proof([new, None], [False, False]) is None  # a node never proven
    assert cluster_failover_proof([], []) is None
