"""The simulator's reasoning about a World: names, tokens, rights, cluster state, and what clients see.

Why apart from the handlers: the same questions ("does this token carry SSO Administrators?", "is the
clustered ENTSSO registered under the network name?") are asked by several scripts, by
``client_can_reach_secret_server`` and by tests. Keeping them here keeps every handler short and
makes each rule of docs/design.md live in one function. Also builds the worlds a stack starts from.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from provider import contracts
from provider.config.names import split_account
from provider.errors import EssoError
from provider.remote.world import (
    Cluster,
    ClusterGroup,
    ClusterResource,
    Domain,
    DomainGroup,
    DomainUser,
    LogonToken,
    Node,
    SsoDatabase,
    World,
)

if TYPE_CHECKING:
    from provider.spec import ClusterSpec

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


# ----------------------------------------------------------------------------------------- cluster


def find_resource(world: World, name: str) -> ClusterResource | None:
    for key, resource in world.cluster.resources.items():
        if key.lower() == name.lower() or resource.name.lower() == name.lower():
            return resource
    return None


def find_cluster_group(world: World, name: str) -> ClusterGroup | None:
    for key, group in world.cluster.groups.items():
        if key.lower() == name.lower() or group.name.lower() == name.lower():
            return group
    return None


def group_resources(world: World, group: str) -> list[ClusterResource]:
    return [r for r in world.cluster.resources.values() if r.group.lower() == group.lower()]


def is_entsso_resource(resource: ClusterResource) -> bool:
    return resource.type == GENERIC_SERVICE and str(resource.parameters.get("ServiceName", "")).upper() == ENTSSO


def entsso_resources(world: World) -> list[ClusterResource]:
    return [r for r in world.cluster.resources.values() if is_entsso_resource(r)]


def use_network_name(resource: ClusterResource) -> int:
    try:
        return int(str(resource.parameters.get("UseNetworkName", 0)))
    except ValueError:
        return 0


def name_dependency(world: World, resource: ClusterResource) -> ClusterResource | None:
    """The Network Name resource of the same group that the resource depends on, if any."""
    for dep in resource.dependencies:
        provider = find_resource(world, dep)
        if provider is not None and provider.type == NETWORK_NAME and provider.group.lower() == resource.group.lower():
            return provider
    return None


def registered_under_network_name(world: World, resource: ClusterResource) -> bool:
    """Rule 8: only UseNetworkName=1 plus the Name dependency, in effect since the last online, registers it."""
    return use_network_name(resource) == 1 and name_dependency(world, resource) is not None and not resource.needs_cycle


def owner_of(world: World, resource: ClusterResource) -> Node | None:
    group = find_cluster_group(world, resource.group)
    return find_node(world, group.owner_node) if group else None


def refresh_group_state(world: World, group_name: str) -> None:
    group = find_cluster_group(world, group_name)
    if group is None:
        return
    states = [r.state for r in group_resources(world, group.name)]
    if states and all(s == "Online" for s in states):
        group.state = "Online"
    elif any(s == "Online" for s in states):
        group.state = "PartialOnline"
    elif any(s == "Failed" for s in states):
        group.state = "Failed"
    else:
        group.state = "Offline" if states else group.state


def bring_online(world: World, resource: ClusterResource, _seen: frozenset[str] = frozenset()) -> None:
    """Start-ClusterResource: providers first; a clustered ENTSSO starts the service on the owner node."""
    if resource.name.lower() in _seen:
        return
    for dep in resource.dependencies:
        provider = find_resource(world, dep)
        if provider is not None and provider.state != "Online":
            bring_online(world, provider, _seen | {resource.name.lower()})
    if is_entsso_resource(resource):
        owner = owner_of(world, resource)
        if owner is None or not owner.esso_installed or not owner.entsso_account:
            resource.state = "Failed"  # ENTSSO is not configured there: the service cannot start
            return
        if not service_can_log_on(world, owner) and owner.entsso_state != "Running":
            resource.state = "Failed"  # error 1069: the account's password changed, the service's did not
            return
        if resource.state != "Online" and owner.entsso_state == "Running":
            # biztalk-esso.md section 8 (apacbiztalk blog): a local ENTSSO already running when the clustered
            # resource comes online keeps the RPC "SSOSecretServer" registration from happening (0x800706D9).
            owner.local_start_while_clustered = True
        owner.entsso_state = "Running"
    resource.state = "Online"
    resource.needs_cycle = False


def service_can_log_on(world: World, node: Node) -> bool:
    """Whether ENTSSO's stored logon password is the account's current one (else it fails to start, 1069)."""
    user = find_user(world, node.entsso_account or "")
    if user is None or user.password_digest is None or node.entsso_password_digest is None:
        return True
    return user.password_digest == node.entsso_password_digest


def take_offline(world: World, resource: ClusterResource) -> None:
    """Stop-ClusterResource: dependents first; a clustered ENTSSO stops the service on the owner node."""
    for other in world.cluster.resources.values():
        depends = any(d.lower() == resource.name.lower() for d in other.dependencies)
        if other is not resource and other.state == "Online" and depends:
            take_offline(world, other)
    if is_entsso_resource(resource) and resource.state == "Online":
        owner = owner_of(world, resource)
        if owner is not None:
            owner.entsso_state = "Stopped"
            owner.local_start_while_clustered = False  # the cluster stopped it: the next online is clean
    resource.state = "Offline"


def runs_outside_cluster(world: World, node: Node) -> bool:
    """ENTSSO runs on the node although the cluster does not run it there (a clustered ENTSSO exists)."""
    resources = entsso_resources(world)
    if not resources or node.entsso_state != "Running":
        return False
    for resource in resources:
        owner = owner_of(world, resource)
        # as Set-EntSsoStartMode.ps1: a resource Online or pending on this node is the cluster's to run
        running = resource.state == "Online" or resource.state.endswith("Pending")
        if running and owner is not None and owner.name.lower() == node.name.lower():
            return False
    return True


def secret_server_status(world: World, node: Node) -> contracts.SecretServerStatus:
    """ISSOConfigOM.GetServerStatus (rule 10): 0x2 only with the MSID, 0x20 only if correctly clustered here."""
    if node.status_call_fails and node.esso_installed and node.entsso_state == "Running":
        error = "GetServerStatus failed: The RPC server is unavailable. (0x800706ba)"
        return contracts.SecretServerStatus(flags=-1, running=False, clustered=False, error=error)
    running = node.esso_installed and node.entsso_state == "Running" and holds_current_msid(world, node)
    clustered = False
    if not node.local_start_while_clustered:
        for resource in entsso_resources(world):
            owner = owner_of(world, resource)
            here = owner is not None and owner.name.lower() == node.name.lower()
            if resource.state == "Online" and here and registered_under_network_name(world, resource):
                clustered = True
    flags = (STATUS_RUNNING if running else 0) | (STATUS_CLUSTER if clustered else 0)
    return contracts.SecretServerStatus(flags=flags, running=running, clustered=clustered)


def _lost_secret_server(name: str) -> str:
    return (
        "Failed to retrieve master secrets. Verify that the master secret server name is correct and that "
        f"it is available. Secret Server Name: {name} Error Code: {RPC_NO_ENDPOINTS}, there are no more "
        "endpoints available from the endpoint mapper."
    )


def _client_check(world: World, db: SsoDatabase) -> tuple[bool, str]:
    name = db.secret_server
    netnames = [
        r
        for r in world.cluster.resources.values()
        if r.type == NETWORK_NAME and str(r.parameters.get("Name", "")).lower() == name.lower()
    ]
    if netnames:
        netname = netnames[0]
        services = [r for r in entsso_resources(world) if r.group.lower() == netname.group.lower()]
        if not services:
            return False, f"{_lost_secret_server(name)} (no clustered ENTSSO in role {netname.group})"
        service = services[0]
        owner = owner_of(world, service)
        if service.state != "Online" or owner is None:
            return False, f"the clustered ENTSSO resource {service.name} is {service.state} (RPC server unavailable)"
        if not registered_under_network_name(world, service):
            why = []
            if use_network_name(service) != 1:
                why.append("UseNetworkName is not 1")
            if name_dependency(world, service) is None:
                why.append(f"no dependency on the Network Name resource {netname.name}")
            if service.needs_cycle:
                why.append("the repaired parameters wait for an offline/online cycle")
            return False, f"{_lost_secret_server(name)} ({'; '.join(why)})"
        if owner.local_start_while_clustered:
            return False, f"{_lost_secret_server(name)} (ENTSSO was started locally on {owner.name})"
        if owner.entsso_state != "Running" or not holds_current_msid(world, owner):
            return False, f"ENTSSO on {owner.name} holds no master secret for MSID {db.msid} (events 10520/10521)"
        return True, f"{name} is served by the clustered ENTSSO on {owner.name}"
    node = find_node(world, name)
    if node is None:
        return False, f"the secret server {name} does not resolve"
    if node.entsso_state != "Running" or not holds_current_msid(world, node):
        return False, f"ENTSSO on {node.name} is {node.entsso_state} or holds no master secret for MSID {db.msid}"
    return True, f"{name} is served by ENTSSO on {node.name} (not clustered)"


def client_can_reach_secret_server(world: World) -> tuple[bool, str]:
    """What an SSO client sees when it asks the database's secret server for the master secret (rule 8)."""
    if not world.databases:
        return False, "there is no SSO database"
    for key in sorted(world.databases):
        ok, why = _client_check(world, world.databases[key])
        if not ok:
            return False, why
    return True, "; ".join(_client_check(world, world.databases[k])[1] for k in sorted(world.databases))


