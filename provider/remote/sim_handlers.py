"""Simulated node and domain scripts: facts, groups, logon right, Configuration.exe, ssomanage, ssoconfig.

Why here: each handler is what the matching ``provider/scripts/<name>.ps1`` does on Windows, reduced to
the World. Reads never change anything. Changes check every precondition first, then compare, act
only on a difference and report ``changed`` with ``before``/``after``; the rules they enforce are
listed (with their sources) in ``provider.remote.simulator``.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import SecretStr

from provider import contracts
from provider.remote import sim_model
from provider.remote.sim_files import read_file, write_file
from provider.remote.sim_model import Ctx, runs_outside_cluster
from provider.remote.sim_xml import ConfigXml, SimXmlError, parse_config_xml, parse_update_xml
from provider.remote.world import DomainGroup, Node, SsoDatabase, secret_digest
from provider.spec import ESSO_FOLDER

BACKUP_FORMAT = "esso-sim-backup/1"
DEFAULT_BACKUP_FILE = ESSO_FOLDER + "\\SSOSecret.bak"


# --------------------------------------------------------------------------------------- helpers


def _secret(value: SecretStr | str) -> str:
    """Secrets arrive as SecretStr (from the contract) or as plain str (a raw wire call); both mean the same."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _require_installed(ctx: Ctx) -> None:
    if not ctx.node.esso_installed:
        ctx.fail("ESSO-016", "Enterprise SSO is not installed on this node.")


def _refuse_nlb(ctx: Ctx) -> None:
    if ctx.node.nlb:
        ctx.fail("ESSO-001", "Network Load Balancing is installed; this node cannot hold the master secret.")


def _require_sql(ctx: Ctx, server: str) -> None:
    reachable = {s.lower() for s in ctx.world.sql_servers}
    if reachable and sim_model.sql_host(server).lower() not in reachable:
        ctx.fail("ESSO-035", f"cannot connect to SQL Server {server} (a network-related or instance-specific error).")


def _config_state(node: Node) -> contracts.SsoConfigState | None:
    if node.sso_server and node.sso_database:
        return contracts.SsoConfigState(server=node.sso_server, database=node.sso_database)
    return None


def _same_system(state: contracts.SsoConfigState | None, server: str, database: str) -> bool:
    return state is not None and (state.server.lower(), state.database.lower()) == (server.lower(), database.lower())


def _config_xml(ctx: Ctx, text: str, mode: str, server: str, database: str, secrets: list[str]) -> ConfigXml:
    """Parse the silent-configuration XML and refuse any that carries a secret (docs/design.md "Secrets")."""
    try:
        xml = parse_config_xml(text)
    except SimXmlError as exc:
        ctx.fail("ESSO-035", f"Configuration.exe refused the XML: {exc}.")
    if xml.filled_passwords:
        ctx.fail(
            "ESSO-035",
            "the configuration XML arrived with filled password nodes "
            f"({', '.join(xml.filled_passwords)}); passwords travel only as SecureString parameters.",
        )
    if any(s and s in text for s in secrets):
        ctx.fail("ESSO-035", "the configuration XML contains a secret; passwords travel only as SecureString.")
    if xml.mode != mode:
        ctx.fail("ESSO-035", f"{ctx.script.name} needs an XML whose selected answer is {mode}, not {xml.mode}.")
    if (xml.server.lower(), xml.database.lower()) != (server.lower(), database.lower()):
        ctx.fail("ESSO-035", f"the XML names {xml.server}/{xml.database} but the parameters say {server}/{database}.")
    return xml


def _run_configuration_exe(ctx: Ctx, timeout_minutes: int) -> None:
    """Invoke-ConfigurationExe's bounded wait: a run that never exits is killed and fails with ESSO-027."""
    if ctx.node.configuration_exe_hangs:
        ctx.fail(
            "ESSO-027",
            f"Configuration.exe did not finish within {timeout_minutes} minutes on {ctx.node.name}; its process "
            f"tree was killed. The log was kept at C:\\Windows\\Temp\\esso-config-log-sim\\sso.log.",
        )


