"""The simulator's model of an SSO system that already exists, and of an SSO client that reads its data.

Why: Microsoft's "How to Move the Master Secret Server" (biztalk-docs biztalk/core/how-to-move-the-master-secret-
server.md, section "To move the master secret from one server to a Windows Server Cluster") starts from a system
whose database, affiliate applications and credentials already exist, encrypted under the current master secret
(its MSID), on a standalone master secret server. Adopting it must lose nothing: after the move an SSO client that
asks the secret server the database names (now the cluster's Network Name) still decrypts every credential, and
the old server keeps running ENTSSO as a plain SSO server. This module builds that world (``existing_world``,
the ``simulator init --existing-server`` option) and plays that client (``sso_client_read``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

from provider.errors import EssoError
from provider.remote import sim_model
from provider.remote.sim_worlds import WorldNames, named, world_names
from provider.remote.world import (
    AffiliateCredential,
    DomainGroup,
    Node,
    SsoDatabase,
    World,
    secret_digest,
)

if TYPE_CHECKING:
    from provider.spec import ClusterSpec

DEFAULT_SERVER = "BTS01"
BACKUP_PASSWORD_ENV = "ESSO_SIM_BACKUP_PASSWORD"  # noqa: S105 - the name of a variable, not a password
"""Where ``simulator init --retired-backup`` reads the backup's password: never from the command line."""
DEMO_APPLICATIONS: tuple[tuple[str, str], ...] = (("ContosoERP", "erp-reader"), ("ContosoCRM", "crm-sync"))


def existing_world(
    nodes: Sequence[str] = ("SSO01", "SSO02"),
    *,
    server: str = DEFAULT_SERVER,
    database: str = "SSODB",
    admin_group: str = "SSO Administrators",
    affiliate_admin_group: str = "SSO Affiliate Administrators",
    applications: Sequence[tuple[str, str]] = DEMO_APPLICATIONS,
    **given: Unpack[WorldNames],
) -> World:
    """The demo cluster (ESSO installed, unconfigured) beside a standalone master secret server ``server`` that
    created the SSO system years ago: the database names it, it holds the MSID, ENTSSO runs there, and the
    database holds affiliate credentials encrypted under that MSID."""
    chosen = named(given)
    service_account, configuring_account, sql = chosen["service_account"], chosen["configuring_account"], chosen["sql"]
    world = sim_model.demo_world(nodes, **chosen)
    msid = sim_model.new_msid()
    members = [sim_model.sam_of(service_account), sim_model.sam_of(configuring_account)]
    world.domain.groups[admin_group] = DomainGroup(name=admin_group, members=members)
    world.domain.groups[affiliate_admin_group] = DomainGroup(name=affiliate_admin_group)
    world.nodes[server] = Node(
        name=server,
        entsso_state="Running",
        entsso_start_type="Automatic",
        entsso_account=service_account,
        sso_server=sql,
        sso_database=database,
        ssoss=[msid],
        logon_right=[service_account],
    )
    world.databases[world.db_key(sql, database)] = SsoDatabase(
        server=sql,
        name=database,
        secret_server=server,
        admin_group=admin_group,
        affiliate_admin_group=affiliate_admin_group,
        msid=msid,
        service_account=service_account,
        created_by=server,
        credentials=[
            AffiliateCredential(
                application=app, user=user, msid=msid, credential_digest=secret_digest(f"{app}/{user}", "credential")
            )
            for app, user in applications
        ],
    )
    return world


def existing_world_for(spec: ClusterSpec, server: str | None = None) -> World:
    """The existing-system world a stack describes; ``server`` defaults to existingSystem.masterSecretServer."""
    return existing_world(
        list(spec.cluster.nodes),
        server=server or spec.existing_system.master_secret_server or DEFAULT_SERVER,
        database=spec.database.name,
        admin_group=spec.sso.admin_group,
        affiliate_admin_group=spec.sso.affiliate_admin_group,
        **world_names(spec),
    )


