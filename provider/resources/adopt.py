"""The checks that decide, before any change, whether an existing SSO system can move into the cluster.

Why apart: each is a decision made once, in Python, from facts the scripts read (docs/design.md "Contracts"), and each
refusal must say what to do. Source: Microsoft's "How to Move the Master Secret Server" (biztalk-docs
biztalk/core/how-to-move-the-master-secret-server.md), section "To move the master secret from one server to a
Windows Server Cluster": every node joins "with the existing SSO Database Server Name and Database Name" and "the
existing SSO Service account" (rule 5), and the master secret is the one the existing master secret server holds.
"""

from __future__ import annotations

from typing import Protocol

from provider import contracts
from provider.config.names import split_account
from provider.errors import EssoError
from provider.escrow.base import holds_msid


class AdoptionInputs(Protocol):
    """What the checks read from SsoSystemInputs (a protocol, so this module imports no resource)."""

    @property
    def server(self) -> str: ...
    @property
    def database(self) -> str: ...
    @property
    def service_account(self) -> str: ...
    @property
    def admin_group(self) -> str: ...
    @property
    def affiliate_admin_group(self) -> str: ...


def _group_name(value: str) -> str:
    """A group as the database or a stack may write it (DOMAIN\\name or name), compared by name, any case."""
    return value.rsplit("\\", 1)[-1].strip().lower()


def _refusal(code: str, detail: str, node: str | None = None) -> EssoError:
    """An adoption refusal: each is raised before any change, and its message says so."""
    return EssoError(code, f"{detail}; nothing was changed.", node=node, step="adopt")


def same_account(a: str, b: str) -> bool:
    """Two DOMAIN\\user spellings of one account (case-insensitive)."""
    try:
        return tuple(x.lower() for x in split_account(a)) == tuple(x.lower() for x in split_account(b))
    except ValueError:
        return a.strip().lower() == b.strip().lower()


def same_system(config: contracts.SsoConfigState | None, inputs: AdoptionInputs) -> bool:
    return config is not None and config.is_system(inputs.server, inputs.database)


def check_groups(inputs: AdoptionInputs, database: contracts.SsoDatabaseFacts) -> None:
    """ESSO-091 when the stack names other SSO groups than the existing system's database records."""
    problems = []
    for key, wanted, actual in (
        ("sso.adminGroup", inputs.admin_group, database.admin_group),
        ("sso.affiliateAdminGroup", inputs.affiliate_admin_group, database.affiliate_admin_group),
    ):
        if actual and _group_name(actual) != _group_name(wanted):
            problems.append(f"{key} is {wanted!r} but the SSO system uses {actual!r}")
    if problems:
        raise _refusal("ESSO-091", "; ".join(problems))


def check_cluster_node(inputs: AdoptionInputs, node: str, facts: contracts.NodeFacts) -> None:
    """A node configured for another SSO system is refused (ESSO-005); a node joined to this one by hand, with or
    without the secret, is adopted (its join does nothing, its restore brings the secret) unless ENTSSO runs there
    as another account (ESSO-091)."""
    config = facts.sso_config
    if config is None:
        return
    if not same_system(config, inputs):
        raise _refusal(
            "ESSO-005",
            f"the node is configured for the SSO system {config.server}/{config.database}, not "
            f"{inputs.server}/{inputs.database}",
            node,
        )
    account = facts.entsso.account
    if account and not same_account(account, inputs.service_account):
        raise _refusal(
            "ESSO-091",
            f"ENTSSO on this node, joined to the system by hand, logs on as {account}, not sso.serviceAccount "
            f"{inputs.service_account}",
            node,
        )


def check_current_server(
    inputs: AdoptionInputs, server: str, facts: contracts.NodeFacts, database: contracts.SsoDatabaseFacts
) -> str:
    """The configured current master secret server is the one the database names, configured for it, running as
    the stack's service account and holding its master secret; returns that secret's MSID (ESSO-092/091)."""
    if not same_system(facts.sso_config, inputs):
        where = (
            f"the SSO system {facts.sso_config.server}/{facts.sso_config.database}"
            if facts.sso_config
            else "no SSO system"
        )
        raise _refusal("ESSO-092", f"{server} is configured for {where}, not {inputs.server}/{inputs.database}", server)
    named = database.secret_server or ""
    if named.lower() != server.lower():
        raise _refusal(
            "ESSO-092",
            f"the SSO database names {named or 'no server'} as its master secret server, not {server}: set "
            f"existingSystem.masterSecretServer to {named or 'that server'}",
            server,
        )
    account = facts.entsso.account
    if account and not same_account(account, inputs.service_account):
        raise _refusal(
            "ESSO-091",
            f"the SSO system's service account (ENTSSO on {server}) is {account}, but sso.serviceAccount is "
            f"{inputs.service_account}: every node must join with the system's account",
            server,
        )
    held = list(facts.ssoss_msids)
    msid = database.msid or (held[-1] if len(held) == 1 else None)
    if msid is None or not holds_msid(held, msid):
        raise _refusal(
            "ESSO-092", f"{server} does not hold the master secret the database uses (MSID {msid or 'unknown'})", server
        )
    return msid
