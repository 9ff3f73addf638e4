"""MasterSecretRestore: "restore the master secret on the second cluster node", for each other node in
sequence — role online and moved to the node, ENTSSO offline/online there, the escrowed backup copied
to a protected temporary folder, the secret restored, the folder removed, then failover proven.

Keyed on "the node holds the database's MSID", not on the backup's hash: a node that already holds
it is adopted without a restore. Every move and cycle needs ``allowDisruption`` (``Remote.run`` refuses
them otherwise); on the adopt path, which any update of a restore takes, the role is sent home only when the
stack allows it, and otherwise stays where it is (the owner node is informational, never drift).
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import pulumi
import pulumi.dynamic as dyn

from provider import contracts as c
from provider.errors import EssoError
from provider.remote.base import Remote, TransientRemoteError, node_key
from provider.resources import preflight
from provider.resources.base import Observed, Prior, Steps, TypedProvider, now_utc, registration
from provider.resources.cluster_ops import move_role
from provider.resources.failover import verify_failover
from provider.resources.inputs import EscrowInputs
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


class RestoreObserved(Observed):
    """Whether the node holds the master secret, where it was restored from, and the failover proof."""

    msid: str | None = None
    holds_msid: bool = False
    restored_from: str | None = None
    failover_verified_at: str | None = None
    verified_nodes: list[str] = []
    owner_node: str | None = None  # informational, never drift


class MasterSecretRestoreProvider(TypedProvider[RestoreInputs, RestoreObserved]):
    resource = "master-secret-restore"
    inputs_model = RestoreInputs
    observed_model = RestoreObserved
    replace_keys = ("node", "server", "database")
    record_only_keys = ("nodes", "networkName", "verifyFailover", "escrow")
    secret_keys = ("backupPassword",)
    delete_before_replace = True

    def resource_id(self, inputs: RestoreInputs) -> str:
        return inputs.node

    def converge(
        self, inputs: RestoreInputs, prior: Prior[RestoreInputs, RestoreObserved] | None, steps: Steps
    ) -> RestoreObserved:
        node, home = inputs.node, inputs.nodes[0]
        before = prior.observed if prior else RestoreObserved()
        with self.remote(inputs) as remote:
            msid = self._current_msid(remote, inputs)
            facts = inputs.node_facts(remote, node)
            restored_from = before.restored_from
            restored = msid.lower() not in {m.lower() for m in facts.ssoss_msids}
            if restored:
                restored_from = self._restore(remote, inputs, msid, steps)
            else:
                steps.add(node, c.RESTORE_MASTER_SECRET.name, False, "the node already holds the MSID")
            verified = list(before.verified_nodes)
            verified_at = before.failover_verified_at
            owner: str | None = home
            # The proof moves the role: it runs after a restore, not when adopting a converged node.
            if inputs.verify_failover and restored:
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
                owner = self._send_role_home(remote, inputs, steps)
            return RestoreObserved(
                msid=msid,
                holds_msid=True,
                restored_from=restored_from,
                failover_verified_at=verified_at,
                verified_nodes=verified,
                owner_node=owner,
            )

    @staticmethod
    def _send_role_home(remote: Remote, inputs: RestoreInputs, steps: Steps) -> str | None:
        """Move the role back to nodes[0] when the stack allows disruption; returns where the role is."""
        home = inputs.nodes[0]
        cluster = preflight.cluster_facts(remote, inputs.nodes, inputs.role)
        owner = cluster.role.owner_node if cluster.role else None
        if owner is None or node_key(owner) == node_key(home):
            return home if owner is not None else None
        if not remote.policy.allow_disruption:
            steps.add(home, c.MOVE_SSO_ROLE.name, False, "the role stays where it is: moving it needs allowDisruption")
            return owner
        move_role(remote, role=inputs.role, node=home, steps=steps)
        return home

    def _facts_or_none(self, remote: Remote, inputs: RestoreInputs, node: str) -> c.NodeFacts | None:
        """A node's facts, or None when it cannot be reached (a lost node is simply not a holder)."""
        try:
            return inputs.node_facts(remote, node)
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
        for which this stack's escrow holds sso-system's authenticated record (security review M2).
        """
        others = [n for n in inputs.nodes if n.lower() != inputs.node.lower()]
        database = preflight.database_facts(remote, [*others, inputs.node], inputs.server, inputs.database)
        if not database.exists:
            raise EssoError("ESSO-025", "the SSO database does not exist.", node=inputs.node, step="restore")
        if database.msid:
            return database.msid
        escrow = inputs.escrow_store(simulator=self.spec.target == "simulator")
        password = self.backup_password()
        for other in [*others, inputs.node]:  # the node itself may hold it already (the creator does)
            facts = self._facts_or_none(remote, inputs, other)
            for candidate in facts.ssoss_msids if facts else []:
                with contextlib.suppress(EssoError, ValueError):
                    escrow.recorded(candidate, password)
                    return candidate
        raise EssoError(
            "ESSO-025",
            f"no node among {', '.join([*others, inputs.node])} holds a master secret this stack's escrow records a "
            "backup of.",
            node=inputs.node,
            step="restore",
        )

    def _restore(self, remote: Remote, inputs: RestoreInputs, msid: str, steps: Steps) -> str:
        node = inputs.node
        escrow = inputs.escrow_store(simulator=self.spec.target == "simulator")
        password = self.backup_password()
        try:
            # exactly the backup sso-system recorded (SHA-256, and on S3 the version), in this stack's namespace
            recorded = escrow.recorded(msid, password)
            data = escrow.fetch(msid, recorded.sha256, recorded.location)  # verifies the SHA-256
        except EssoError as exc:
            raise EssoError(exc.code, exc.detail, node=node, step="restore") from None
        except ValueError as exc:  # an MSID a node reported that is no GUID never becomes an escrow path
            raise EssoError("ESSO-025", f"{exc}: nothing was restored.", node=node, step="restore") from None
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
        return recorded.location

    def observe(self, inputs: RestoreInputs, recorded: RestoreObserved) -> RestoreObserved | None:
        with self.remote(inputs) as remote:
            facts = inputs.node_facts(remote, inputs.node)
        msid = recorded.msid or ""
        holds = bool(msid) and msid.lower() in {m.lower() for m in facts.ssoss_msids}
        return recorded.model_copy(update={"holds_msid": holds})

    def drift(self, observed: RestoreObserved, inputs: RestoreInputs) -> list[str]:
        return [] if observed.holds_msid else ["holdsMsid"]

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