def config_work_folder(step: str) -> str:
    """Get-ConfigurationWorkFolder's fixed folder of one step's Configuration.exe run (lower-cased key)."""
    return sim_model.path_key(f"C:\\Windows\\Temp\\esso-config-{step}")


def _sweep_work_folder(node: Node, step: str) -> None:
    """As Get-ConfigurationWorkFolder, first thing in Install/Join: a folder an interrupted run left goes."""
    folder = config_work_folder(step)
    for key in [k for k in node.files if sim_model.under(k, folder)]:
        del node.files[key]
    if folder in node.protected_dirs:
        node.protected_dirs.remove(folder)
        node.dir_readers.pop(folder, None)


def _open_work_folder(node: Node, step: str, xml_text: str) -> None:
    """The answer file (its password nodes empty here: the simulator never stores a secret) in the fixed folder."""
    folder = config_work_folder(step)
    node.protected_dirs.append(folder)
    write_file(node, f"{folder}\\sso-{step}.xml", xml_text.encode())


def _check_service_password(ctx: Ctx, account: str, password: str) -> None:
    if not password:
        ctx.fail("ESSO-035", f"no password was given for {account}; the service cannot log on.")
    user = sim_model.find_user(ctx.world, account)
    if user is not None and user.password_digest is not None and user.password_digest != secret_digest(password):
        ctx.fail("ESSO-035", f"logon failure for {account}: unknown user name or bad password.")


def _check_rights(ctx: Ctx, account: str, admin_group: str) -> None:
    """Rule 3: the service account in SSO Administrators with 'Log on as a service' here; the caller's token too."""
    world, node = ctx.world, ctx.node
    if sim_model.find_user(world, account) is None:
        ctx.fail("ESSO-003", f"the service account {account} does not exist in domain {world.domain.name}.")
    if not sim_model.is_member(world, admin_group, account):
        ctx.fail("ESSO-003", f"the service account {account} is not a member of {admin_group}.")
    if not sim_model.has_logon_right(world, node, account):
        where = "the Group Policy's list" if node.gpo_logon_right is not None else "the local policy"
        ctx.fail("ESSO-003", f"{account} does not hold 'Log on as a service' on {node.name} ({where}).")
    if not sim_model.token_has_group(world, node, ctx.identity, admin_group):
        ctx.fail(
            "ESSO-004",
            f"the logon token of {ctx.identity} on {node.name} does not carry {admin_group}; open a new session.",
        )


def _require_ad_module(ctx: Ctx) -> None:
    """lib/AdGroup.ps1 Import-ActiveDirectoryModule: the module (RSAT-AD-PowerShell) is checked before use."""
    if not ctx.node.ad_module:
        ctx.fail("ESSO-028", f"the ActiveDirectory PowerShell module is not installed on {ctx.node.name}.")


def _check_group_kind(ctx: Ctx, name: str | None, what: str) -> None:
    """Rule 2: only domain global security groups (seed step 2), named DOMAIN\\group as Install-SsoSystem.ps1 wants."""
    if not name:
        ctx.fail("ESSO-002", f"the configuration XML names no {what} group.")
    if name.count("\\") != 1 or not all(part.strip() for part in name.split("\\")):
        ctx.fail("ESSO-002", f"the configuration XML must name the {what} group as DOMAIN\\group, not {name!r}.")
    group = sim_model.find_domain_group(ctx.world, name)
    if group is None:
        ctx.fail("ESSO-002", f"the {what} group {name} does not exist in domain {ctx.world.domain.name}.")
    if group.scope != "Global" or group.category != "Security":
        ctx.fail("ESSO-002", f"the {what} group {name} is a {group.scope} {group.category} group.")