def serving_node(world: World, db: SsoDatabase) -> Node | None:
    """The node whose ENTSSO answers for the database's secret server name: the owner of the clustered ENTSSO
    when the name is a Network Name, else the computer of that name."""
    for resource in world.cluster.resources.values():
        if resource.type == sim_model.NETWORK_NAME and str(resource.parameters.get("Name", "")).lower() == (
            db.secret_server.lower()
        ):
            services = [r for r in sim_model.entsso_resources(world) if r.group.lower() == resource.group.lower()]
            return sim_model.owner_of(world, services[0]) if services else None
    return sim_model.find_node(world, db.secret_server)


def sso_client_read(world: World, server: str, database: str, application: str) -> list[AffiliateCredential]:
    """An SSO client (a BizTalk host, ``ssomanage -listmappings``) reads an affiliate application's credentials.

    It asks the secret server the database names for the master secret (rule 8: ESSO-010/026 when it cannot),
    then decrypts each credential with it: a credential sealed under an MSID the serving node does not hold is
    lost (ESSO-026).
    """
    db = world.databases.get(world.db_key(server, database))
    if db is None:
        raise EssoError("ESSO-026", f"there is no SSO database {server}/{database}.", step="client-read")
    sim_model.require_client_reach(world)
    node = serving_node(world, db)
    held = {x.lower() for x in (node.ssoss if node else [])}
    found = [c for c in db.credentials if c.application.lower() == application.lower()]
    if not found:
        raise EssoError("ESSO-026", f"the SSO database has no affiliate application {application}.", step="client-read")
    for credential in found:
        if credential.msid.lower() not in held:
            where = node.name if node else db.secret_server
            raise EssoError(
                "ESSO-026",
                f"{application}/{credential.user} is encrypted under MSID {credential.msid}, which {where} does not "
                "hold: the credential cannot be decrypted.",
                step="client-read",
            )
    return found


def retire_server(world: World, server: str, backup_password: str, reminder: str = "") -> bytes:
    """The master secret server is gone: its last backup (as ``ssoconfig -backupSecret`` wrote it, under
    ``backup_password``) is all that remains, and the computer no longer answers. Returns the backup's bytes."""
    node = sim_model.find_node(world, server)
    if node is None:
        raise ValueError(f"no server named {server} in the world")
    db = next((d for d in world.databases.values() if d.secret_server.lower() == server.lower()), None)
    if db is None:
        raise ValueError(f"no SSO database names {server} as its master secret server")
    db.backup_password_digest = secret_digest(backup_password, f"backup:{db.msid}")
    node.reachable = False
    return backup_blob(db.msid, backup_password, reminder)


def backup_blob(msid: str, backup_password: str, reminder: str = "") -> bytes:
    """A simulated master secret backup of ``msid`` (the format Backup-MasterSecret writes in the simulator)."""
    from provider.remote.sim_handlers import _backup_blob  # the one writer of the simulated backup format

    return _backup_blob(msid, backup_password, reminder)


def seed_existing(
    state: str | Path,
    *,
    nodes: Sequence[str],
    server: str = DEFAULT_SERVER,
    network_name: str = "BIZTALKSSO",
    role: str = "SSO",
    retired_backup: Path | None = None,
    backup_password: str | None = None,
) -> World:
    """``simulator init --existing-server NAME [--retired-backup FILE]``: write a world with an existing SSO
    system on the standalone server ``server``; with ``retired_backup`` that server is gone and its backup
    (password ``backup_password``) is written to that file, the operator's backup of the README's example."""
    from provider.remote.simulator import Simulator

    world = existing_world(nodes, server=server, network_name=network_name, role=role)
    if retired_backup is not None:
        if not backup_password:
            raise ValueError("a retired server's backup needs the backup password")
        retired_backup.parent.mkdir(parents=True, exist_ok=True)
        retired_backup.write_bytes(retire_server(world, server, backup_password))
    Simulator(state).seed(world)
    return world
