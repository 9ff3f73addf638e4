"""The simulator's vocabulary: one script call (``Ctx``), names, domain accounts, logon tokens and rights,
and the SSO database a node is configured for.

Why apart: every handler and every cluster question builds on these; they change when the domain model does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, NoReturn

from provider import contracts
from provider.config.names import split_account
from provider.errors import EssoError
from provider.remote.world import (
    DomainGroup,
    DomainUser,
    LogonToken,
    Node,
    SsoDatabase,
    World,
)

ENTSSO = "ENTSSO"
# The resource type names, one spelling for the scripts' contract, the preflight and the simulator.
GENERIC_SERVICE = contracts.GENERIC_SERVICE
NETWORK_NAME = contracts.NETWORK_NAME
IP_ADDRESS = contracts.IP_ADDRESS
MSDTC = contracts.MSDTC
RPC_NO_ENDPOINTS = "0x800706D9"
STATUS_RUNNING = 0x2
STATUS_CLUSTER = 0x20


@dataclass
class Ctx:
    """One script invocation: the world it acts on, the node it runs on, who runs it, over what transport."""

    world: World
    node: Node
    script: contracts.Script[Any, Any]
    identity: str
    second_hop: bool
    interrupt: str | None = None  # an injected ``interrupt`` fault's phase: the script stops there

    def phase(self, name: str) -> None:
        """A point between two steps of a multi-step change script (``Script.phases``): an injected ``interrupt``
        at this phase stops the script here, keeping what it already changed (issue 14, point 3)."""
        if name not in self.script.phases:
            raise AssertionError(f"{self.script.name} declares no phase {name!r}")
        if self.interrupt == name:
            raise Interrupted(name)

    def fail(self, code: str, detail: str) -> NoReturn:
        raise EssoError(code, detail, node=self.node.name, step=self.script.name)

    def fail_after_change(self, code: str, detail: str) -> NoReturn:
        """A script's post-condition failed: what it did stays done (Windows has no rollback), then it throws."""
        raise PostconditionError(code, detail, node=self.node.name, step=self.script.name)


class Interrupted(Exception):  # noqa: N818 (a signal, not an error the product sees)
    """Raised at an injected ``interrupt`` phase: the simulator keeps the world as the script left it there."""

    def __init__(self, phase: str) -> None:
        super().__init__(phase)
        self.phase = phase


class PostconditionError(EssoError):
    """An ESSO refusal raised after the script acted: the simulator keeps the world as the script left it."""


# ------------------------------------------------------------------------------------------- names


def sam_of(account: str) -> str:
    """The sAMAccountName of DOMAIN\\user (or of a bare name)."""
    return split_account(account)[1]


def domain_of(account: str, default: str) -> str:
    return split_account(account)[0] if "\\" in account else default


def same_account(a: str, b: str, domain: str) -> bool:
    """Two account spellings name the same principal (case-insensitive, domain defaulted)."""
    return (domain_of(a, domain).lower(), sam_of(a).lower()) == (domain_of(b, domain).lower(), sam_of(b).lower())


def path_key(path: str) -> str:
    """Windows paths are case-insensitive: files and folders are stored under this key."""
    return path.replace("/", "\\").rstrip("\\").lower()


def under(key: str, folder_key: str) -> bool:
    return key.startswith(folder_key + "\\")


def sql_host(server: str) -> str:
    """host of host[\\instance][,port]."""
    return server.split("\\", 1)[0].split(",", 1)[0].strip()


def find_node(world: World, name: str) -> Node | None:
    for key, node in world.nodes.items():
        if key.lower() == name.lower():
            return node
    return None


# ------------------------------------------------------------------------------------------ domain


def find_domain_group(world: World, name: str) -> DomainGroup | None:
    wanted = sam_of(name).lower()
    for key, group in world.domain.groups.items():
        if key.lower() == wanted or group.name.lower() == wanted:
            return group
    return None


def find_user(world: World, account: str) -> DomainUser | None:
    if domain_of(account, world.domain.name).lower() != world.domain.name.lower():
        return None
    wanted = sam_of(account).lower()
    for key, user in world.domain.users.items():
        if key.lower() == wanted or user.sam.lower() == wanted:
            return user
    return None


def is_member(world: World, group_name: str, account: str) -> bool:
    group = find_domain_group(world, group_name)
    if group is None or find_user(world, account) is None:
        return False
    return sam_of(account).lower() in {m.lower() for m in group.members}


def current_groups(world: World, account: str) -> list[str]:
    """The domain groups the account belongs to now (what a newly issued token carries)."""
    if find_user(world, account) is None:
        return []
    who = sam_of(account).lower()
    return sorted(g.name for g in world.domain.groups.values() if who in {m.lower() for m in g.members})


def issue_token(world: World, node: Node, identity: str) -> LogonToken:
    """A logon session opens: its token carries the memberships of this moment, and no later ones (rule 13)."""
    world.clock += 1
    token = LogonToken(identity=identity, groups=current_groups(world, identity), issued_at=world.clock)
    node.tokens[identity] = token
    return token


def token_has_group(world: World, node: Node, identity: str, group: str) -> bool:
    if "\\" in group and domain_of(group, world.domain.name).lower() != world.domain.name.lower():
        return False
    token = node.tokens.get(identity)
    return token is not None and sam_of(group).lower() in {g.lower() for g in token.groups}


def effective_logon_right(node: Node) -> list[str]:
    """A Group Policy that defines 'Log on as a service' replaces the local list (reference §10.2)."""
    return node.gpo_logon_right if node.gpo_logon_right is not None else node.logon_right


def holds_through(world: World, holder: str, account: str) -> bool:
    """The holder is the account itself or a domain group it is in now (an S4U token's groups; issue 9 A6)."""
    if same_account(holder, account, world.domain.name):
        return True
    group = find_domain_group(world, holder)
    return group is not None and is_member(world, group.name, account)


def has_logon_right(world: World, node: Node, account: str) -> bool:
    return any(holds_through(world, a, account) for a in effective_logon_right(node))


# --------------------------------------------------------------------------------------------- SSO


def node_database(world: World, node: Node) -> SsoDatabase | None:
    if not node.sso_server or not node.sso_database:
        return None
    return world.databases.get(world.db_key(node.sso_server, node.sso_database))


def new_msid() -> str:
    """A new master secret id (the GUID subkey name under SSOSS)."""
    return str(uuid.uuid4())


def holds_current_msid(world: World, node: Node) -> bool:
    db = node_database(world, node)
    return db is not None and db.msid.lower() in {m.lower() for m in node.ssoss}