def _backup_blob(msid: str, password: str, reminder: str, previous: bytes | None = None) -> bytes:
    """The simulated backup file: the MSID and a digest of its password, never the password."""
    blob = {"format": BACKUP_FORMAT, "msid": msid, "secretDigest": secret_digest(password, f"backup:{msid}")}
    # BackupSecret encrypts afresh: a new backup differs from the file it replaces (derived from that file, so
    # two runs with the same history still write the same bytes)
    blob["nonce"] = hashlib.sha256((previous or b"") + msid.encode("utf-8")).hexdigest()[:16]
    blob["reminder"] = reminder
    return json.dumps(blob, sort_keys=True).encode("utf-8")


def _parse_backup(data: bytes | None) -> dict[str, str] | None:
    if data is None:
        return None
    try:
        blob = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(blob, dict) or blob.get("format") != BACKUP_FORMAT:
        return None
    return {str(k): str(v) for k, v in blob.items()}


def _backup_matches(blob: dict[str, str] | None, msid: str, password: str) -> bool:
    return (
        blob is not None
        and blob.get("msid") == msid
        and blob.get("secretDigest") == secret_digest(password, f"backup:{msid}")
    )


def _database_or_fail(ctx: Ctx) -> SsoDatabase:
    db = sim_model.node_database(ctx.world, ctx.node)
    if db is None:
        ctx.fail("ESSO-035", "Enterprise SSO is not configured on this node (no SSO database in ENTSSO\\SQL).")
    return db


# ----------------------------------------------------------------------------------------- facts


def get_node_facts(ctx: Ctx, p: contracts.GetNodeFactsParams) -> contracts.NodeFacts:
    world, node = ctx.world, ctx.node
    gpo = node.gpo_logon_right
    return contracts.NodeFacts(
        computer_name=node.name,
        esso_installed=node.esso_installed,
        esso_version=node.esso_version if node.esso_installed else None,
        entsso=contracts.EntSsoFacts(
            state=node.entsso_state if node.esso_installed else "Absent",
            start_type=node.entsso_start_type if node.esso_installed else "None",
            account=node.entsso_account,
        ),
        sso_config=_config_state(node),
        ssoss_msids=list(node.ssoss),
        join_marker=node.join_marker,
        nlb_installed=node.nlb,
        logon_right=contracts.LogonRightFacts(
            granted=sim_model.has_logon_right(world, node, p.service_account),
            via_gpo=gpo is not None,
            gpo_includes_account=gpo is not None
            and any(sim_model.holds_through(world, a, p.service_account) for a in gpo),
        ),
        token_has_admin_group=sim_model.token_has_group(world, node, ctx.identity, p.admin_group),
        cluster_node_state=next((s for n, s in world.cluster.nodes.items() if n.lower() == node.name.lower()), None),
        dtc_cid=node.dtc_cid,
        secret_server_status=sim_model.secret_server_status(world, node),
    )


def get_sso_database_facts(ctx: Ctx, p: contracts.SsoDatabaseParams) -> contracts.SsoDatabaseFacts:
    _require_sql(ctx, p.server)
    db = ctx.world.databases.get(ctx.world.db_key(p.server, p.database))
    if db is None:
        return contracts.SsoDatabaseFacts(exists=False)
    return contracts.SsoDatabaseFacts(
        exists=True,
        secret_server=db.secret_server,
        admin_group=db.admin_group,
        affiliate_admin_group=db.affiliate_admin_group,
        msid=db.msid if db.reports_msid else None,
    )


def _group_facts(ctx: Ctx, name: str) -> contracts.GroupFacts:
    group = sim_model.find_domain_group(ctx.world, name)
    if group is None:
        return contracts.GroupFacts(name=name, exists=False, members=[])
    return contracts.GroupFacts(
        name=group.name, exists=True, scope=group.scope, category=group.category, members=list(group.members)
    )


def get_domain_group_facts(ctx: Ctx, p: contracts.DomainGroupsParams) -> contracts.DomainGroupFacts:
    _require_ad_module(ctx)
    return contracts.DomainGroupFacts(
        admin_group=_group_facts(ctx, p.admin_group), affiliate_admin_group=_group_facts(ctx, p.affiliate_admin_group)
    )


