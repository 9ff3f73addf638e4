"""What several simulated scripts check or share: secrets, ESSO installed, NLB, SQL, rights, groups, the backup blob.

Why apart: the handlers of each family call these; one copy keeps the refusals the same everywhere.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import SecretStr

from provider import contracts
from provider.remote import sim_model
from provider.remote.sim_model import Ctx
from provider.remote.world import Node, SsoDatabase, secret_digest
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
    return state is not None and state.is_system(server, database)


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
