"""SsoSystem: seed steps 5-12 on the first node — a new SSO system, its database, the master secret and
its backup, which is fetched and kept in escrow.

Identity is (SQL server, database): a new database is a new SSO system, so those two replace. The node
that created the system is recorded and never diffed: losing node 1 means a join and a restore from
escrow, not a new system. Protection is enforced here (ESSO-020) so that a preview already refuses.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import pulumi
import pulumi.dynamic as dyn
from pydantic import SecretStr

from provider import contracts as c
from provider import ssoxml
from provider.errors import EssoError
from provider.escrow import Escrow, escrow_for
from provider.remote.base import Remote, TransientRemoteError
from provider.resources import preflight
from provider.resources.base import (
    ClusterInputs,
    EssoProvider,
    Steps,
    fingerprint,
    fingerprint_matches,
    registration,
)
from provider.spec import ClusterSpec, EscrowSection


class EscrowInputs(ClusterInputs):
    """Where the master secret backup is kept, and its password (for restores and re-backups)."""

    escrow: dict[str, Any]
    server: str
    database: str
    backup_password: str | None = None

    @staticmethod
    def escrow_fields(spec: ClusterSpec) -> dict[str, Any]:
        return {
            "escrow": spec.escrow.model_dump(by_alias=True, mode="json"),
            "server": spec.database.server,
            "database": spec.database.name,
        }

    def escrow_store(self, *, simulator: bool) -> Escrow:
        """The escrow; a relative or temporary folder is accepted only for the simulator (the demo)."""
        section = EscrowSection.model_validate(self.escrow)
        if simulator:
            return escrow_for(section, allow_ephemeral=True, project_dir=os.getcwd())
        return escrow_for(section, allow_ephemeral=False)


class SsoSystemInputs(EscrowInputs):
    node: str  # the creating node (nodes[0] at creation), never diffed
    affiliate_admin_group: str
    backup_path: str
    backup_reminder: str
    protect: bool
    on_destroy: Literal["retain", "remove"]
    service_account_password: str | None = None

    @classmethod
    def from_spec(cls, spec: ClusterSpec) -> SsoSystemInputs:
        return cls(
            **cls.cluster_fields(spec),
            **cls.escrow_fields(spec),
            node=spec.cluster.nodes[0],
            affiliate_admin_group=spec.sso.affiliate_admin_group,
            backup_path=spec.backup.path,
            backup_reminder=spec.backup.reminder,
            protect=spec.policy.protect_sso_system,
            on_destroy=spec.policy.on_destroy,
        )


class SsoSystemProvider(EssoProvider):
    resource = "sso-system"
    inputs_model = SsoSystemInputs
    replace_keys = ("server", "database")
    undiffed_keys = ("node",)
    quiet_keys = ("nodes", "role", "networkName", "protect", "onDestroy")
    secret_keys = ("serviceAccountPassword", "backupPassword")
    observed_keys = (
        "msid",
        "escrowedMsid",
        "backupSha256",
        "escrowLocation",
        "createdBy",
        "databaseExists",
        "backupInUseFingerprint",
        "backupPasswordCurrent",
    )
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
        if getattr(self, "_spec", None) is not None and not self.spec.allow_disruption:
            raise EssoError("ESSO-019", f"replacing the SSO system ({what}) reconfigures every node.", step="diff")

    def converge(self, inputs: SsoSystemInputs, olds: dict[str, Any] | None, steps: Steps) -> dict[str, Any]:
        recorded = olds["node"] if olds and olds.get("node") else inputs.node
        with self.remote() as remote:
            inputs.preflight(remote)
            steps.add(recorded, "preflight", False)
            password = self.backup_password()
            escrow = inputs.escrow_store(simulator=self.spec.target == "simulator")
            serving = recorded if olds is None else self._serving_node(remote, inputs, recorded)
            if serving.lower() == recorded.lower():
                msid, backup_file = self._install(remote, inputs, recorded, password, steps)
            else:
                # The creator is lost: the system lives on in the database and on the other nodes.
                msid, backup_file = self._msid_on(remote, inputs, serving, escrow), inputs.backup_path
                steps.add(serving, "serve-from", False, f"{recorded} is unreachable or no longer holds the system")
            in_use = (olds or {}).get("backupInUseFingerprint")
            rebackup = olds is not None and not fingerprint_matches(password.get_secret_value(), in_use)
            record = None if rebackup else escrow.latest(msid)
            if record is None:
                backup = remote.run(
                    serving,
                    c.BACKUP_MASTER_SECRET,
                    c.BackupParams(
                        backup_file=backup_file,
                        backup_password=password,
                        reminder=inputs.backup_reminder,
                        overwrite=rebackup,
                    ),
                )
                steps.add(serving, c.BACKUP_MASTER_SECRET.name, backup.changed)
                data = remote.fetch_file(serving, backup_file)
                steps.add(serving, "fetch-backup", False)
                record = escrow.store(msid, data, cluster=inputs.network_name)
                steps.add(serving, "escrow-backup", True, escrow.describe())
                in_use = fingerprint(password.get_secret_value())
            elif not in_use:
                in_use = fingerprint(password.get_secret_value())
            return {
                "msid": msid,
                "escrowedMsid": record.msid,
                "backupSha256": record.sha256,
                "escrowLocation": record.location,
                "createdBy": recorded,
                "databaseExists": True,
                "backupInUseFingerprint": in_use,
                "backupPasswordCurrent": True,
            }

    def _install(
        self, remote: Remote, inputs: SsoSystemInputs, node: str, password: SecretStr, steps: Steps
    ) -> tuple[str, str]:
        """Seed steps 5-12 on the creating node (adopts a node already configured for this system)."""
        preflight.fresh_token_facts(
            remote, node, service_account=inputs.service_account, admin_group=inputs.qualified_admin_group
        )
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
            c.INSTALL_SSO_SYSTEM,
            c.InstallSsoParams(
                config_xml=xml,
                server=inputs.server,
                database=inputs.database,
                service_account_password=self.service_account_password(),
                backup_password=password,
            ),
        )
        steps.add(node, c.INSTALL_SSO_SYSTEM.name, installed.changed)
        return installed.msid, installed.backup_file

    @staticmethod
    def _serving_node(remote: Remote, inputs: SsoSystemInputs, recorded: str) -> str:
        """The reachable node configured for this system that holds a master secret: the one running the clustered
        ENTSSO (Backup-MasterSecret runs only there, ESSO-029), else the creator, else any other."""
        holders: list[str] = []
        for node in dict.fromkeys([recorded, *inputs.nodes]):
            try:
                facts = preflight.node_facts(
                    remote, node, service_account=inputs.service_account, admin_group=inputs.qualified_admin_group
                )
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
    def _msid_on(remote: Remote, inputs: SsoSystemInputs, node: str, escrow: Escrow) -> str:
        """The current MSID: the database's, else the one the node holds that the escrow knows."""
        database = preflight.database_facts(remote, [node], inputs.server, inputs.database)
        if database.msid:
            return database.msid
        held = preflight.node_facts(
            remote, node, service_account=inputs.service_account, admin_group=inputs.qualified_admin_group
        ).ssoss_msids
        known = [m for m in held if escrow.latest(m) is not None]
        return (known or held)[-1]

    def observe(self, props: dict[str, Any]) -> dict[str, Any] | None:
        inputs: SsoSystemInputs = self.stored_inputs(props)
        order = [props.get("node") or inputs.node, *[n for n in inputs.nodes if n != props.get("node")]]
        with self.remote() as remote:
            facts = preflight.database_facts(remote, order, inputs.server, inputs.database)
        if not facts.exists:
            return None
        observed: dict[str, Any] = {"databaseExists": True}
        if facts.msid:  # a new system records no MSID in the database until something is encrypted
            observed["msid"] = facts.msid
        # A backup password rotated where the stack cannot see it (Secrets Manager) leaves the escrowed
        # backup opening only with the old one: refresh notices, and the next up takes a new backup.
        in_use = props.get("backupInUseFingerprint")
        if in_use:
            observed["backupPasswordCurrent"] = fingerprint_matches(self.backup_password().get_secret_value(), in_use)
        return observed

    def drift(self, olds: dict[str, Any]) -> list[str]:
        found = []
        if olds.get("msid") and olds.get("msid") != olds.get("escrowedMsid"):
            found.append("escrowedMsid")
        if olds.get("backupPasswordCurrent") is False:
            found.append("backupPasswordCurrent")
        return found

    def remove(self, props: dict[str, Any], steps: Steps) -> None:
        inputs: SsoSystemInputs = self.stored_inputs(props)
        node = props.get("node") or inputs.node
        if inputs.protect:
            steps.add(
                node,
                "keep-sso-system",
                False,
                "protected: the SSO system, its database, the master secret and the escrow are kept",
            )
            return
        with self.remote() as remote:
            unconfigured = remote.run(
                node,
                c.REMOVE_SSO_NODE_CONFIGURATION,
                c.RemoveNodeConfigParams(server=inputs.server, database=inputs.database),
            )
            steps.add(node, c.REMOVE_SSO_NODE_CONFIGURATION.name, unconfigured.changed)
            if inputs.on_destroy == "remove":
                dropped = remote.run(
                    node, c.REMOVE_SSO_DATABASE, c.SsoDatabaseParams(server=inputs.server, database=inputs.database)
                )
                steps.add(node, c.REMOVE_SSO_DATABASE.name, dropped.changed)
            else:
                steps.add(node, "keep-database", False, "policy onDestroy=retain: the SSO database is kept")
        steps.add(node, "keep-escrow", False, "the escrowed master secret backup is never deleted")


class SsoSystem(dyn.Resource, module="esso", name="SsoSystem"):
    """A new SSO system created on the first node, with its master secret escrowed."""

    msid: pulumi.Output[str]
    backupSha256: pulumi.Output[str]
    escrowLocation: pulumi.Output[str]
    createdBy: pulumi.Output[str]
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
