"""The worlds a stack starts from: the seed's preconditions (``demo_world``) and the world a stack's config describes.

Why apart: what a fresh world holds changes with the seed and the stack model, not with the rules.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypedDict, Unpack

from provider.remote.sim_domain import IP_ADDRESS, MSDTC, NETWORK_NAME, sam_of, sql_host
from provider.remote.world import (
    Cluster,
    ClusterGroup,
    ClusterResource,
    Domain,
    DomainUser,
    Node,
    World,
)

if TYPE_CHECKING:
    from provider.spec import ClusterSpec


class WorldNames(TypedDict, total=False):
    """The names a demo world is built with; each one left out is the seed's example (``DEMO_NAMES``)."""

    network_name: str
    role: str
    domain: str
    service_account: str
    configuring_account: str
    sql: str
    cluster_name: str


DEMO_NAMES: WorldNames = {
    "network_name": "BIZTALKSSO",
    "role": "SSO",
    "domain": "CONTOSO",
    "service_account": "CONTOSO\\svc-entsso",
    "configuring_account": "CONTOSO\\esso-config",
    "sql": "SQL01",
    "cluster_name": "SSOCLUSTER",
}


def named(names: WorldNames) -> WorldNames:
    """``names`` with the seed's example for each name left out (every key present)."""
    return {**DEMO_NAMES, **names}


def world_names(spec: ClusterSpec) -> WorldNames:
    """The names of the world a stack's configuration describes (one mapping for every world builder)."""
    return {
        "network_name": spec.cluster.network_name,
        "role": spec.cluster.role,
        "domain": spec.domain.name,
        "service_account": spec.sso.service_account,
        "configuring_account": spec.sso.configuring_account,
        "sql": spec.database.server,
    }


# ------------------------------------------------------------------------------------------ worlds


def demo_world(nodes: Sequence[str] = ("SSO01", "SSO02"), **given: Unpack[WorldNames]) -> World:
    """The seed's preconditions and nothing more: ESSO installed but unconfigured, no SSO groups yet,
    a cluster with a clustered MSDTC (unique CID) and the role with an IP Address and a Network Name.
    """
    chosen = named(given)
    network_name, role, cluster_name = chosen["network_name"], chosen["role"], chosen["cluster_name"]
    service_account, configuring_account = chosen["service_account"], chosen["configuring_account"]
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
        domain=Domain(name=chosen["domain"], users=users),
        nodes=world_nodes,
        cluster=cluster,
        sql_servers=[sql_host(chosen["sql"])],
    )


def world_for(spec: ClusterSpec) -> World:
    """The demo world a stack's configuration describes (its nodes, names, accounts and SQL Server); a stack
    that adopts from a live master secret server starts beside that server's existing SSO system."""
    if spec.existing_system.master_secret_server is not None:
        from provider.remote.sim_existing import existing_world_for  # it builds on this module

        return existing_world_for(spec)
    return demo_world(list(spec.cluster.nodes), **world_names(spec))
