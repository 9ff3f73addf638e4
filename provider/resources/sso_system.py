"""SsoSystem: seed steps 5-12 on the first node — a new SSO system, its database, the master secret and
its backup, which is fetched and kept in escrow — or, with ``existingSystem``, the adoption of an SSO system
that already exists (Microsoft's "How to Move the Master Secret Server", biztalk-docs
biztalk/core/how-to-move-the-master-secret-server.md, section "To move the master secret from one server to a
Windows Server Cluster"): nothing is created; its master secret is backed up from the current master secret
server (or taken from the operator's backup) and escrowed, and the joins and restores that follow move it.

Identity is (SQL server, database): a new database is a new SSO system, so those two replace. The node
that created the system is recorded and never diffed: losing node 1 means a join and a restore from
escrow, not a new system. Protection is enforced here (ESSO-020) so that a preview already refuses.

This module sequences; the jobs live beside it (issue 10): ``sso_models`` (inputs and observed state),
``sso_install`` (Install-SsoSystem and which node serves the secret), ``sso_escrow`` (backup, escrow, read-back and
removal of the file from the node, issue 13 M4), ``sso_adoption`` (``existingSystem``) and ``rotation``
(``sso.masterSecretRotation``).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi.dynamic as dyn

from provider import contracts
from provider.errors import EssoError
from provider.escrow import same_msid
from provider.resources import preflight, rotation, sso_adoption, sso_escrow, sso_install
from provider.resources.base import Prior, Steps, TypedProvider, fingerprint, fingerprint_matches, registration
from provider.resources.inputs import EscrowInputs
from provider.resources.sso_models import SsoSystemInputs, SsoSystemObserved

__all__ = ["EscrowInputs", "SsoSystem", "SsoSystemInputs", "SsoSystemObserved", "SsoSystemProvider"]


class SsoSystemProvider(TypedProvider[SsoSystemInputs, SsoSystemObserved]):
    resource = "sso-system"
    inputs_model = SsoSystemInputs
    observed_model = SsoSystemObserved
    replace_keys = ("server", "database")
    recorded_once_keys = ("node",)
    # existingBackupFile is not record-only: a corrected backup is read again (sso_adoption.retake_provided_backup)
    record_only_keys = ("nodes", "role", "networkName", "protect", "onDestroy", "existingServer")
    secret_keys = ("serviceAccountPassword", "backupPassword")
    stable_outputs = ("createdBy",)  # recorded at creation; losing the creator never rewrites it
    extra_secret_outputs = ("backupInUseFingerprint",)  # the fingerprint of the password the escrowed backup needs
    delete_before_replace = True
    _refuse_existing_database = staticmethod(sso_install.refuse_existing_database)  # ESSO-090 before a create

    def resource_id(self, inputs: SsoSystemInputs) -> str:
        return f"{inputs.server}/{inputs.database}"

    def guard_replacement(self, olds: dict[str, Any], news: dict[str, Any], replaces: list[str]) -> None:
        what = ", ".join(replaces)
        if olds.get("protect", True) or news.get("protect", True):
            raise EssoError(
                "ESSO-020",
                f"changing {what} means a new SSO system (old: {olds.get('server')}/{olds.get('database')}, "
                f"new: {news.get('server')}/{news.get('database')}).",
                step="diff",
            )
        if getattr(self, "_spec", None) is not None:
            self.require_disruption(f"replace the SSO system ({what}), which reconfigures every node", None)

    def converge(
        self, inputs: SsoSystemInputs, prior: Prior[SsoSystemInputs, SsoSystemObserved] | None, steps: Steps
    ) -> SsoSystemObserved:
        if prior is not None and rotation.rotation_asked(inputs, prior):
            return rotation.rotate(self, inputs, prior, steps)
        if inputs.adopting and (prior is None or sso_adoption.retake_provided_backup(self, inputs, prior)):
            return sso_adoption.adopt(self, inputs, steps)._rotated(inputs, prior)
        recorded = prior.inputs.node if prior else inputs.node
        with self.remote(inputs, recorded) as remote:
            verified = inputs.preflight(remote)
            steps.add(recorded, "preflight", False)
            password = self.backup_password()
            escrow = inputs.escrow_store(simulator=self.spec.target == "simulator")
            serving = recorded if prior is None else sso_install.serving_node(remote, inputs, recorded)
            if prior is None:
                self._refuse_existing_database(remote, inputs, verified.nodes.get(recorded), recorded)
            if serving.lower() == recorded.lower() and not (prior and prior.observed.adopted_from):
                msid, backup_file, written = sso_install.install(
                    remote,
                    inputs,
                    recorded,
                    password,
                    self.service_account_password(),
                    self.spec.transport.configuration_timeout_minutes,
                    steps,
                    verified,
                )
            else:
                # The creator is lost, or the system was adopted (no node created it): the system lives on in
                # the database and on the nodes that hold its secret.
                escrowed = prior.observed.escrowed_msid if prior else None
                msid, backup_file = sso_install.msid_on(remote, inputs, serving, escrowed), inputs.backup_path
                written = False
                why = "adopted system" if prior and prior.observed.adopted_from else f"{recorded} is unreachable"
                steps.add(serving, "serve-from", False, f"{why}: served by a node that holds the master secret")
            in_use = prior.observed.backup_in_use_fingerprint if prior else None
            rebackup = prior is not None and not fingerprint_matches(password.get_secret_value(), in_use)
            # Only the backup state recorded is reused (M1), never whatever the escrow holds for the MSID.
            record = None
            if prior is None:  # a create over a system this stack built: the escrow's record, not a node's file
                record = sso_escrow.recorded_backup(escrow, msid, password)
            elif not rebackup and same_msid(prior.observed.escrowed_msid, msid) and prior.observed.backup_sha256:
                record = escrow.find(msid, prior.observed.backup_sha256, prior.observed.escrow_location)
            if record is None:
                if not written:  # else Configuration.exe wrote it moments ago, with this password
                    sso_escrow.take_backup(
                        remote, serving, backup_file, password, inputs.backup_reminder, overwrite=rebackup, steps=steps
                    )
                # adopts only the bytes just taken from the node; the file leaves the node once read back (M4)
                record = sso_escrow.escrow_from_node(
                    remote, escrow, serving, backup_file, msid, steps, password=password
                )
                in_use = fingerprint(password.get_secret_value())
            else:
                escrow.record_in_use(record, password)  # what restores copy: exactly this backup (M1)
                # the sweep: a file a run stopped before removing, or one Install-SsoSystem wrote again (M4)
                sso_escrow.clear_from_node(remote, escrow, record, serving, backup_file, steps)
                in_use = in_use or fingerprint(password.get_secret_value())
            created_by = (prior.observed.created_by if prior else None) or recorded
            adopted_from = prior.observed.adopted_from if prior else None
            observed = SsoSystemObserved.escrowed(msid, record, in_use, created_by, adopted_from=adopted_from)
            return observed._rotated(inputs, prior)

    def observe(self, inputs: SsoSystemInputs, recorded: SsoSystemObserved) -> SsoSystemObserved | None:
        order = [inputs.node, *[n for n in inputs.nodes if n != inputs.node]]
        with self.remote(inputs) as remote:
            facts = preflight.database_facts(remote, order, inputs.server, inputs.database)
        if not facts.exists:
            return None
        update: dict[str, Any] = {"database_exists": True}
        if facts.msid:  # a new system records no MSID in the database until something is encrypted
            update["msid"] = facts.msid
        # A backup password rotated where the stack cannot see it (Secrets Manager) leaves the escrowed
        # backup opening only with the old one: refresh notices, and the next up takes a new backup.
        in_use = recorded.backup_in_use_fingerprint
        if in_use:
            update["backup_password_current"] = fingerprint_matches(self.backup_password().get_secret_value(), in_use)
        # The escrow must still record (for restores) the backup state recorded; else up records it again.
        if recorded.backup_sha256 and recorded.escrowed_msid:
            escrow = inputs.escrow_store(simulator=self.spec.target == "simulator")
            try:
                kept = escrow.recorded(recorded.escrowed_msid, self.backup_password())
                update["escrow_recorded"] = kept.sha256 == recorded.backup_sha256
            except EssoError:
                update["escrow_recorded"] = False
        return recorded.model_copy(update=update)

    def drift(self, observed: SsoSystemObserved, inputs: SsoSystemInputs) -> list[str]:
        found = []
        if observed.msid and observed.msid != observed.escrowed_msid:
            found.append("escrowedMsid")
        if observed.backup_password_current is False:
            found.append("backupPasswordCurrent")
        if observed.escrow_recorded is False:
            found.append("escrowRecorded")
        return found

    def remove(self, props: dict[str, Any], steps: Steps) -> None:
        inputs = self.stored_inputs(props)
        node = inputs.node
        if props.get("adoptedFrom"):
            steps.add(
                node,
                "keep-sso-system",
                False,
                "adopted: the SSO system existed before this stack; its database, master secret and escrow are kept",
            )
            return
        if inputs.protect:
            steps.add(
                node,
                "keep-sso-system",
                False,
                "protected: the SSO system, its database, the master secret and the escrow are kept",
            )
            return
        with self.remote(inputs) as remote:
            unconfigured = remote.run(
                node,
                contracts.REMOVE_SSO_NODE_CONFIGURATION,
                contracts.RemoveNodeConfigParams(server=inputs.server, database=inputs.database),
            )
            steps.add(node, contracts.REMOVE_SSO_NODE_CONFIGURATION.name, unconfigured.changed)
            if inputs.on_destroy == "remove":
                dropped = remote.run(
                    node,
                    contracts.REMOVE_SSO_DATABASE,
                    contracts.SsoDatabaseParams(server=inputs.server, database=inputs.database),
                )
                steps.add(node, contracts.REMOVE_SSO_DATABASE.name, dropped.changed)
            else:
                steps.add(node, "keep-database", False, "policy onDestroy=retain: the SSO database is kept")
        steps.add(node, "keep-escrow", False, "the escrowed master secret backup is never deleted")


class SsoSystem(dyn.Resource, module="esso", name="SsoSystem"):
    """A new SSO system created on the first node, or an existing one adopted, with its master secret escrowed."""

    msid: pulumi.Output[str]
    adoptedFrom: pulumi.Output[str]
    backupSha256: pulumi.Output[str]
    escrowLocation: pulumi.Output[str]
    createdBy: pulumi.Output[str]
    rotatedFor: pulumi.Output[str]
    rotatedAt: pulumi.Output[str]
    previousMsid: pulumi.Output[str]
    previousEscrowLocation: pulumi.Output[str]
    steps: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self,
        name: str,
        inputs: SsoSystemInputs,
        *,
        service_account_password: pulumi.Input[str],
        backup_password: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props, opts = registration(
            SsoSystemProvider,
            inputs,
            opts,
            {"serviceAccountPassword": service_account_password, "backupPassword": backup_password},
        )
        super().__init__(SsoSystemProvider(), name, props, opts)
