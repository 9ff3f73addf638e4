"""Simulated ssomanage and ssoconfig scripts: backup, ENTSSO service, secret server name, restore, database.

Why apart: these act on the master secret and the ENTSSO service, not on a node's configuration.
"""

from __future__ import annotations

import hashlib

from provider import contracts
from provider.remote import sim_model
from provider.remote.sim_checks import (
    _backup_blob,
    _backup_matches,
    _check_service_password,
    _database_or_fail,
    _parse_backup,
    _refuse_nlb,
    _require_installed,
    _require_sql,
    _secret,
)
from provider.remote.sim_facts import get_sso_database_facts
from provider.remote.sim_files import read_file, write_file
from provider.remote.sim_model import Ctx, runs_outside_cluster
from provider.remote.sim_xml import SimXmlError, parse_update_xml
from provider.remote.world import SsoDatabase, secret_digest

# ------------------------------------------------------------------------- ssomanage and ssoconfig


def backup_master_secret(ctx: Ctx, p: contracts.BackupParams) -> contracts.ChangeResult[contracts.BackupState]:
    node = ctx.node
    password = _secret(p.backup_password)
    _require_installed(ctx)  # as Import-EssoInterop in the script
    db = _database_or_fail(ctx)
    for resource in sim_model.entsso_resources(ctx.world):  # as Backup-MasterSecret.ps1: only where it runs clustered
        owner = sim_model.owner_of(ctx.world, resource)
        if resource.state != "Online" or owner is None or owner.name.lower() != node.name.lower():
            where = owner.name if owner else "no node"
            ctx.fail("ESSO-029", f"the ENTSSO resource {resource.name} is {resource.state} on {where}, not here.")
    if not node.ssoss:
        ctx.fail(
            "ESSO-025", f"{node.name} holds no master secret (SSOSS is empty): back up on the master secret server."
        )
    if not sim_model.holds_current_msid(ctx.world, node):
        ctx.fail("ESSO-035", f"this node does not hold the current master secret {db.msid}; back it up elsewhere.")
    if not password:
        ctx.fail("ESSO-035", "the master secret backup needs a password.")
    aside = f"{p.backup_file}.previous"  # as the script: one fixed name, so a later run finds a stale one
    stale = read_file(node, aside)
    if stale is not None:
        node.files.pop(sim_model.path_key(aside), None)
        if read_file(node, p.backup_file) is None:
            write_file(node, p.backup_file, stale)
    existing = read_file(node, p.backup_file)
    current = node.ssoss[-1]  # Get-CurrentMsid: the most recently written SSOSS subkey
    before = None
    if existing is not None:
        before = contracts.BackupState(file=p.backup_file, sha256=hashlib.sha256(existing).hexdigest(), msid=current)
    if before is not None and not p.overwrite:
        # as Backup-MasterSecret.ps1: an existing file is kept unless Overwrite (the script cannot tell which
        # password opens it); with Overwrite every run backs up afresh (issue 9 B)
        return contracts.ChangeResult[contracts.BackupState](changed=False, before=before, after=before)
    if existing is not None:
        write_file(node, aside, existing)
        node.files.pop(sim_model.path_key(p.backup_file), None)
        ctx.phase("moved-aside")  # the previous file is moved aside; BackupSecret has not written the new one
    data = _backup_blob(db.msid, password, p.reminder, existing)
    write_file(node, p.backup_file, data)
    if existing is not None:
        ctx.phase("written")  # the new file is written; the previous one is still aside
        node.files.pop(sim_model.path_key(aside), None)
    db.backup_password_digest = secret_digest(password, f"backup:{db.msid}")
    after = contracts.BackupState(file=p.backup_file, sha256=hashlib.sha256(data).hexdigest(), msid=db.msid)
    return contracts.ChangeResult[contracts.BackupState](changed=True, before=before, after=after)