def require_client_reach(world: World) -> None:
    """Raise ESSO-010 (0x800706D9) or ESSO-026 when a client would fail to get the master secret."""
    ok, why = client_can_reach_secret_server(world)
    if not ok:
        raise EssoError("ESSO-010" if RPC_NO_ENDPOINTS in why else "ESSO-026", why, step="client-check")


# ------------------------------------------------------------------------------------------ worlds


def demo_world(
    nodes: Sequence[str] = ("SSO01", "SSO02"),
    network_name: str = "BIZTALKSSO",
    role: str = "SSO",
    domain: str = "CONTOSO",
    service_account: str = "CONTOSO\\svc-entsso",
    configuring_account: str = "CONTOSO\\esso-config",
    sql: str = "SQL01",
    cluster_name: str = "SSOCLUSTER",
) -> World:
    """The seed's preconditions and nothing more: ESSO installed but unconfigured, no SSO groups yet,
    a cluster with a clustered MSDTC (unique CID) and the role with an IP Address and a Network Name.
    """
    names = list(nodes)
    users = {sam_of(a): DomainUser(sam=sam_of(a)) for a in (service_account, configuring_account)}
    world_nodes = {n: Node(name=n, dtc_cid=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{n}.local-dtc"))) for n in names}
    owners = list(names)

    def res(name: str, kind: str, group: str, **parameters: str | int) -> ClusterResource:
        return ClusterResource(
            name=name, type=kind, group=group, state="Online", parameters=dict(parameters), possible_owners=owners
        )

    resources = [
        res("Cluster IP Address", IP_ADDRESS, "Cluster Group", Address="10.0.0.10"),
        res("Cluster Name", NETWORK_NAME, "Cluster Group", Name=cluster_name, DnsName=cluster_name),
        res("MSDTC-IP", IP_ADDRESS, "MSDTC", Address="10.0.0.11"),
        res("MSDTC-Name", NETWORK_NAME, "MSDTC", Name=f"{cluster_name}-DTC", DnsName=f"{cluster_name}-DTC"),
        res("MSDTC", MSDTC, "MSDTC", CID=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{cluster_name}.clustered-dtc"))),
        res(f"{role}-IP", IP_ADDRESS, role, Address="10.0.0.12"),
        res(f"{role}-NetName", NETWORK_NAME, role, Name=network_name, DnsName=network_name),
    ]
    resources[1].dependencies = ["Cluster IP Address"]
    resources[3].dependencies = ["MSDTC-IP"]
    resources[4].dependencies = ["MSDTC-Name"]
    resources[6].dependencies = [f"{role}-IP"]
    groups = {g: ClusterGroup(name=g, owner_node=names[0], state="Online") for g in ("Cluster Group", "MSDTC", role)}
    cluster = Cluster(
        name=cluster_name,
        nodes=dict.fromkeys(names, "Up"),
        groups=groups,
        resources={r.name: r for r in resources},
        cycled_on=dict.fromkeys(names, False),
    )
    return World(
        domain=Domain(name=domain, users=users),
        nodes=world_nodes,
        cluster=cluster,
        sql_servers=[sql_host(sql)],
    )


def world_for(spec: ClusterSpec) -> World:
    """The demo world a stack's configuration describes (its nodes, names, accounts and SQL Server); a stack
    that adopts from a live master secret server starts beside that server's existing SSO system."""
    if spec.existing_system.master_secret_server is not None:
        from provider.remote.sim_existing import existing_world_for  # it builds on this module

        return existing_world_for(spec)
    return demo_world(
        nodes=list(spec.cluster.nodes),
        network_name=spec.cluster.network_name,
        role=spec.cluster.role,
        domain=spec.domain.name,
        service_account=spec.sso.service_account,
        configuring_account=spec.sso.configuring_account,
        sql=spec.database.server,
    )
