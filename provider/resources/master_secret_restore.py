"""MasterSecretRestore: "restore the master secret on the second cluster node", for each other node in
sequence — role online and moved to the node, ENTSSO offline/online there, the escrowed backup copied
to a protected temporary folder, the secret restored, the folder removed, then failover proven.

Keyed on "the node holds the database's MSID", not on the backup's hash: a node that already holds
it is adopted without a restore. Every move and cycle needs ``allowDisruption``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pulumi
import pulumi.dynamic as dyn

from provider import contracts as c
from provider.errors import EssoError
from provider.remote.base import Remote, TransientRemoteError
from provider.resources import preflight
from provider.resources.base import EssoProvider, Steps, now_utc, registration
from provider.resources.failover import move_role, verify_failover
from provider.resources.sso_system import EscrowInputs
from provider.spec import ClusterSpec

BACKUP_NAME = "SSOSecret.bak"


class RestoreInputs(EscrowInputs):
    node: str
    resource_name: str
    verify_failover: bool

    @classmethod
    def from_spec(cls, spec: ClusterSpec, node: str) -> RestoreInputs:
        return cls(
            **cls.cluster_fields(spec),
            **cls.escrow_fields(spec),
            node=node,
            resource_name=spec.cluster.resource_name,
            verify_failover=spec.failover.verify,
        )


class MasterSecretRestoreProvider(EssoProvider):
    resource = "master-secret-restore"
    inputs_model = RestoreInputs
    replace_keys = ("node", "server", "database")
    quiet_keys = ("nodes", "networkName", "verifyFailover", "escrow")
    secret_keys = ("backupPassword",)
    observed_keys = ("msid", "holdsMsid", "restoredFrom", "failoverVerifiedAt", "verifiedNodes", "ownerNode")
    delete_before_replace = True

    def resource_id(self, inputs: RestoreInputs) -> str:
        return inputs.node

    def converge(self, inputs: RestoreInputs, olds: dict[str, Any] | None, steps: Steps) -> dict[str, Any]:
        node, home = inputs.node, inputs.nodes[0]
        with self.remote() as remote:
            msid = self._current_msid(remote, inputs)
            facts = preflight.node_facts(
                remote, node, service_account=inputs.service_account, admin_group=inputs.qualified_admin_group
            )
            restored_from = (olds or {}).get("restoredFrom")
            restored = msid.lower() not in {m.lower() for m in facts.ssoss_msids}
            if restored:
                restored_from = self._restore(remote, inputs, msid, steps)
            else:
                steps.add(node, c.RESTORE_MASTER_SECRET.name, False, "the node already holds the MSID")
            verified: list[str] = list((olds or {}).get("verifiedNodes") or [])
            verified_at = (olds or {}).get("failoverVerifiedAt")
            # The proof moves the role: it runs after a restore, not when adopting a converged node.
            if inputs.verify_failover and restored:
                self.require_disruption("fail the role over to every node that holds the master secret", node)
                verified = verify_failover(
                    remote,
                    visit=self._holders(remote, inputs, msid),
                    home=home,
                    role=inputs.role,
                    resource=inputs.resource_name,
                    msid=msid,
                    service_account=inputs.service_account,
                    admin_group=inputs.qualified_admin_group,
                    steps=steps,
                )
                verified_at = now_utc()
            else:
                cluster = preflight.cluster_facts(remote, inputs.nodes, inputs.role)
                if cluster.role and cluster.role.owner_node.lower() != home.lower():
                    move_role(remote, role=inputs.role, node=home, steps=steps)
            return {
                "msid": msid,
                "holdsMsid": True,
                "restoredFrom": restored_from,
                "failoverVerifiedAt": verified_at,
                "verifiedNodes": verified,
                "ownerNode": home,
            }

    def _facts_or_none(self, remote: Remote, inputs: RestoreInputs, node: str) -> c.NodeFacts | None:
        """A node's facts, or None when it cannot be reached (a lost node is simply not a holder)."""
        try:
            return preflight.node_facts(
                remote, node, service_account=inputs.service_account, admin_group=inputs.qualified_admin_group
            )
        except TransientRemoteError:
            return None

    def _holders(self, remote: Remote, inputs: RestoreInputs, msid: str) -> list[str]:
        """The configured nodes, in order, that hold the MSID now (this node included): where failover is proven."""
        holders = []
        for n in inputs.nodes:
            facts = self._facts_or_none(remote, inputs, n)
            if facts is not None and msid.lower() in {m.lower() for m in facts.ssoss_msids}:
                holders.append(n)
        return holders

    def _current_msid(self, remote: Remote, inputs: RestoreInputs) -> str:
        """The master secret id to restore.

        The SSO database records an MSID only on encrypted rows, so a new system may have none yet
        ([INFERRED] from the public SSOX schema). Then the current secret is the one a node keeps in SSOSS
        and that the escrow holds a backup of.
        """
        others = [n for n in inputs.nodes if n.lower() != inputs.node.lower()]
        database = preflight.database_facts(remote, [*others, inputs.node], inputs.server, inputs.database)
        if not database.exists:
            raise EssoError("ESSO-025", "the SSO database does not exist.", node=inputs.node, step="restore")
        if database.msid:
            return database.msid
        escrow = inputs.escrow_store(simulator=self.spec.target == "simulator")
        for other in [*others, inputs.node]:  # the node itself may hold it already (the creator does)
            facts = self._facts_or_none(remote, inputs, other)
            for candidate in facts.ssoss_msids if facts else []:
                if escrow.latest(candidate) is not None:
                    return candidate
        raise EssoError(
            "ESSO-025",
            f"no node among {', '.join([*others, inputs.node])} holds a master secret the escrow has a backup of.",
            node=inputs.node,
            step="restore",
        )

    def _restore(self, remote: Remote, inputs: RestoreInputs, msid: str, steps: Steps) -> str:
        node = inputs.node
        escrow = inputs.escrow_store(simulator=self.spec.target == "simulator")
        record = escrow.latest(msid)
        if record is None:
            raise EssoError(
                "ESSO-025",
                f"the escrow ({escrow.describe()}) holds no backup for MSID {msid}.",
                node=node,
                step="restore",
            )
        data = escrow.fetch(msid, record.sha256)  # verifies the SHA-256
        password = self.backup_password()
        self.require_disruption("move the role here and take ENTSSO offline and online", node)
        move_role(remote, role=inputs.role, node=node, steps=steps)
        cycled = remote.run(node, c.RESTART_SSO_CLUSTER_RESOURCE, c.ResourceParams(resource_name=inputs.resource_name))
        steps.add(node, c.RESTART_SSO_CLUSTER_RESOURCE.name, cycled.changed)
        made = c.TempDirParams(run_id=uuid.uuid4().hex, reader=inputs.service_account)  # ENTSSO may read it (A12)
        folder = remote.run(node, c.NEW_PROTECTED_TEMP_DIR, made).after.path
        try:
            path = f"{folder}\\{BACKUP_NAME}"
            remote.send_file(node, path, data)
            steps.add(node, "copy-backup", True, "to a folder only Administrators and the service account can read")
            restored = remote.run(
                node,
                c.RESTORE_MASTER_SECRET,
                c.RestoreParams(backup_file=path, backup_password=password, expected_msid=msid),
            )
            steps.add(node, c.RESTORE_MASTER_SECRET.name, restored.changed)
        finally:
            removed = remote.run(node, c.REMOVE_PROTECTED_PATH, c.PathParams(path=folder))
            steps.add(node, c.REMOVE_PROTECTED_PATH.name, removed.changed)
        return record.location

    def observe(self, props: dict[str, Any]) -> dict[str, Any] | None:
        inputs: RestoreInputs = self.stored_inputs(props)
        with self.remote() as remote:
            facts = preflight.node_facts(
                remote, inputs.node, service_account=inputs.service_account, admin_group=inputs.qualified_admin_group
            )
        msid = str(props.get("msid") or "")
        return {"holdsMsid": bool(msid) and msid.lower() in {m.lower() for m in facts.ssoss_msids}}

    def drift(self, olds: dict[str, Any]) -> list[str]:
        return [] if olds.get("holdsMsid") else ["holdsMsid"]

    def remove(self, props: dict[str, Any], steps: Steps) -> None:
        steps.add(
            str(props.get("node", "-")),
            "keep-restored-secret",
            False,
            "the node's copy of the master secret goes with its SSO configuration (the join's delete)",
        )


class MasterSecretRestore(dyn.Resource, module="esso", name="MasterSecretRestore"):
    """The master secret restored on one other node, with failover proven."""

    holdsMsid: pulumi.Output[bool]
    failoverVerifiedAt: pulumi.Output[str]
    verifiedNodes: pulumi.Output[list[str]]
    ownerNode: pulumi.Output[str]
    steps: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self,
        name: str,
        inputs: RestoreInputs,
        *,
        backup_password: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props, opts = registration(MasterSecretRestoreProvider, inputs, opts, {"backupPassword": backup_password})
        super().__init__(MasterSecretRestoreProvider(), name, props, opts)
