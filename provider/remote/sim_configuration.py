"""Simulated Configuration.exe scripts: Install-SsoSystem, Join-SsoSystem, Remove-SsoNodeConfiguration.

Why apart: the silent XML, the work folder and the node's SSO registry change together, for Configuration.exe.
"""

from __future__ import annotations

from provider import contracts
from provider.remote import sim_model
from provider.remote.sim_checks import (
    DEFAULT_BACKUP_FILE,
    _backup_blob,
    _check_group_kind,
    _check_rights,
    _check_service_password,
    _config_state,
    _refuse_nlb,
    _require_installed,
    _require_sql,
    _same_system,
    _secret,
)
from provider.remote.sim_files import write_file
from provider.remote.sim_model import Ctx
from provider.remote.sim_xml import ConfigXml, SimXmlError, parse_config_xml
from provider.remote.world import Node, SsoDatabase, secret_digest


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
