"""Replacing a failed node at provider level: what the cluster does to a dead node, and what the engine does
to a stack whose ``cluster.nodes`` changed.

Why here: the node-replacement tests (tests/providers/test_node_replacement.py) need three things the
simulator and ``Procedure`` do not give:

* the failover cluster's side of a node failure (``fail_node``: the node stops answering, the cluster marks
  it Down and fails its roles over), of ``Remove-ClusterNode`` (``evict_node``) and of ``Add-ClusterNode``
  (``add_node``: a node prepared per the README's prerequisites, nothing configured);
* the engine's sequence for a changed program (``Stack.up``, which lives in ``tests/support/procedure.py``
  and is re-exported here): check and diff every resource still in the program, update it when the diff says
  so, create the new ones, in the component's order, then delete the removed ones in reverse dependency
  order. ``Stack.preview`` is the same walk with diffs only;
* the projection of a world that "equals a fresh build" compares (``projection``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from provider.remote import sim_model
from provider.remote.simulator import Simulator
from provider.remote.world import Node, World
from tests.support.procedure import Event, Op, Resource, Stack, ops

__all__ = ["Event", "Op", "Resource", "Stack", "add_node", "evict_node", "fail_node", "ops", "projection"]


# ------------------------------------------------------------------------------------------ the cluster


def fail_node(sim: Simulator, name: str) -> None:
    """The node dies: it answers nothing (``reachable = False``), the cluster marks it Down and fails its roles over.

    Each role the node owned moves to the first Up member that may own every resource of the role, and its
    resources come online there (a clustered ENTSSO starts on the new owner), as the cluster service does.
    """
    with sim.edit() as world:
        node = sim_model.find_node(world, name)
        assert node is not None, name
        node.reachable = False
        node.entsso_state = "Stopped"
        world.cluster.nodes[node.name] = "Down"
        for group in world.cluster.groups.values():
            if group.owner_node.lower() != name.lower():
                continue
            resources = sim_model.group_resources(world, group.name)
            survivor = next(
                (
                    n
                    for n, state in world.cluster.nodes.items()
                    if state == "Up" and all(not r.possible_owners or n in r.possible_owners for r in resources)
                ),
                None,
            )
            assert survivor is not None, f"no survivor can own role {group.name}"
            for resource in resources:
                sim_model.take_offline(world, resource)
            group.owner_node = survivor
            world.cluster.cycled_on = dict.fromkeys(world.cluster.nodes, False)
            for resource in resources:
                sim_model.bring_online(world, resource)
            sim_model.refresh_group_state(world, group.name)


def evict_node(sim: Simulator, name: str) -> None:
    """``Remove-ClusterNode``: the node leaves the membership and every resource's possible owners."""
    with sim.edit() as world:
        member = next((n for n in world.cluster.nodes if n.lower() == name.lower()), None)
        assert member is not None, f"{name} is not a cluster member"
        owned = [g.name for g in world.cluster.groups.values() if g.owner_node.lower() == name.lower()]
        assert not owned, f"{name} still owns {owned}; a dead node's roles fail over first (fail_node)"
        del world.cluster.nodes[member]
        world.cluster.cycled_on.pop(member, None)
        for resource in world.cluster.resources.values():
            resource.possible_owners = [o for o in resource.possible_owners if o.lower() != name.lower()]


def add_node(sim: Simulator, name: str) -> Node:
    """``Add-ClusterNode`` of a node prepared per the README's prerequisites, and nothing more.

    As ``demo_world`` builds nodes: ESSO installed and unconfigured (BizTalk Configuration not run), at the
    version the other nodes run, a local MSDTC with its own CID, no logon right yet, Up in the cluster and a
    possible owner of the cluster's resources. The clustered ENTSSO is left out of that list: its possible
    owners are the stack's to set (docs/design.md: exactly the configured nodes), so a test proves the stack adds the
    node. (Windows would add it everywhere; the provider converges either way.)
    """
    with sim.edit() as world:
        assert sim_model.find_node(world, name) is None, f"{name} already exists"
        versions = {n.esso_version for n in world.nodes.values() if n.esso_installed}
        assert len(versions) == 1, versions
        node = Node(
            name=name,
            esso_version=versions.pop(),
            dtc_cid=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.local-dtc")),
        )
        world.nodes[name] = node
        world.cluster.nodes[name] = "Up"
        world.cluster.cycled_on[name] = False
        for resource in world.cluster.resources.values():
            if not sim_model.is_entsso_resource(resource) and name not in resource.possible_owners:
                resource.possible_owners.append(name)
        return node


# ------------------------------------------------------------------------------------------ the world


def projection(world: World, nodes: Sequence[str], role: str = "SSO") -> dict[str, Any]:
    """What a fresh build with ``nodes`` determines, and nothing that is history.

    The database's global info (not its MSID, which every build draws anew, nor the node that created it),
    the cluster membership, the role and each of its resources (parameters, dependencies, possible owners),
    and on each live node its ESSO configuration, ENTSSO's account/start type/state, the logon right, and
    whether SSOSS holds exactly the database's MSID.
    """
    (database,) = world.databases.values()
    group = sim_model.find_cluster_group(world, role)
    assert group is not None
    live: dict[str, Any] = {}
    for name in nodes:
        node = sim_model.find_node(world, name)
        assert node is not None, name
        live[name] = {
            "ssoServer": node.sso_server,
            "ssoDatabase": node.sso_database,
            "entssoAccount": node.entsso_account,
            "entssoStartType": node.entsso_start_type,
            "entssoState": node.entsso_state,
            "logonRight": sim_model.has_logon_right(world, node, database.service_account),
            "ssossIsTheDatabaseMsid": [x.lower() for x in node.ssoss] == [database.msid.lower()],
        }
    return {
        "database": {
            "server": database.server,
            "name": database.name,
            "secretServer": database.secret_server,
            "adminGroup": database.admin_group,
            "affiliateAdminGroup": database.affiliate_admin_group,
            "serviceAccount": database.service_account,
        },
        "clusterNodes": dict(sorted(world.cluster.nodes.items())),
        "role": {"owner": group.owner_node, "state": group.state},
        "roleResources": {
            r.name: {
                "type": r.type,
                "state": r.state,
                "parameters": {k: str(v) for k, v in sorted(r.parameters.items())},
                "dependencies": list(r.dependencies),
                "possibleOwners": sorted(r.possible_owners),
            }
            for r in sorted(sim_model.group_resources(world, group.name), key=lambda r: r.name)
        },
        "nodes": live,
    }
