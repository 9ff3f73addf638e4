"""MasterSecretRestore: "restore the master secret on the second cluster node", for each other node in
sequence — role online and moved to the node, ENTSSO offline/online there, the escrowed backup copied
to a protected temporary folder, the secret restored, the folder removed, then failover proven on that node.

Every seed step stays, in three sequential round trips per node (issue 15; was eight): Move-SsoRole -CycleResource
(steps 1-3) beside Write-FileChunk -RunId (step 4: the protected folder and the copy in one call; node-local files the
cluster never reads), then Restore-MasterSecret -RemoveCopy (steps 5-6; the copy removed in its finally,
Remove-ProtectedPath only sweeps what a failed run left), then the proof's cluster and node reads side by side
(step 7), with the next restore's database read beside them. Restores stay one node after another, as the seed does.

Keyed on "the node holds the database's MSID", not on the backup's hash: a node that already holds
it is adopted without a restore. Every move and cycle needs ``allowDisruption`` (``Remote.run`` refuses
them otherwise); on the adopt path, which any update of a restore takes, the role is sent home only when the
stack allows it, and otherwise stays where it is (the owner node is informational, never drift).

The failover proof (docs/design.md rule 10, ``failover.prove_node``) runs once per node, right after its restore where
the role already is; the role then stays for the next node's restore and goes home to nodes[0] once, after the
last (issue 15: N+1 role moves on a first build, not N²). State records what is still owed, not what the last
call changed (issue 14): ``failoverPending`` until this node's own proof has run, so a retry after a fault, a
refresh and the next ``up`` all see it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi.dynamic as dyn

from provider import contracts
from provider.errors import EssoError
from provider.escrow.base import Escrow, RecordedBackup, holds_msid, same_msid
from provider.remote.base import Remote, TransientRemoteError, node_key
from provider.resources import preflight, restore_copy
from provider.resources.base import Observed, Prior, Steps, TypedProvider, registration
from provider.resources.cluster_ops import move_role
from provider.resources.failover import Proof, prove_node
from provider.resources.inputs import EscrowInputs
from provider.spec import ClusterSpec


def _nothing() -> None:
    """A background step that was not started: waiting for it does nothing."""


def _settle(*waits: Callable[[], None]) -> None:
    """Wait for background steps while another error is on its way out: theirs would only hide it."""
    for wait in waits:
        with contextlib.suppress(Exception):
            wait()


class RestoreInputs(EscrowInputs):
    node: str
    resource_name: str
    verify_failover: bool
    # sso.masterSecretRotation: a new label updates every restore after sso-system rotated, so each node without
    # the database's new MSID gets it restored, with its proof (docs/rotation.md)
    rotation: str | None = None

    @classmethod
    def from_spec(cls, spec: ClusterSpec, node: str) -> RestoreInputs:
        return cls(
            **cls.cluster_fields(spec),
            **cls.escrow_fields(spec),
            node=node,
            resource_name=spec.cluster.resource_name,
            verify_failover=spec.failover.verify,
            rotation=spec.sso.master_secret_rotation,
        )


class RestoreObserved(Observed):
    """Whether the node holds the master secret, where it was restored from, and the failover proof."""

    msid: str | None = None
    holds_msid: bool = False
    restored_from: str | None = None  # the escrowed backup of the secret the node holds (what a restore here uses)
    failover_verified_at: str | None = None  # this node's own proof (rule 10), None while it is pending
    failover_pending: bool = False  # the proof is still owed: the next `up` runs it
    verified_nodes: list[str] = []  # the node this resource proved (kept for older readers of the output)
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
        node = inputs.node
        before = prior.observed if prior else RestoreObserved()
        with self.remote(inputs) as remote:
            sweep: Callable[[], None] = _nothing
            msid = self._current_msid(remote, inputs)
            facts = inputs.node_facts(remote, node)
            restored = not holds_msid(facts.ssoss_msids, msid)
            if restored:
                restored_from: str | None = self._restore(remote, inputs, msid, steps)
            else:
                # the same answer whether this node was restored by an earlier, interrupted attempt or not
                restored_from = before.restored_from
                escrow = inputs.escrow_store(simulator=self.spec.target == "simulator")
                with contextlib.suppress(EssoError, ValueError):
                    restored_from = self._escrow_record(escrow, msid).location
                steps.add(node, contracts.RESTORE_MASTER_SECRET.name, False, "the node already holds the MSID")
                if prior is None or self.proof_pending(before, inputs) or not same_msid(before.msid, msid):
                    # an earlier attempt may have failed after copying the backup: its folder has a known name
                    # (also after a rotation, whose restore state still names the previous MSID); swept beside
                    # the proof (node-local files, nothing the proof reads), and waited for before the call ends
                    sweep = remote.start(lambda: restore_copy.sweep(remote, inputs, msid, steps))
            verified_at = before.failover_verified_at
            verified = list(before.verified_nodes)
            pending = self.proof_owed(inputs, before, msid=msid, restored=restored, created=prior is None)
            proved = False
            prefetch = self._prefetch_database(remote, inputs) if pending else _nothing
            try:
                if pending:
                    proof = Proof(
                        nodes=inputs.nodes,
                        role=inputs.role,
                        resource=inputs.resource_name,
                        msid=msid,
                        service_account=inputs.service_account,
                        admin_group=inputs.qualified_admin_group,
                    )
                    verified_at = prove_node(remote, node, proof, steps=steps, role_here=restored)
                    proved = verified_at is not None
                    pending = not proved
                    verified = [node] if proved else []
            except BaseException:
                _settle(sweep, prefetch)  # the proof's error is the one to report
                raise
            prefetch()
            sweep()
            role_here = restored or proved
            owner = self._place_role(remote, inputs, msid, steps, role_here=role_here)
            return RestoreObserved(
                msid=msid,
                holds_msid=True,
                restored_from=restored_from,
                failover_verified_at=verified_at,
                failover_pending=pending,
                verified_nodes=verified,
                owner_node=owner,
            )

    @staticmethod
    def proof_owed(inputs: RestoreInputs, before: RestoreObserved, *, msid: str, restored: bool, created: bool) -> bool:
        """Whether this node's failover proof must run now: what the resource must still do, never what the
        last call changed (issue 14). Owed after a restore in this call, on a create (a create that failed
        left no state, so nothing says its proof ran), when state records it pending or missing, when the
        node was found without the secret, or when the proof was for another MSID."""
        if not inputs.verify_failover:
            return False
        return (
            restored
            or created
            or before.failover_pending
            or not before.holds_msid
            or not before.failover_verified_at
            or not same_msid(before.msid, msid)
        )

    def _place_role(
        self, remote: Remote, inputs: RestoreInputs, msid: str, steps: Steps, *, role_here: bool
    ) -> str | None:
        """Where the role goes after this node's restore and proof: one final move home, not one per restore.

        When this call left the role on this node and the next configured node does not hold the secret yet,
        the role stays: that node's restore moves it on anyway. Otherwise it goes home to nodes[0].
        """
        node = inputs.node
        if role_here:
            following = self._next_node(inputs)
            facts = self._facts_or_none(remote, inputs, following) if following else None
            if facts is not None and not holds_msid(facts.ssoss_msids, msid):
                steps.add(
                    node, contracts.MOVE_SSO_ROLE.name, False, f"the role stays: {following}'s restore moves it next"
                )
                return node
        return self._send_role_home(remote, inputs, steps)

    def _prefetch_database(self, remote: Remote, inputs: RestoreInputs) -> Callable[[], None]:
        """Read the database facts the next node's restore starts with beside this node's proof (issue 15: one
        round trip less per node). This restore forgot them (Restore-MasterSecret reaches SQL Server); the
        read goes into the operation's cache, and a failure here is the next restore's to report."""
        following = self._next_node(inputs)
        if following is None or remote.cache is None:
            return _nothing
        others = [n for n in inputs.nodes if node_key(n) != node_key(following)]
        read = remote.start(
            lambda: preflight.database_facts(remote, [*others, following], inputs.server, inputs.database)
        )

        def wait() -> None:
            with contextlib.suppress(EssoError):
                read()

        return wait

    @staticmethod
    def _next_node(inputs: RestoreInputs) -> str | None:
        """The configured node after this one (restores run in the configured order), or None for the last."""
        keys = [node_key(n) for n in inputs.nodes]
        here = node_key(inputs.node)
        if here not in keys:
            return None
        index = keys.index(here)
        return inputs.nodes[index + 1] if index + 1 < len(inputs.nodes) else None

    @staticmethod
    def _send_role_home(remote: Remote, inputs: RestoreInputs, steps: Steps) -> str | None:
        """Move the role back to nodes[0] when the stack allows disruption; returns where the role is."""
        home = inputs.nodes[0]
        cluster = preflight.cluster_facts(remote, inputs.nodes, inputs.role)
        owner = cluster.role.owner_node if cluster.role else None
        if owner is None or node_key(owner) == node_key(home):
            return home if owner is not None else None
        if not remote.policy.allow_disruption:
            steps.add(
                home, contracts.MOVE_SSO_ROLE.name, False, "the role stays where it is: moving it needs allowDisruption"
            )
            return owner
        move_role(remote, role=inputs.role, node=home, steps=steps)
        return home

    def _facts_or_none(self, remote: Remote, inputs: RestoreInputs, node: str) -> contracts.NodeFacts | None:
        """A node's facts, or None when it cannot be reached (a lost node holds nothing we can use)."""
        try:
            return inputs.node_facts(remote, node)
        except TransientRemoteError:
            return None

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
        for other in [*others, inputs.node]:  # the node itself may hold it already (the creator does)
            facts = self._facts_or_none(remote, inputs, other)
            for candidate in facts.ssoss_msids if facts else []:
                with contextlib.suppress(EssoError, ValueError):
                    self._escrow_record(escrow, candidate)
                    return candidate
        raise EssoError(
            "ESSO-025",
            f"no node among {', '.join([*others, inputs.node])} holds a master secret this stack's escrow records a "
            "backup of.",
            node=inputs.node,
            step="restore",
        )

    def _escrow_record(self, escrow: Escrow, msid: str) -> RecordedBackup:
        """sso-system's authenticated record of ``msid``'s backup, checked once per operation: the check derives a
        PBKDF2 key (~0.1 s, once per restore before issue 15, on the critical path), and sso-system writes the
        record before any restore of the operation runs. A failed check is not kept."""
        operation = self.operation
        if operation is None:
            return escrow.recorded(msid, self.backup_password())
        key = (f"{type(escrow).__name__} {escrow.namespace} {escrow.describe()}", msid.lower())
        found = operation.escrow_records.get(key)
        if found is None:
            found = operation.escrow_records[key] = escrow.recorded(msid, self.backup_password())
        return found

    def _restore(self, remote: Remote, inputs: RestoreInputs, msid: str, steps: Steps) -> str:
        node = inputs.node
        escrow = inputs.escrow_store(simulator=self.spec.target == "simulator")
        password = self.backup_password()
        try:
            # exactly the backup sso-system recorded (SHA-256, and on S3 the version), in this stack's namespace
            recorded = self._escrow_record(escrow, msid)
            data = escrow.fetch(msid, recorded.sha256, recorded.location)  # verifies the SHA-256
        except EssoError as exc:
            raise EssoError(exc.code, exc.detail, node=node, step="restore") from None
        except ValueError as exc:  # an MSID a node reported that is no GUID never becomes an escrow path
            raise EssoError("ESSO-025", f"{exc}: nothing was restored.", node=node, step="restore") from None
        # Seed step 4 (copy the backup to the node) runs beside steps 2-3 (move the role there, cycle ENTSSO, one
        # Move-SsoRole call): the copy is node-local files in a protected folder, which the cluster never reads,
        # and the restore (steps 5-6) waits for both. Three round trips less per node (issue 15).
        made: list[str] = []

        def stage() -> None:
            made.append(restore_copy.copy_backup(remote, inputs, msid, data))

        beside = remote.concurrency > 1  # in turn (ESSO_CONCURRENCY 1): the copy after the move, never after a failure
        staged = remote.start(stage) if beside else stage
        done = False
        try:
            try:
                move_role(remote, role=inputs.role, node=node, steps=steps, cycle=inputs.resource_name)
            except BaseException:
                if beside:
                    _settle(staged)  # the move's or the cycle's error is the one to report
                raise
            staged()
            steps.add(node, "copy-backup", True, "to a folder only Administrators and the service account can read")
            params = contracts.RestoreParams(
                backup_file=f"{made[0]}\\{restore_copy.BACKUP_NAME}",
                backup_password=password,
                expected_msid=msid,
                remove_copy=True,
            )
            restored = remote.run(node, contracts.RESTORE_MASTER_SECRET, params)
            steps.add(node, contracts.RESTORE_MASTER_SECRET.name, restored.changed)
            steps.add(node, contracts.REMOVE_PROTECTED_PATH.name, True, "the copy's folder, by Restore-MasterSecret")
            done = True
        finally:
            if not done:  # Restore-MasterSecret removes its copy in a finally; this sweeps what a failure left
                folder = made[0] if made else None
                _settle(
                    lambda: (
                        restore_copy.sweep(remote, inputs, msid, steps)
                        if folder is None
                        else restore_copy.remove_folder(remote, node, folder, steps)
                    )
                )
        return recorded.location

    def observe(self, inputs: RestoreInputs, recorded: RestoreObserved) -> RestoreObserved | None:
        """Whether the node still holds the MSID; a node found without it owes a new restore and a new proof."""
        with self.remote(inputs) as remote:
            facts = inputs.node_facts(remote, inputs.node)
        msid = recorded.msid or ""
        holds = holds_msid(facts.ssoss_msids, msid)
        update: dict[str, Any] = {"holds_msid": holds}
        if not holds:
            update.update(failover_verified_at=None, verified_nodes=[])
        observed = recorded.model_copy(update=update)
        return observed.model_copy(update={"failover_pending": self.proof_pending(observed, inputs)})

    @staticmethod
    def proof_pending(observed: RestoreObserved, inputs: RestoreInputs) -> bool:
        """A proof this resource still owes, as state shows it (an older state without the flag included)."""
        if not inputs.verify_failover:
            return False
        return observed.failover_pending or not observed.holds_msid or not observed.failover_verified_at

    def drift(self, observed: RestoreObserved, inputs: RestoreInputs) -> list[str]:
        found = [] if observed.holds_msid else ["holdsMsid"]
        if self.proof_pending(observed, inputs):
            found.append("failoverPending")
        return found

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
    failoverPending: pulumi.Output[bool]
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
