"""SsoSystem's install flow: seed steps 5-12 on the creating node (Install-SsoSystem, Configuration.exe), the refusal
to create a system whose database already exists (ESSO-090), and, once created, which node serves the system's
master secret (issue 10: sso_system.py split by job).

Why apart from the resource: these are the remote steps of a create and of a later update on the creator or, when
it is lost, on another node holding the secret; the resource module only sequences them.
"""

from __future__ import annotations

from pydantic import SecretStr

from provider import contracts, ssoxml
from provider.errors import EssoError
from provider.escrow import same_msid
from provider.remote.base import Remote, TransientRemoteError
from provider.resources import preflight
from provider.resources.base import Steps
from provider.resources.sso_models import SsoSystemInputs

__all__ = ["install", "msid_on", "refuse_existing_database", "serving_node"]


def refuse_existing_database(
    remote: Remote, inputs: SsoSystemInputs, facts: contracts.NodeFacts | None, node: str
) -> None:
    """ESSO-090 before Create when the database already exists and the creating node does not hold its
    secret: that system must be adopted (existingSystem), never created again."""
    config = facts.sso_config if facts else None
    same = config is not None and config.is_system(inputs.server, inputs.database)
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


def install(
    remote: Remote,
    inputs: SsoSystemInputs,
    node: str,
    password: SecretStr,
    service_account_password: SecretStr,
    timeout_minutes: int,
    steps: Steps,
    verified: preflight.Verified,
) -> tuple[str, str, bool]:
    """Seed steps 5-12 on the creating node (adopts a node already configured for this system): the MSID, the
    backup file, and whether Configuration.exe just wrote that backup with the stack's password (a new system)."""
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
            service_account_password=service_account_password,
            backup_password=password,
            timeout_minutes=timeout_minutes,
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
    return installed.msid, installed.backup_file, installed.changed


def serving_node(remote: Remote, inputs: SsoSystemInputs, recorded: str) -> str:
    """The reachable node configured for this system that holds a master secret: the one running the clustered
    ENTSSO (Backup-MasterSecret runs only there, ESSO-029), else the creator, else any other."""
    holders: list[str] = []
    for node in dict.fromkeys([recorded, *inputs.nodes]):
        try:
            facts = inputs.node_facts(remote, node)
        except TransientRemoteError:
            continue
        config = facts.sso_config
        same = config is not None and config.is_system(inputs.server, inputs.database)
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


def msid_on(remote: Remote, inputs: SsoSystemInputs, node: str, escrowed: str | None) -> str:
    """The current MSID: the database's, else the one the node holds that state recorded as escrowed."""
    database = preflight.database_facts(remote, [node], inputs.server, inputs.database)
    if database.msid:
        return database.msid
    held = inputs.node_facts(remote, node).ssoss_msids
    known = [m for m in held if same_msid(m, escrowed)]
    return (known or held)[-1]
