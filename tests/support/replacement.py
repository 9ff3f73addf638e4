"""Replacing a failed node at provider level: what the cluster does to a dead node, and what the engine does
to a stack whose ``cluster.nodes`` changed.

Why here: the node-replacement tests (tests/providers/test_node_replacement.py) need three things the
simulator and ``Procedure`` do not give:

* the failover cluster's side of a node failure (``fail_node``: the node stops answering, the cluster marks
  it Down and fails its roles over), of ``Remove-ClusterNode`` (``evict_node``) and of ``Add-ClusterNode``
  (``add_node``: a node prepared per the README's prerequisites, nothing configured);
* the engine's sequence for a changed program (``Stack.up``): check and diff every resource still in the
  program, update it when the diff says so, create the new ones, in the component's order, then delete the
  removed ones in reverse dependency order. ``Stack.preview`` is the same walk with diffs only;
* the projection of a world that "equals a fresh build" compares (``projection``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from provider.remote import sim_model as m
from provider.remote.simulator import Simulator
from provider.remote.world import Node, World
from provider.resources.base import EssoProvider, Steps
from provider.spec import ClusterSpec
from tests.support.procedure import Procedure

Op = Literal["create", "update", "same", "delete"]


# ------------------------------------------------------------------------------------------ the cluster


def fail_node(sim: Simulator, name: str) -> None:
    """The node dies: it answers nothing (``reachable = False``), the cluster marks it Down and fails its roles over.

    Each role the node owned moves to the first Up member that may own every resource of the role, and its
    resources come online there (a clustered ENTSSO starts on the new owner), as the cluster service does.
    """
    with sim.edit() as world:
        node = m.find_node(world, name)
        assert node is not None, name
        node.reachable = False
        node.entsso_state = "Stopped"
        world.cluster.nodes[node.name] = "Down"
        for group in world.cluster.groups.values():
            if group.owner_node.lower() != name.lower():
                continue
            resources = m.group_resources(world, group.name)
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
                m.take_offline(world, resource)
            group.owner_node = survivor
            world.cluster.cycled_on = dict.fromkeys(world.cluster.nodes, False)
            for resource in resources:
                m.bring_online(world, resource)
            m.refresh_group_state(world, group.name)


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
    owners are the stack's to set (DESIGN: exactly the configured nodes), so a test proves the stack adds the
    node. (Windows would add it everywhere; the provider converges either way.)
    """
    with sim.edit() as world:
        assert m.find_node(world, name) is None, f"{name} already exists"
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
            if not m.is_entsso_resource(resource) and name not in resource.possible_owners:
                resource.possible_owners.append(name)
        return node


# ------------------------------------------------------------------------------------------- the engine


@dataclass
class Resource:
    """One resource in the emulated state: its provider class, id, checked inputs and outputs.

    As in the engine's state: ``check()`` receives the old *inputs* (so a password's fingerprint keeps its
    salt), ``diff()``/``update()``/``delete()`` the old *outputs*.
    """

    name: str
    cls: type[EssoProvider]
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass
class Event:
    """What the emulated engine did to one resource, with the diff it acted on and the provider's steps."""

    name: str
    op: Op
    changes: bool = False
    replaces: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def changed_steps(self) -> list[tuple[str, str]]:
        return [(s["node"], s["step"]) for s in self.steps if s.get("changed")]