# ----------------------------------------------------------------------------- domain and rights


def set_sso_domain_groups(
    ctx: Ctx, p: contracts.DomainGroupsParams
) -> contracts.ChangeResult[contracts.DomainGroupsState]:
    world = ctx.world
    _require_ad_module(ctx)
    names = (p.admin_group, p.affiliate_admin_group)
    for name in names:  # rule 2: an existing DomainLocal/Universal or distribution group is never reused
        group = sim_model.find_domain_group(world, name)
        if group is not None and (group.scope != "Global" or group.category != "Security"):
            ctx.fail("ESSO-002", f"{name} exists as a {group.scope} {group.category} group; SSO needs Global Security.")
    for member in p.members:
        if sim_model.find_user(world, member) is None:
            ctx.fail("ESSO-035", f"cannot find an object with identity '{member}' in domain {world.domain.name}.")

    def state() -> contracts.DomainGroupsState:
        admin = sim_model.find_domain_group(world, p.admin_group)
        present = [n for n in names if sim_model.find_domain_group(world, n) is not None]
        return contracts.DomainGroupsState(
            admin_group_members=list(admin.members) if admin else [], groups_present=present
        )

    before = state()
    changed = False
    for name in names:
        if sim_model.find_domain_group(world, name) is None:
            world.domain.groups[sim_model.sam_of(name)] = DomainGroup(name=sim_model.sam_of(name))
            changed = True
    admin = sim_model.find_domain_group(world, p.admin_group)
    assert admin is not None
    for member in p.members:
        if sim_model.sam_of(member).lower() not in {x.lower() for x in admin.members}:
            ctx.phase("groups-created")  # New-ADGroup done, Add-ADGroupMember not yet
            admin.members.append(sim_model.sam_of(member))
            changed = True
    after = state()
    for member in p.members:  # the script's post-condition
        if sim_model.sam_of(member).lower() not in {x.lower() for x in after.admin_group_members}:
            ctx.fail_after_change("ESSO-003", f"{member} is not a member of {p.admin_group} after adding it.")
    return contracts.ChangeResult[contracts.DomainGroupsState](changed=changed, before=before, after=after)


def grant_service_logon_right(
    ctx: Ctx, p: contracts.AccountParams
) -> contracts.ChangeResult[contracts.LogonRightState]:
    world, node = ctx.world, ctx.node
    if sim_model.find_user(world, p.account) is None:  # as the script: the account does not resolve to a SID
        ctx.fail("ESSO-003", f"the service account {p.account} does not resolve to a SID on {node.name}.")
    before = contracts.LogonRightState(granted=sim_model.has_logon_right(world, node, p.account))
    if before.granted:
        return contracts.ChangeResult[contracts.LogonRightState](changed=False, before=before, after=before)
    if node.gpo_logon_right is not None:
        ctx.fail("ESSO-018", f"a Group Policy defines 'Log on as a service' on {node.name} without {p.account}.")
    node.logon_right.append(p.account)
    return contracts.ChangeResult[contracts.LogonRightState](
        changed=True, before=before, after=contracts.LogonRightState(granted=True)
    )


# ------------------------------------------------------------------------------ Configuration.exe


