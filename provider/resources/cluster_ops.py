"""Cluster operations more than one resource takes: choose an Up node, set ENTSSO's possible owners, move the role.

Why one module: resource modules import only ``base`` and this (never each other), and the rule "a name the
cluster reports is used only when it names a configured node" (issue 13, H1) is applied here to the names the
cluster hands back, through the same ``CallPolicy`` that ``Remote.run`` enforces.
"""

from __future__ import annotations

from collections.abc import Sequence

from provider import contracts
from provider.errors import EssoError
from provider.remote.base import Remote, node_key
from provider.resources.base import Steps


def any_up(cluster: contracts.ClusterFacts, nodes: Sequence[str], exclude: Sequence[str] = ()) -> str:
    """A configured node the cluster reports Up (configured order and spelling), not one of ``exclude``.

    A cluster member that is not configured is never chosen: it would receive the change script and the
    credentials.
    """
    up = {key for n in cluster.nodes if n.state == "Up" and (key := node_key(n.name))}
    skip = {node_key(e) for e in exclude}
    for node in nodes:
        key = node_key(node)
        if key in up and key not in skip:
            return node
    raise EssoError("ESSO-017", f"no configured node ({', '.join(nodes)}) is Up in the cluster.", step="cluster")


def owner_of_role(remote: Remote, cluster: contracts.ClusterFacts, *, step: str) -> str | None:
    """The role's owner node in its configured spelling; ESSO-070 when the cluster names another host."""
    if cluster.role is None:
        return None
    return remote.policy.target(cluster.role.owner_node, step=step)


def set_owners(
    remote: Remote,
    cluster: contracts.ClusterFacts,
    resource: str,
    owners: list[str],
    steps: Steps,
    *,
    nodes: Sequence[str],
    avoid: str = "",
) -> None:
    """Set ENTSSO's possible owners from a configured Up node (not the one being removed)."""
    via = any_up(cluster, nodes, exclude=(avoid,))
    result = remote.run(
        via, contracts.SET_SSO_POSSIBLE_OWNERS, contracts.PossibleOwnersParams(resource_name=resource, owners=owners)
    )
    steps.add(via, contracts.SET_SSO_POSSIBLE_OWNERS.name, result.changed)


def move_role(remote: Remote, *, role: str, node: str, steps: Steps, cycle: str = "") -> None:
    """Move-SsoRole to ``node`` (disruptive: Remote.run refuses it without allowDisruption); with ``cycle`` (the
    ENTSSO resource's name) the same call then cycles it offline/online there, as a restore needs (seed step 3)."""
    params = contracts.MoveRoleParams(role_name=role, node=node, cycle_resource=cycle)
    moved = remote.run(node, contracts.MOVE_SSO_ROLE, params)
    steps.add(node, contracts.MOVE_SSO_ROLE.name, moved.changed)
    if cycle:
        steps.add(node, contracts.RESTART_SSO_CLUSTER_RESOURCE.name, True, "in the same call as the move")