class Stack:
    """The state of one stack, and ``pulumi up``/``preview`` over it as the engine sequences them.

    Every provider call gets a fresh provider configured with the stack configuration of that run (the
    engine's ``configure()``). A failed call propagates; the state keeps what succeeded before it, as the
    engine's does, so a later ``up`` resumes (e.g. a delete that failed is tried again).
    """

    def __init__(self) -> None:
        self.state: dict[str, Resource] = {}
        self.events: list[Event] = []

    @staticmethod
    def _provider(cls: type[EssoProvider], spec: ClusterSpec) -> EssoProvider:
        provider = cls()
        provider.use_spec(spec)
        return provider

    def outputs(self, name: str) -> dict[str, Any]:
        return self.state[name].outputs

    def forget(self, name: str) -> None:
        """``pulumi state delete <urn>``: drop a resource from state without calling its provider."""
        dependents = self._dependents(name)
        assert not dependents, f"{name} has dependents in state: {dependents}"
        del self.state[name]

    def _dependents(self, name: str) -> list[str]:
        """The component's dependencies, by name: a node's restore depends on its join (and on the restores
        before it); the clustered service, the name and everything else depend on the SSO system."""
        if name.startswith("sso-join-"):
            return [n for n in self.state if n == "master-secret-restore-" + name.removeprefix("sso-join-")]
        return []

    def preview(self, spec: ClusterSpec) -> list[Event]:
        """``pulumi preview --diff``: check and diff only (both pure), nothing created, changed or deleted."""
        plan: list[Event] = []
        program = Procedure(spec).resources()
        for name, cls, inputs in program:
            provider = self._provider(cls, spec)
            old = self.state.get(name)
            checked = provider.check(old.inputs if old else {}, inputs)
            assert not checked.failures, [(f.property, f.reason) for f in checked.failures]
            if old is None:
                plan.append(Event(name, "create"))
                continue
            diff = provider.diff(old.id, old.outputs, checked.inputs)
            op: Op = "update" if diff.changes else "same"
            plan.append(Event(name, op, bool(diff.changes), list(diff.replaces or [])))
        plan += [Event(name, "delete") for name in self._removed(program)]
        return plan

    def _removed(self, program: Sequence[tuple[str, type[EssoProvider], dict[str, Any]]]) -> list[str]:
        """Resources in state but not in the program, in reverse dependency (= reverse registration) order."""
        wanted = {name for name, _, _ in program}
        return [name for name in reversed(self.state) if name not in wanted]

    def up(self, spec: ClusterSpec) -> list[Event]:
        """``pulumi up``: creates and updates in the program's order, then the deletes; returns what it did."""
        events: list[Event] = []
        self.events = events
        program = Procedure(spec).resources()
        removed = self._removed(program)
        for name, cls, inputs in program:
            provider = self._provider(cls, spec)
            old = self.state.get(name)
            checked = provider.check(old.inputs if old else {}, inputs)
            assert not checked.failures, [(f.property, f.reason) for f in checked.failures]
            news = dict(checked.inputs)
            if old is None:
                created = provider.create(news)
                assert created.outs is not None
                self._put(Resource(name, cls, str(created.id), news, dict(created.outs)), program)
                events.append(Event(name, "create", True, [], list(created.outs.get("steps") or [])))
                continue
            diff = provider.diff(old.id, old.outputs, news)
            assert not diff.replaces, f"{name} would be replaced ({diff.replaces}); this harness emulates no replace"
            if not diff.changes:
                old.inputs = news  # a "same" step records the new inputs and keeps the outputs
                events.append(Event(name, "same"))
                continue
            updated = provider.update(old.id, old.outputs, news)
            assert updated.outs is not None
            old.inputs, old.outputs = news, dict(updated.outs)
            events.append(Event(name, "update", True, [], list(updated.outs.get("steps") or [])))
        for name in removed:
            old = self.state[name]
            provider = self._provider(old.cls, spec)
            # EssoProvider.delete() is remove() with a fresh Steps; calling remove() keeps the steps the engine
            # would drop (a delete returns nothing).
            assert type(provider).delete is EssoProvider.delete, f"{old.cls.__name__} overrides delete()"
            steps = Steps(provider.resource)
            provider.remove(old.outputs, steps)
            del self.state[name]
            events.append(Event(name, "delete", True, [], steps.items))
        return events

    def _put(self, resource: Resource, program: Sequence[tuple[str, type[EssoProvider], dict[str, Any]]]) -> None:
        """Insert a new resource in program order, before any resource registered after it."""
        order = [name for name, _, _ in program]
        after = set(order[order.index(resource.name) + 1 :])
        items = list(self.state.items())
        at = next((i for i, (name, _) in enumerate(items) if name in after), len(items))
        items.insert(at, (resource.name, resource))
        self.state = dict(items)


def ops(events: Sequence[Event]) -> dict[str, Op]:
    return {e.name: e.op for e in events}


# ------------------------------------------------------------------------------------------ the world


def projection(world: World, nodes: Sequence[str], role: str = "SSO") -> dict[str, Any]:
    """What a fresh build with ``nodes`` determines, and nothing that is history.

    The database's global info (not its MSID, which every build draws anew, nor the node that created it),
    the cluster membership, the role and each of its resources (parameters, dependencies, possible owners),
    and on each live node its ESSO configuration, ENTSSO's account/start type/state, the logon right, and
    whether SSOSS holds exactly the database's MSID.
    """
    (database,) = world.databases.values()
    group = m.find_cluster_group(world, role)
    assert group is not None
    live: dict[str, Any] = {}
    for name in nodes:
        node = m.find_node(world, name)
        assert node is not None, name
        live[name] = {
            "ssoServer": node.sso_server,
            "ssoDatabase": node.sso_database,
            "entssoAccount": node.entsso_account,
            "entssoStartType": node.entsso_start_type,
            "entssoState": node.entsso_state,
            "logonRight": m.has_logon_right(world, node, database.service_account),
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
            for r in sorted(m.group_resources(world, group.name), key=lambda r: r.name)
        },
        "nodes": live,
    }