def install_sso_system(ctx: Ctx, p: contracts.InstallSsoParams) -> contracts.InstallSsoResult:
    world, node = ctx.world, ctx.node
    service_pw, backup_pw = _secret(p.service_account_password), _secret(p.backup_password)
    _require_installed(ctx)
    _refuse_nlb(ctx)
    xml = _config_xml(ctx, p.config_xml, "Create", p.server, p.database, [service_pw, backup_pw])
    _require_sql(ctx, p.server)
    current = _config_state(node)
    if current is not None and not _same_system(current, p.server, p.database):
        ctx.fail("ESSO-005", f"the node is configured for {current.server}/{current.database}.")
    _sweep_work_folder(node, "create")
    backup_file = xml.backup_file or DEFAULT_BACKUP_FILE
    key = world.db_key(p.server, p.database)
    db = world.databases.get(key)
    if db is not None:
        if current is not None and not node.ssoss:  # as the script: a run stopped before the secret existed
            ctx.fail(
                "ESSO-025",
                f"{node.name} is configured for {p.server}/{p.database} but holds no master secret (SSOSS is empty).",
            )
        if current is not None and db.msid.lower() in {x.lower() for x in node.ssoss}:
            # as the script: a missing backup file is not written again (the caller removed it once escrowed,
            # issue 13 M4, or backs the secret up with Backup-MasterSecret when its escrow lacks it, issue 14)
            return contracts.InstallSsoResult(
                changed=False, before=current, after=current, msid=db.msid, backup_file=backup_file
            )
        ctx.fail(
            "ESSO-035",
            f"the SSO database {p.server}/{p.database} already exists; join it and restore the master secret instead.",
        )
    _check_group_kind(ctx, xml.admin_group, "SSO Administrators")
    _check_group_kind(ctx, xml.affiliate_admin_group, "SSO Affiliate Administrators")
    assert xml.admin_group is not None and xml.affiliate_admin_group is not None
    _check_service_password(ctx, xml.account, service_pw)
    _check_rights(ctx, xml.account, xml.admin_group)
    if not backup_pw:
        ctx.fail("ESSO-035", "the master secret backup needs a password.")
    _open_work_folder(node, "create", p.config_xml)
    _run_configuration_exe(ctx, p.timeout_minutes)
    msid = sim_model.new_msid()
    world.databases[key] = SsoDatabase(
        server=p.server,
        name=p.database,
        secret_server=node.name,
        admin_group=xml.admin_group,
        affiliate_admin_group=xml.affiliate_admin_group,
        msid=msid,
        service_account=xml.account,
        created_by=node.name,
        backup_password_digest=secret_digest(backup_pw, f"backup:{msid}"),
    )
    node.sso_server, node.sso_database = p.server, p.database
    node.ssoss.append(msid)
    node.entsso_account = xml.account
    node.entsso_password_digest = secret_digest(service_pw)
    node.entsso_start_type = "Automatic"  # Configuration.exe's default; Set-EntSsoStartMode makes it Manual
    node.entsso_state = "Running"
    ctx.phase("configured")  # Configuration.exe created the system; the backup file is not written yet
    write_file(node, backup_file, _backup_blob(msid, backup_pw, xml.reminder))
    _sweep_work_folder(node, "create")  # the script's finally: Remove-SecretFolder
    after = contracts.SsoConfigState(server=p.server, database=p.database)
    return contracts.InstallSsoResult(changed=True, before=current, after=after, msid=msid, backup_file=backup_file)


