"""SsoSystem: seed steps 5-12 on the first node — a new SSO system, its database, the master secret and
its backup, which is fetched and kept in escrow — or, with ``existingSystem``, the adoption of an SSO system
that already exists (Microsoft's "How to Move the Master Secret Server", biztalk-docs
biztalk/core/how-to-move-the-master-secret-server.md, section "To move the master secret from one server to a
Windows Server Cluster"): nothing is created; its master secret is backed up from the current master secret
server (or taken from the operator's backup) and escrowed, and the joins and restores that follow move it.

Identity is (SQL server, database): a new database is a new SSO system, so those two replace. The node
that created the system is recorded and never diffed: losing node 1 means a join and a restore from
escrow, not a new system. Protection is enforced here (ESSO-020) so that a preview already refuses.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import pulumi
import pulumi.dynamic as dyn
from pydantic import SecretStr

from provider import contracts, ssoxml
from provider.errors import EssoError
from provider.escrow import same_msid, sha256_hex
from provider.remote.base import Remote, TransientRemoteError
from provider.resources import adopt, preflight, rotation
from provider.resources.base import (
    Observed,
    Prior,
    Steps,
    TypedProvider,
    fingerprint,
    fingerprint_matches,
    registration,
)
from provider.resources.inputs import EscrowInputs
from provider.spec import ClusterSpec

__all__ = ["EscrowInputs", "SsoSystem", "SsoSystemInputs", "SsoSystemObserved", "SsoSystemProvider"]


class SsoSystemInputs(EscrowInputs):
    node: str  # the creating node (nodes[0] at creation), never diffed
    affiliate_admin_group: str
    backup_path: str
    backup_reminder: str
    protect: bool
    on_destroy: Literal["retain", "remove"]
    service_account_password: str | None = None
    existing_server: str | None = None  # existingSystem.masterSecretServer: back the secret up there
    existing_backup_file: str | None = None  # existingSystem.backupFile: the operator's backup (server gone)
    rotation: str | None = None  # sso.masterSecretRotation: a new label generates a new master secret (rotation.py)

    @property
    def adopting(self) -> bool:
        """The SSO system already exists: it is adopted, never created."""
        return self.existing_server is not None or self.existing_backup_file is not None

    @classmethod
    def from_spec(cls, spec: ClusterSpec) -> SsoSystemInputs:
        return cls(
            existing_server=spec.existing_system.master_secret_server,
            existing_backup_file=spec.existing_system.backup_file,
            **cls.cluster_fields(spec),
            **cls.escrow_fields(spec),
            node=spec.cluster.nodes[0],
            affiliate_admin_group=spec.sso.affiliate_admin_group,
            backup_path=spec.backup.path,
            backup_reminder=spec.backup.reminder,
            protect=spec.policy.protect_sso_system,
            on_destroy=spec.policy.on_destroy,
            rotation=spec.sso.master_secret_rotation,
        )


class SsoSystemObserved(Observed):
    """The SSO system's master secret, its escrowed backup, and whether that backup opens with today's password."""

    msid: str | None = None
    escrowed_msid: str | None = None
    backup_sha256: str | None = None
    escrow_location: str | None = None
    created_by: str | None = None
    database_exists: bool = False
    backup_in_use_fingerprint: str | None = None  # the fingerprint of the password the escrowed backup needs
    backup_password_current: bool | None = None  # None: not checked yet (no backup in use recorded)
    escrow_recorded: bool | None = None  # the escrow's record (what restores copy) names this backup; None: unknown
    adopted_from: str | None = None  # server:<name> or backup:<file> when an existing system was adopted
    rotated_for: str | None = None  # the rotation label the current master secret answers to
    rotated_at: str | None = None  # when the last rotation finished (UTC)
    previous_msid: str | None = None  # the master secret the last rotation replaced
    previous_escrow_location: str | None = None  # where its backup stays in the escrow (the way back)

    def _rotated(
        self, inputs: SsoSystemInputs, prior: Prior[SsoSystemInputs, SsoSystemObserved] | None
    ) -> SsoSystemObserved:
        """The rotation record carried over: a new system answers to the label it was created with (nothing
        rotates then), a later update keeps what the last rotation recorded."""
        if prior is None:
            return self.model_copy(update={"rotated_for": inputs.rotation})
        kept = prior.observed
        return self.model_copy(
            update={
                "rotated_for": kept.rotated_for,
                "rotated_at": kept.rotated_at,
                "previous_msid": kept.previous_msid,
                "previous_escrow_location": kept.previous_escrow_location,
            }
        )


class SsoSystemProvider(TypedProvider[SsoSystemInputs, SsoSystemObserved]):
    resource = "sso-system"
    inputs_model = SsoSystemInputs
    observed_model = SsoSystemObserved
    replace_keys = ("server", "database")
    recorded_once_keys = ("node",)
    # existingBackupFile is not record-only: a corrected backup must be read again (``_retake_provided_backup``)
    record_only_keys = ("nodes", "role", "networkName", "protect", "onDestroy", "existingServer")
    secret_keys = ("serviceAccountPassword", "backupPassword")
    stable_outputs = ("createdBy",)  # recorded at creation; losing the creator never rewrites it
    extra_secret_outputs = ("backupInUseFingerprint",)  # the fingerprint of the password the escrowed backup needs
    delete_before_replace = True

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
        if inputs.adopting and (prior is None or self._retake_provided_backup(inputs, prior)):
            return self._adopt(inputs, steps)._rotated(inputs, prior)
        recorded = prior.inputs.node if prior else inputs.node
        with self.remote(inputs, recorded) as remote:
            verified = inputs.preflight(remote)
            steps.add(recorded, "preflight", False)
            password = self.backup_password()
            escrow = inputs.escrow_store(simulator=self.spec.target == "simulator")
            serving = recorded if prior is None else self._serving_node(remote, inputs, recorded)
            if prior is None:
                self._refuse_existing_database(remote, inputs, verified.nodes.get(recorded), recorded)
            if serving.lower() == recorded.lower() and not (prior and prior.observed.adopted_from):
                msid, backup_file = self._install(remote, inputs, recorded, password, steps, verified)
            else:
                # The creator is lost, or the system was adopted (no node created it): the system lives on in
                # the database and on the nodes that hold its secret.
                msid, backup_file = (
                    self._msid_on(remote, inputs, serving, prior.observed.escrowed_msid if prior else None),
                    inputs.backup_path,
                )
                why = "adopted system" if prior and prior.observed.adopted_from else f"{recorded} is unreachable"
                steps.add(serving, "serve-from", False, f"{why}: served by a node that holds the master secret")
            in_use = prior.observed.backup_in_use_fingerprint if prior else None
            rebackup = prior is not None and not fingerprint_matches(password.get_secret_value(), in_use)
            # Only the backup state recorded is reused (M1), never whatever the escrow holds for the MSID.
            record = None
            if (
                prior is not None
                and not rebackup
                and same_msid(prior.observed.escrowed_msid, msid)
                and prior.observed.backup_sha256
            ):
                record = escrow.find(msid, prior.observed.backup_sha256, prior.observed.escrow_location)
            if record is None:
                backup = remote.run(
                    serving,
                    contracts.BACKUP_MASTER_SECRET,
                    contracts.BackupParams(
                        backup_file=backup_file,
                        backup_password=password,
                        reminder=inputs.backup_reminder,
                        overwrite=rebackup,
                    ),
                )
                steps.add(serving, contracts.BACKUP_MASTER_SECRET.name, backup.changed)
                data = remote.fetch_file(serving, backup_file)
                steps.add(serving, "fetch-backup", False)
                kept = escrow.find(msid, sha256_hex(data))  # adopts only the bytes just taken from the node
                record = kept if kept is not None else escrow.store(msid, data)
                steps.add(serving, "escrow-backup", kept is None, escrow.describe())
                in_use = fingerprint(password.get_secret_value())
            elif not in_use:
                in_use = fingerprint(password.get_secret_value())
            escrow.record_in_use(record, password)  # what restores copy: exactly this backup (M1)
            return SsoSystemObserved(
                msid=msid,
                escrowed_msid=record.msid,
                backup_sha256=record.sha256,
                escrow_location=record.location,
                created_by=(prior.observed.created_by if prior else None) or recorded,
                database_exists=True,
                backup_in_use_fingerprint=in_use,
                backup_password_current=True,
                escrow_recorded=True,
                adopted_from=prior.observed.adopted_from if prior else None,
            )._rotated(inputs, prior)

    def _retake_provided_backup(
        self, inputs: SsoSystemInputs, prior: Prior[SsoSystemInputs, SsoSystemObserved]
    ) -> bool:
        """An operator's backup can be proven only by the first restore (Windows offers no way to open it
        elsewhere): while no cluster node holds the master secret, an update takes the provided file and password
        again, so a corrected backupFile or backupPassword replaces the escrowed backup the restores use."""
        if not inputs.existing_backup_file or not (prior.observed.adopted_from or "").startswith("backup:"):
            return False
        msid = (prior.observed.msid or "").lower()
        with self.remote(inputs) as remote:
            for node in inputs.nodes:
                try:
                    held = inputs.node_facts(remote, node).ssoss_msids
                except TransientRemoteError:
                    continue
                if msid in {m.lower() for m in held}:
                    return False
        return True

    @staticmethod
    def _refuse_existing_database(
        remote: Remote, inputs: SsoSystemInputs, facts: contracts.NodeFacts | None, node: str
    ) -> None:
        """ESSO-090 before Create when the database already exists and the creating node does not hold its
        secret: that system must be adopted (existingSystem), never created again."""
        config = facts.sso_config if facts else None
        same = config is not None and (config.server.lower(), config.database.lower()) == (
            inputs.server.lower(),
            inputs.database.lower(),
        )
        if same and facts is not None and facts.ssoss_msids:
            return  # the creator of this system, on a run after a partial create: Install adopts it
        database = preflight.database_facts(remote, [node], inputs.server, inputs.database)
        if database.exists:
            raise EssoError(
                "ESSO-090",
                f"the SSO database {inputs.server}/{inputs.database} already exists (secret server "
                f"{database.secret_server}) and existingSystem is not set; nothing was changed.",
                node=node,
                step="adopt-or-create",
            )

    def _adopt(self, inputs: SsoSystemInputs, steps: Steps) -> SsoSystemObserved:
        """Every check before any change, then the existing master secret backed up (or taken from the
        operator's file), checked against the database's MSID, and escrowed. The joins, the secret server name,
        the clustered resource and the restores that follow are the component's other resources."""
        home = inputs.nodes[0]
        server, backup_file = inputs.existing_server, inputs.existing_backup_file
        source = f"server:{server}" if server else f"backup:{backup_file}"
        # The current master secret server is reached only because the live stack configuration names it
        # (existingSystem.masterSecretServer), never because a node's reply did (CallPolicy, ESSO-070).
        configured = self.spec.existing_system.master_secret_server
        hosts = [configured] if configured else []
        with self.remote(inputs, *hosts) as remote:
            verified = inputs.preflight(remote)
            steps.add(home, "preflight", False)
            database = preflight.database_facts(remote, inputs.nodes, inputs.server, inputs.database)
            if not database.exists:
                raise EssoError(
                    "ESSO-090",
                    f"existingSystem is set but there is no SSO database {inputs.server}/{inputs.database}; "
                    "nothing was changed.",
                    step="adopt",
                )
            adopt.check_groups(inputs, database)
            for node, facts in verified.nodes.items():
                adopt.check_cluster_node(inputs, node, facts)
            password = self.backup_password()
            escrow = inputs.escrow_store(simulator=self.spec.target == "simulator")
            if inputs.existing_server:
                msid, data = self._backup_from_server(remote, inputs, inputs.existing_server, database, password, steps)
            else:
                msid, data = self._provided_backup(inputs, database)
                steps.add(home, "read-provided-backup", False, "the operator's backup, on the machine that runs Pulumi")
            kept = escrow.find(msid, sha256_hex(data))  # the same bytes escrowed by an earlier, interrupted run
            record = kept if kept is not None else escrow.store(msid, data)
            steps.add(home, "escrow-backup", kept is None, escrow.describe())
            escrow.record_in_use(record, password)  # what restores copy: exactly this backup (M1)
            return SsoSystemObserved(
                msid=msid,
                escrowed_msid=record.msid,
                backup_sha256=record.sha256,
                escrow_location=record.location,
                created_by=inputs.existing_server,
                database_exists=True,
                backup_in_use_fingerprint=fingerprint(password.get_secret_value()),
                backup_password_current=True,
                escrow_recorded=True,
                adopted_from=source,
            )

    @staticmethod
    def _backup_from_server(
        remote: Remote,
        inputs: SsoSystemInputs,
        server: str,
        database: contracts.SsoDatabaseFacts,
        password: SecretStr,
        steps: Steps,
    ) -> tuple[str, bytes]:
        """Back the master secret up on the current master secret server (the move doc's step "back up the
        existing master secret") once it is proven to be the server the database names, and fetch the file."""
        try:
            facts = inputs.node_facts(remote, server)
        except TransientRemoteError as exc:
            raise EssoError(
                "ESSO-092",
                f"the current master secret server {server} cannot be reached over WinRM ({exc.detail}); nothing "
                "was changed.",
                node=server,
                step="adopt",
            ) from None
        msid = adopt.check_current_server(inputs, server, facts, database)
        steps.add(server, "verify-current-server", False, f"the database's secret server, holding MSID {msid}")
        backup = remote.run(
            server,
            contracts.BACKUP_MASTER_SECRET,
            contracts.BackupParams(
                backup_file=inputs.backup_path,
                backup_password=password,
                reminder=inputs.backup_reminder,
                overwrite=False,
            ),
        )
        steps.add(server, contracts.BACKUP_MASTER_SECRET.name, backup.changed)
        if backup.after.msid.lower() != msid.lower():
            raise EssoError(
                "ESSO-092",
                f"the backup taken on {server} holds MSID {backup.after.msid}, the database's is {msid}.",
                node=server,
                step=contracts.BACKUP_MASTER_SECRET.name,
            )
        data = remote.fetch_file(server, inputs.backup_path)
        steps.add(server, "fetch-backup", False)
        return msid, data

    def _provided_backup(self, inputs: SsoSystemInputs, database: contracts.SsoDatabaseFacts) -> tuple[str, bytes]:
        """The operator's backup file, read before any change; the database must report the MSID it belongs to."""
        assert inputs.existing_backup_file is not None
        path = Path(inputs.existing_backup_file)
        if not path.is_absolute():
            path = Path(os.getcwd()) / path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise EssoError(
                "ESSO-093",
                f"existingSystem.backupFile {inputs.existing_backup_file} cannot be read ({exc.strerror}); nothing "
                "was changed.",
                step="adopt",
            ) from None
        if not data:
            raise EssoError("ESSO-093", f"{inputs.existing_backup_file} is empty; nothing was changed.", step="adopt")
        if not database.msid:
            raise EssoError(
                "ESSO-093",
                "the SSO database reports no master secret id (it holds no encrypted data), so the provided backup "
                "cannot be matched to it; nothing was changed.",
                step="adopt",
            )
        return database.msid, data

    def _install(
        self,
        remote: Remote,
        inputs: SsoSystemInputs,
        node: str,
        password: SecretStr,
        steps: Steps,
        verified: preflight.Verified,
    ) -> tuple[str, str]:
        """Seed steps 5-12 on the creating node (adopts a node already configured for this system)."""
        inputs.fresh_token_facts(remote, node, verified)
        xml = ssoxml.build_create_xml(
            server=inputs.server,
            database=inputs.database,
            service_account=inputs.service_account,
            admin_group=inputs.qualified_admin_group,
            affiliate_admin_group=f"{inputs.domain}\\{inputs.affiliate_admin_group}",
            backup_file=inputs.backup_path,
            reminder=inputs.backup_reminder,
        )
        installed = remote.run(
            node,
            contracts.INSTALL_SSO_SYSTEM,
            contracts.InstallSsoParams(
                config_xml=xml,
                server=inputs.server,
                database=inputs.database,
                service_account_password=self.service_account_password(),
                backup_password=password,
                timeout_minutes=self.spec.transport.configuration_timeout_minutes,
            ),
        )
        steps.add(node, contracts.INSTALL_SSO_SYSTEM.name, installed.changed)
        if not installed.msid:
            # Install-SsoSystem adopts a node already configured for this database; one joined by hand without
            # the secret reports no MSID. That system exists: it is adopted (existingSystem), never created.
            raise EssoError(
                "ESSO-090",
                f"{node} is configured for {inputs.server}/{inputs.database} but holds no master secret: the SSO "
                "system already exists and existingSystem is not set.",
                node=node,
                step=contracts.INSTALL_SSO_SYSTEM.name,
            )
        return installed.msid, installed.backup_file

    @staticmethod
    def _serving_node(remote: Remote, inputs: SsoSystemInputs, recorded: str) -> str:
        """The reachable node configured for this system that holds a master secret: the one running the clustered
        ENTSSO (Backup-MasterSecret runs only there, ESSO-029), else the creator, else any other."""
        holders: list[str] = []
        for node in dict.fromkeys([recorded, *inputs.nodes]):
            try:
                facts = inputs.node_facts(remote, node)
            except TransientRemoteError:
                continue
            config = facts.sso_config
            same = config is not None and (config.server.lower(), config.database.lower()) == (
                inputs.server.lower(),
                inputs.database.lower(),
            )
            if same and facts.ssoss_msids:
                if facts.secret_server_status.clustered:
                    return node
                holders.append(node)
        if holders:
            return holders[0]
        raise EssoError(
            "ESSO-025",
            "no reachable node is configured for this SSO system and holds its master secret.",
            step="backup",
        )

    @staticmethod
    def _msid_on(remote: Remote, inputs: SsoSystemInputs, node: str, escrowed: str | None) -> str:
        """The current MSID: the database's, else the one the node holds that state recorded as escrowed."""
        database = preflight.database_facts(remote, [node], inputs.server, inputs.database)
        if database.msid:
            return database.msid
        held = inputs.node_facts(remote, node).ssoss_msids
        known = [m for m in held if same_msid(m, escrowed)]
        return (known or held)[-1]

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
