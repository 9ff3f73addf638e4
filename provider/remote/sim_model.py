"""The simulator's reasoning about a World: names, tokens, rights, cluster state, and what clients see.

Why apart from the handlers: the same questions ("does this token carry SSO Administrators?", "is the
clustered ENTSSO registered under the network name?") are asked by several scripts, by
``client_can_reach_secret_server`` and by tests. Keeping them here keeps every handler short and
makes each rule of docs/design.md live in one function.

Where: this module keeps the cluster questions and what clients see; ``sim_domain`` holds ``Ctx``, names,
accounts, tokens, rights and a node's SSO database, ``sim_worlds`` the worlds a stack starts from. Both are
re-exported here, so ``sim_model.find_node`` and the like keep working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from provider import contracts
from provider.errors import EssoError
from provider.remote.sim_domain import ENTSSO as ENTSSO
from provider.remote.sim_domain import GENERIC_SERVICE as GENERIC_SERVICE
from provider.remote.sim_domain import IP_ADDRESS as IP_ADDRESS
from provider.remote.sim_domain import MSDTC as MSDTC
from provider.remote.sim_domain import NETWORK_NAME as NETWORK_NAME
from provider.remote.sim_domain import RPC_NO_ENDPOINTS as RPC_NO_ENDPOINTS
from provider.remote.sim_domain import STATUS_CLUSTER as STATUS_CLUSTER
from provider.remote.sim_domain import STATUS_RUNNING as STATUS_RUNNING
from provider.remote.sim_domain import Ctx as Ctx
from provider.remote.sim_domain import Interrupted as Interrupted
from provider.remote.sim_domain import PostconditionError as PostconditionError
from provider.remote.sim_domain import current_groups as current_groups
from provider.remote.sim_domain import domain_of as domain_of
from provider.remote.sim_domain import effective_logon_right as effective_logon_right
from provider.remote.sim_domain import find_domain_group as find_domain_group
from provider.remote.sim_domain import find_node as find_node
from provider.remote.sim_domain import find_user as find_user
from provider.remote.sim_domain import has_logon_right as has_logon_right
from provider.remote.sim_domain import holds_current_msid as holds_current_msid
from provider.remote.sim_domain import holds_through as holds_through
from provider.remote.sim_domain import is_member as is_member
from provider.remote.sim_domain import issue_token as issue_token
from provider.remote.sim_domain import new_msid as new_msid
from provider.remote.sim_domain import node_database as node_database
from provider.remote.sim_domain import path_key as path_key
from provider.remote.sim_domain import sam_of as sam_of
from provider.remote.sim_domain import same_account as same_account
from provider.remote.sim_domain import sql_host as sql_host
from provider.remote.sim_domain import token_has_group as token_has_group
from provider.remote.sim_domain import under as under
from provider.remote.sim_worlds import demo_world as demo_world
from provider.remote.sim_worlds import world_for as world_for
from provider.remote.world import (
    ClusterGroup,
    ClusterResource,
    Node,
    SsoDatabase,
    World,
)

if TYPE_CHECKING:
    pass


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