def join_sso_system(ctx: Ctx, p: contracts.JoinSsoParams) -> contracts.ChangeResult[contracts.SsoConfigState]:
    world, node = ctx.world, ctx.node
    service_pw = _secret(p.service_account_password)
    _require_installed(ctx)
    _refuse_nlb(ctx)
    xml = _config_xml(ctx, p.config_xml, "Join", p.server, p.database, [service_pw])
    _require_sql(ctx, p.server)
    db = world.databases.get(world.db_key(p.server, p.database))
    if db is None:
        ctx.fail("ESSO-006", f"there is no SSO database {p.server}/{p.database} to join.")
    _sweep_work_folder(node, "join")
    current = _config_state(node)
    if current is not None and not _same_system(current, p.server, p.database):
        ctx.fail("ESSO-005", f"the node is configured for {current.server}/{current.database}.")
    if not sim_model.same_account(xml.account, db.service_account, world.domain.name):
        ctx.fail("ESSO-006", f"the system was created with service account {db.service_account}, not {xml.account}.")
    if (
        current is not None
        and node.entsso_account
        and sim_model.same_account(node.entsso_account, db.service_account, world.domain.name)
    ):
        return contracts.ChangeResult[contracts.SsoConfigState](changed=False, before=current, after=current)
    _check_service_password(ctx, xml.account, service_pw)
    _check_rights(ctx, xml.account, db.admin_group)
    # Join-SsoSystem.ps1 writes its marker before Configuration.exe runs (issue 14); a failed script keeps nothing
    # here, as the simulator discards a failed script's world
    node.join_marker = f"{p.server}/{p.database}"
    _open_work_folder(node, "join", p.config_xml)
    ctx.phase("marker-written")  # the marker and the answer file are written; Configuration.exe has not run
    _run_configuration_exe(ctx, p.timeout_minutes)
    node.sso_server, node.sso_database = db.server, db.name
    node.entsso_account = xml.account
    node.entsso_password_digest = secret_digest(service_pw)
    node.entsso_start_type = "Automatic"
    node.entsso_state = "Running"  # it starts, but serves nothing until the secret is restored (rule 10)
    ctx.phase("configured")  # Configuration.exe joined; its folder not yet removed, ENTSSO not yet set Manual
    _sweep_work_folder(node, "join")  # the script's finally: Remove-SecretFolder
    if sim_model.entsso_resources(world) and sim_model.runs_outside_cluster(world, node):
        # as Join-SsoSystem.ps1: joining a clustered system, the local ENTSSO is set Manual and stopped at once
        node.entsso_start_type = "Manual"
        node.entsso_state = "Stopped"
    after = contracts.SsoConfigState(server=db.server, database=db.name)
    return contracts.ChangeResult[contracts.SsoConfigState](changed=True, before=current, after=after)


def _remove_join_marker(node: Node, server: str, database: str) -> None:
    """Remove-SsoNodeConfiguration.ps1 removes Join-SsoSystem.ps1's marker when it names this system."""
    if (node.join_marker or "").lower() == f"{server}/{database}".lower():
        node.join_marker = None


def remove_sso_node_configuration(
    ctx: Ctx, p: contracts.RemoveNodeConfigParams
) -> contracts.ChangeResult[contracts.SsoConfigState]:
    """Unconfigure ESSO on this node alone, as Remove-SsoNodeConfiguration.ps1 does (issue 9 B).

    A node configured for another system is refused (ESSO-005), and so is the owner of a clustered ENTSSO that
    is not Offline (ESSO-014); the local service is stopped and Disabled, the ENTSSO\\SQL values go, and so does
    the node's SSOSS copy of the system's secrets.
    """
    node = ctx.node
    current = _config_state(node)
    empty = contracts.SsoConfigState(server="", database="")
    if current is None:
        _remove_join_marker(node, p.server, p.database)
        return contracts.ChangeResult[contracts.SsoConfigState](changed=False, before=None, after=empty)
    if not _same_system(current, p.server, p.database):
        ctx.fail(
            "ESSO-005",
            f"{node.name} is configured for {current.server}/{current.database}, not {p.server}/{p.database}; "
            "refusing to unconfigure it.",
        )
    for resource in sim_model.entsso_resources(ctx.world):
        owner = sim_model.owner_of(ctx.world, resource)
        if resource.state != "Offline" and owner is not None and owner.name.lower() == node.name.lower():
            ctx.fail("ESSO-014", f"the clustered ENTSSO resource {resource.name} is {resource.state} here.")
    node.entsso_state = "Stopped"
    ctx.phase("service-stopped")  # ENTSSO stopped; the ENTSSO\\SQL values and SSOSS not removed yet
    node.sso_server = node.sso_database = None
    node.ssoss = []
    _remove_join_marker(node, p.server, p.database)
    node.entsso_account = None
    node.entsso_start_type = "Disabled"
    return contracts.ChangeResult[contracts.SsoConfigState](changed=True, before=current, after=empty)


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