def restart_entsso_service(ctx: Ctx, _p: contracts.NoParams) -> contracts.ChangeResult[contracts.ServiceState]:
    """net stop/net start entsso: always acts (a restart is the point), refused once ENTSSO is clustered."""
    node = ctx.node
    _require_installed(ctx)
    clustered = sim_model.entsso_resources(ctx.world)
    if clustered:
        ctx.fail(
            "ESSO-014",
            f"ENTSSO is the cluster resource {clustered[0].name}; cycle it with Stop-/Start-ClusterResource.",
        )
    if not node.entsso_account:
        ctx.fail("ESSO-035", "ENTSSO is not configured on this node; the service cannot start.")
    if not sim_model.service_can_log_on(ctx.world, node):
        ctx.fail("ESSO-003", f"ENTSSO did not start: logon failure for {node.entsso_account} (error 1069).")
    before = contracts.ServiceState(state=node.entsso_state)
    node.entsso_state = "Stopped"
    ctx.phase("stopped")  # net stop entsso done, net start not yet
    node.entsso_state = "Running"
    return contracts.ChangeResult[contracts.ServiceState](
        changed=True, before=before, after=contracts.ServiceState(state="Running")
    )


def set_entsso_logon(ctx: Ctx, p: contracts.EntSsoLogonParams) -> contracts.ChangeResult[contracts.EntSsoLogonState]:
    """Win32_Service.Change: the account and password ENTSSO logs on with (used at its next start)."""
    node = ctx.node
    _require_installed(ctx)
    if not node.entsso_account:
        ctx.fail("ESSO-035", "ENTSSO is not configured on this node; join the SSO system first.")
    password = _secret(p.password)
    _check_service_password(ctx, p.account, password)
    before = contracts.EntSsoLogonState(account=node.entsso_account)
    node.entsso_account = p.account
    node.entsso_password_digest = secret_digest(password)
    return contracts.ChangeResult[contracts.EntSsoLogonState](
        changed=True, before=before, after=contracts.EntSsoLogonState(account=p.account)
    )


def set_entsso_start_mode(ctx: Ctx, p: contracts.StartModeParams) -> contracts.ChangeResult[contracts.StartModeState]:
    """Manual start, and no ENTSSO running outside the cluster's control (0x800706D9, reference section 8)."""
    node = ctx.node
    _require_installed(ctx)
    before = contracts.StartModeState(start_type=node.entsso_start_type, state=node.entsso_state)
    outside = runs_outside_cluster(ctx.world, node)
    if node.entsso_start_type == p.start_mode and not outside:
        return contracts.ChangeResult[contracts.StartModeState](changed=False, before=before, after=before)
    node.entsso_start_type = p.start_mode
    if outside:
        ctx.phase("start-type-set")  # Set-Service -StartupType done, Stop-Service not yet
        node.entsso_state = "Stopped"
        node.local_start_while_clustered = False
    after = contracts.StartModeState(start_type=node.entsso_start_type, state=node.entsso_state)
    return contracts.ChangeResult[contracts.StartModeState](changed=True, before=before, after=after)


def _is_current_secret_server(ctx: Ctx, db: SsoDatabase) -> bool:
    if db.secret_server.lower() == ctx.node.name.lower():
        return True
    for resource in ctx.world.cluster.resources.values():
        if (
            resource.type == sim_model.NETWORK_NAME
            and str(resource.parameters.get("Name", "")).lower() == db.secret_server.lower()
        ):
            owner = sim_model.owner_of(ctx.world, resource)
            if owner is not None and owner.name.lower() == ctx.node.name.lower():
                return True
    return False


def set_secret_server_name(
    ctx: Ctx, p: contracts.SecretServerParams
) -> contracts.ChangeResult[contracts.SecretServerState]:
    """ssomanage -updatedb (rule 6): only <secretServer> from a non-secret-server, and a real Network Name."""
    world = ctx.world
    _require_installed(ctx)  # as the script: ssomanage.exe lives in the ESSO folder
    db = _database_or_fail(ctx)
    _require_sql(ctx, db.server)
    try:
        name, extras = parse_update_xml(p.update_xml)
    except SimXmlError as exc:
        ctx.fail("ESSO-035", f"ssomanage -updatedb refused the file: {exc}.")
    if name is None or name.lower() != p.secret_server.lower():
        ctx.fail("ESSO-035", f"the update file names secret server {name!r}, the parameter says {p.secret_server!r}.")
    if extras and not _is_current_secret_server(ctx, db):
        ctx.fail(
            "ESSO-007",
            f"from a node that is not the master secret server the update file may hold only <secretServer> "
            f"(it also holds {', '.join(sorted(set(extras)))}).",
        )
    published = {
        str(r.parameters.get("Name", "")).lower()
        for r in world.cluster.resources.values()
        if r.type == sim_model.NETWORK_NAME
    }
    if p.secret_server.lower() not in published:
        ctx.fail("ESSO-007", f"{p.secret_server} is not the Name of any Network Name resource in the cluster.")
    before = contracts.SecretServerState(secret_server=db.secret_server)
    if db.secret_server.lower() == p.secret_server.lower():
        return contracts.ChangeResult[contracts.SecretServerState](changed=False, before=before, after=before)
    db.secret_server = p.secret_server
    after = contracts.SecretServerState(secret_server=p.secret_server)
    return contracts.ChangeResult[contracts.SecretServerState](changed=True, before=before, after=after)


def restore_master_secret(ctx: Ctx, p: contracts.RestoreParams) -> contracts.ChangeResult[contracts.SecretState]:
    """ssoconfig -restoresecret (rule 9): role here, ENTSSO cycled here, the right file and password."""
    world, node = ctx.world, ctx.node
    _require_installed(ctx)  # as Import-EssoInterop in the script
    db = _database_or_fail(ctx)
    before = contracts.SecretState(msids=list(node.ssoss))
    if p.expected_msid.lower() in {x.lower() for x in node.ssoss}:
        return contracts.ChangeResult[contracts.SecretState](changed=False, before=before, after=before)
    _refuse_nlb(ctx)
    resources = sim_model.entsso_resources(world)
    owners = [sim_model.owner_of(world, r) for r in resources]
    if not any(o is not None and o.name.lower() == node.name.lower() for o in owners):
        where = ", ".join(sorted({o.name for o in owners if o is not None})) or "nowhere (ENTSSO is not clustered)"
        ctx.fail("ESSO-011", f"the role holding the clustered ENTSSO is on {where}, not on {node.name}.")
    if not world.cluster.cycled_on.get(node.name, False):
        ctx.fail("ESSO-011", f"ENTSSO was not taken offline and online on {node.name} since the role moved here.")
    data = read_file(node, p.backup_file)
    if data is None:  # as the script: the file must be on the node before RestoreSecret
        ctx.fail("ESSO-025", f"the master secret backup {p.backup_file} is not on {node.name}.")
    _require_entsso_can_read(ctx, p.backup_file)
    blob = _parse_backup(data)
    if blob is None:
        ctx.fail("ESSO-012", f"{p.backup_file} is not a master secret backup.")
    if blob.get("msid", "").lower() != p.expected_msid.lower() or p.expected_msid.lower() != db.msid.lower():
        ctx.fail(
            "ESSO-012",
            f"the backup holds MSID {blob.get('msid')}, expected {p.expected_msid}; the database's is {db.msid}.",
        )
    if not _backup_matches(blob, blob["msid"], _secret(p.backup_password)):
        ctx.fail("ESSO-012", f"the password does not open {p.backup_file}.")
    node.ssoss.append(db.msid)
    return contracts.ChangeResult[contracts.SecretState](
        changed=True, before=before, after=contracts.SecretState(msids=list(node.ssoss))
    )


def _require_entsso_can_read(ctx: Ctx, path: str) -> None:
    """[INFERRED, the pessimistic reading of review F12] RestoreSecret may read the file as ENTSSO's account: in an
    Administrators-only folder that account must be its one reader (New-ProtectedTempDir -Reader)."""
    node, key = ctx.node, sim_model.path_key(path)
    folder = next((d for d in node.protected_dirs if sim_model.under(key, d)), None)
    if folder is None or not node.entsso_account:
        return
    if not sim_model.same_account(node.dir_readers.get(folder, ""), node.entsso_account, ctx.world.domain.name):
        ctx.fail("ESSO-035", f"RestoreSecret could not read {path}: Access is denied (0x80070005).")


def remove_sso_database(ctx: Ctx, p: contracts.SsoDatabaseParams) -> contracts.ChangeResult[contracts.SsoDatabaseFacts]:
    _require_sql(ctx, p.server)
    before = get_sso_database_facts(ctx, p)
    if not before.exists:
        return contracts.ChangeResult[contracts.SsoDatabaseFacts](changed=False, before=before, after=before)
    del ctx.world.databases[ctx.world.db_key(p.server, p.database)]
    return contracts.ChangeResult[contracts.SsoDatabaseFacts](
        changed=True, before=before, after=contracts.SsoDatabaseFacts(exists=False)
    )
