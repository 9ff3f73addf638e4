"""Simulated FailoverClusters scripts: facts, the Generic Service resource, possible owners, moves and cycles.

Why apart: these act on the cluster from any Up member node (``Script.scope == "cluster"``) and share
the online/offline mechanics of ``sim_model`` (a clustered ENTSSO starts where its role is owned).
Rules 7 (MSDTC and the role's resources), 8 (UseNetworkName and the Name dependency) and 9 (the
offline/online cycle before a restore) are enforced or recorded here.
"""

from __future__ import annotations

from provider import contracts as c
from provider.remote import sim_model as m
from provider.remote.sim_model import Ctx
from provider.remote.world import ClusterResource


def _require_member(ctx: Ctx) -> None:
    """A cluster script runs on an Up member (the cluster service answers only there)."""
    state = next((s for n, s in ctx.world.cluster.nodes.items() if n.lower() == ctx.node.name.lower()), None)
    if state != "Up":
        what = "not a member of the cluster" if state is None else f"{state} in the cluster"
        ctx.fail("ESSO-017", f"{ctx.node.name} is {what}; run cluster scripts on an Up member.")


def _parameters(r: ClusterResource) -> c.ResourceParameters:
    """What Get-ClusterFacts.ps1 emits for the resource's type: each key of the type, ``None`` when unset."""
    model = c.PARAMETERS_BY_TYPE.get(r.type, c.NoParameters)
    values = {info.alias or name: r.parameters.get(info.alias or name) for name, info in model.model_fields.items()}
    parsed: c.ResourceParameters = model.model_validate(values)  # type: ignore[assignment]
    return parsed


def _resource_facts(r: ClusterResource) -> c.ClusterResourceFacts:
    return c.ClusterResourceFacts(
        name=r.name,
        type=r.type,
        group=r.group,
        state=r.state,
        parameters=_parameters(r),
        dependencies=list(r.dependencies),
        possible_owners=list(r.possible_owners),
    )


def _existing(ctx: Ctx, name: str) -> ClusterResource:
    resource = m.find_resource(ctx.world, name)
    if resource is None:
        ctx.fail("ESSO-035", f"the cluster resource {name} was not found.")
    return resource


def get_cluster_facts(ctx: Ctx, p: c.GetClusterFactsParams) -> c.ClusterFacts:
    _require_member(ctx)
    cluster = ctx.world.cluster
    group = m.find_cluster_group(ctx.world, p.role_name)
    return c.ClusterFacts(
        cluster_name=cluster.name,
        nodes=[c.ClusterNodeFacts(name=n, state=s) for n, s in cluster.nodes.items()],
        role=c.ClusterGroupFacts(name=group.name, owner_node=group.owner_node, state=group.state) if group else None,
        resources=[_resource_facts(r) for r in m.group_resources(ctx.world, p.role_name)],
        msdtc=[_resource_facts(r) for r in cluster.resources.values() if r.type == m.MSDTC],
    )


def _full_access(ctx: Ctx, account: str) -> bool:
    """Get-ClusterAccess: the account, or a group it is in, holds Full access (Set-ClusteredSsoService.ps1)."""
    return any(m.holds_through(ctx.world, holder, account) for holder in ctx.world.cluster.full_access)


def _service_state(ctx: Ctx, r: ClusterResource | None, account: str) -> c.ClusteredServiceState:
    access = _full_access(ctx, account)
    if r is None:
        return c.ClusteredServiceState(exists=False, dependencies=[], service_account_full_access=access)
    return c.ClusteredServiceState(
        exists=True,
        service_name=str(r.parameters.get("ServiceName", "")) or None,
        use_network_name=m.use_network_name(r),
        dependencies=list(r.dependencies),
        state=r.state,
        service_account_full_access=access,
    )


def _preflight_clustering(ctx: Ctx, p: c.ClusteredServiceParams) -> ClusterResource:
    """Rule 7: a clustered MSDTC with its own CID, and a role with an IP Address and the given Network Name."""
    world = ctx.world
    dtcs = [r for r in world.cluster.resources.values() if r.type == m.MSDTC]
    if not dtcs:
        ctx.fail("ESSO-008", "the cluster has no clustered Distributed Transaction Coordinator resource.")
    local = (ctx.node.dtc_cid or "").lower()  # as the script: this node's local CID ([MS-CMOM] 2.2.3.5)
    for dtc in dtcs:
        cid = str(dtc.parameters.get("CID") or "").lower()
        if cid and cid == local:  # an unreadable CID passes, as in the script and the preflight
            ctx.fail("ESSO-008", f"the clustered MSDTC {dtc.name} has no CID of its own (it equals {ctx.node.name}'s).")
    group = m.find_cluster_group(world, p.role_name)
    if group is None:
        ctx.fail("ESSO-009", f"the cluster has no role named {p.role_name}.")
    kinds = {r.type for r in m.group_resources(world, group.name)}
    if not kinds & {m.IP_ADDRESS, c.IPV6_ADDRESS} or m.NETWORK_NAME not in kinds:
        ctx.fail("ESSO-009", f"role {group.name} lacks an IP Address or a Network Name resource.")
    netname = m.find_resource(world, p.network_name_resource)
    if netname is None or netname.type != m.NETWORK_NAME or netname.group.lower() != group.name.lower():
        ctx.fail("ESSO-009", f"{p.network_name_resource} is not a Network Name resource of role {group.name}.")
    return netname


def set_clustered_sso_service(ctx: Ctx, p: c.ClusteredServiceParams) -> c.ClusteredServiceResult:
    """Add-ClusterResource 'Generic Service' for ENTSSO, UseNetworkName=1, the Name dependency (rules 7, 8), and
    Full cluster access for the service account (the clustering guide), as Set-ClusteredSsoService.ps1 does."""
    world = ctx.world
    _require_member(ctx)
    if m.find_user(world, p.service_account) is None:
        ctx.fail("ESSO-003", f"the service account {p.service_account} does not resolve to a SID on {ctx.node.name}.")
    netname = _preflight_clustering(ctx, p)
    group = m.find_cluster_group(world, p.role_name)
    assert group is not None
    resource = m.find_resource(world, p.resource_name)
    if resource is not None and (resource.type != m.GENERIC_SERVICE or resource.group.lower() != group.name.lower()):
        ctx.fail(
            "ESSO-035",
            f"a resource named {resource.name} already exists as {resource.type} in {resource.group}.",
        )
    before = _service_state(ctx, resource, p.service_account)
    changed = False
    config_changed = False
    if resource is None:
        resource = ClusterResource(
            name=p.resource_name,
            type=m.GENERIC_SERVICE,
            group=group.name,
            state="Offline",
            possible_owners=list(world.cluster.nodes),
        )
        world.cluster.resources[resource.name] = resource
        changed = True
        ctx.phase("resource-added")  # Add-ClusterResource done; its parameters and dependency not set yet
    if str(resource.parameters.get("ServiceName", "")).upper() != m.ENTSSO or m.use_network_name(resource) != 1:
        resource.parameters["ServiceName"] = m.ENTSSO
        resource.parameters["UseNetworkName"] = 1
        changed = config_changed = True
    if netname.name.lower() not in {d.lower() for d in resource.dependencies}:
        # as the script: dependencies on another Network Name give way to this one; every other one is kept
        kept = [d for d in resource.dependencies if (m.find_resource(world, d) or netname).type != m.NETWORK_NAME]
        resource.dependencies = [*kept, netname.name]
        changed = config_changed = True
    if changed:
        ctx.phase("configured")  # parameters and dependency set; Grant-ClusterAccess not run yet
    if not before.service_account_full_access:
        world.cluster.full_access.append(p.service_account)  # Grant-ClusterAccess -User ... -Full
        changed = True
    m.refresh_group_state(world, group.name)
    after = _service_state(ctx, resource, p.service_account)
    if not after.service_account_full_access:
        ctx.fail_after_change("ESSO-035", f"{p.service_account} does not hold Full access after Grant-ClusterAccess.")
    if (
        (after.service_name or "").upper() != m.ENTSSO
        or after.use_network_name != 1
        or netname.name not in after.dependencies
    ):
        ctx.fail_after_change("ESSO-010", f"{resource.name} is not configured as the script's post-condition requires.")
    # The world remembers that the repair waits for a cycle (it does on Windows); the script, like the real
    # one, reports needsCycle only on the call that made the change (Set-ClusteredSsoService.ps1, issue 9 B).
    needs_cycle = config_changed and before.exists and before.state == "Online"
    resource.needs_cycle = resource.needs_cycle or needs_cycle
    return c.ClusteredServiceResult(changed=changed, before=before, after=after, needs_cycle=needs_cycle)


def set_sso_possible_owners(ctx: Ctx, p: c.PossibleOwnersParams) -> c.ChangeResult[c.PossibleOwnersState]:
    world = ctx.world
    _require_member(ctx)
    resource = _existing(ctx, p.resource_name)
    members = {n.lower(): n for n in world.cluster.nodes}
    unknown = [o for o in p.owners if o.lower() not in members]
    if unknown:
        ctx.fail("ESSO-017", f"{', '.join(unknown)} is not a member of the cluster.")
    if not p.owners:
        ctx.fail("ESSO-035", "a resource needs at least one possible owner.")
    before = c.PossibleOwnersState(owners=list(resource.possible_owners))
    if {o.lower() for o in resource.possible_owners} == {o.lower() for o in p.owners}:
        return c.ChangeResult[c.PossibleOwnersState](changed=False, before=before, after=before)
    resource.possible_owners = [members[o.lower()] for o in p.owners]
    after = c.PossibleOwnersState(owners=list(resource.possible_owners))
    return c.ChangeResult[c.PossibleOwnersState](changed=True, before=before, after=after)


def move_sso_role(ctx: Ctx, p: c.MoveRoleParams) -> c.ChangeResult[c.RoleState]:
    """Move-ClusterGroup + Start-ClusterGroup: the role and its resources online on the target node."""
    world = ctx.world
    _require_member(ctx)
    group = m.find_cluster_group(world, p.role_name)
    if group is None:
        ctx.fail("ESSO-009", f"the cluster has no role named {p.role_name}.")
    target = next((n for n, s in world.cluster.nodes.items() if n.lower() == p.node.lower()), None)
    if target is None or world.cluster.nodes[target] != "Up":
        ctx.fail("ESSO-017", f"{p.node} is not an Up member of the cluster.")
    resources = m.group_resources(world, group.name)
    for r in resources:
        if r.possible_owners and target.lower() not in {o.lower() for o in r.possible_owners}:
            ctx.fail("ESSO-035", f"{target} is not a possible owner of {r.name}; the role cannot move there.")
    before = c.RoleState(owner_node=group.owner_node, state=group.state)
    moving = group.owner_node.lower() != target.lower()
    if not moving and all(r.state == "Online" for r in resources):
        return c.ChangeResult[c.RoleState](changed=False, before=before, after=before)
    if moving:
        for r in resources:
            if r.state == "Online":
                m.take_offline(world, r)
        group.owner_node = target
        world.cluster.cycled_on = dict.fromkeys(world.cluster.nodes, False)  # rule 9: a move needs a new cycle
        m.refresh_group_state(world, group.name)
        ctx.phase("moved-offline")  # the role moved with its resources offline; Start-ClusterGroup not run yet
    for r in resources:
        if r.state != "Online":
            m.bring_online(world, r)
    m.refresh_group_state(world, group.name)
    if group.state != "Online":  # the script's post-condition (Move-SsoRole.ps1)
        ctx.fail_after_change(
            "ESSO-013", f"the role {group.name} is {group.state} on {group.owner_node}, not Online on {target}."
        )
    return c.ChangeResult[c.RoleState](
        changed=True, before=before, after=c.RoleState(owner_node=group.owner_node, state=group.state)
    )


def _resource_state(world_resource: ClusterResource | None, owner: str | None) -> c.ResourceState:
    if world_resource is None:
        return c.ResourceState(exists=False)
    return c.ResourceState(exists=True, state=world_resource.state, owner_node=owner)


def restart_sso_cluster_resource(ctx: Ctx, p: c.ResourceParams) -> c.ChangeResult[c.ResourceState]:
    """Stop-/Start-ClusterResource on the owner; records the cycle that a restore there needs (rule 9)."""
    world = ctx.world
    _require_member(ctx)
    resource = _existing(ctx, p.resource_name)
    owner = m.owner_of(world, resource)
    if owner is None:
        ctx.fail("ESSO-035", f"the role of {resource.name} has no owner node.")
    before = _resource_state(resource, owner.name)
    m.take_offline(world, resource)
    m.refresh_group_state(world, resource.group)
    ctx.phase("offline")  # Stop-ClusterResource done, Start-ClusterResource not yet
    m.bring_online(world, resource)
    if resource.state == "Online":
        world.cluster.cycled_on[owner.name] = True
    m.refresh_group_state(world, resource.group)
    if resource.state != "Online":  # the script's post-condition (Restart-SsoClusterResource.ps1)
        ctx.fail_after_change(
            "ESSO-026", f"the cluster resource {resource.name} is {resource.state} after the offline/online cycle."
        )
    return c.ChangeResult[c.ResourceState](changed=True, before=before, after=_resource_state(resource, owner.name))


def remove_clustered_sso_service(ctx: Ctx, p: c.ResourceParams) -> c.ChangeResult[c.ResourceState]:
    world = ctx.world
    _require_member(ctx)
    resource = m.find_resource(world, p.resource_name)
    if resource is None:
        gone = c.ResourceState(exists=False)
        return c.ChangeResult[c.ResourceState](changed=False, before=gone, after=gone)
    if not m.is_entsso_resource(resource):
        ctx.fail("ESSO-035", f"{resource.name} is a {resource.type} resource, not the clustered ENTSSO; not removed.")
    owner = m.owner_of(world, resource)
    before = _resource_state(resource, owner.name if owner else None)
    m.take_offline(world, resource)
    m.refresh_group_state(world, resource.group)
    ctx.phase("offline")  # the resource is offline; Remove-ClusterResource not run yet
    del world.cluster.resources[next(k for k, v in world.cluster.resources.items() if v is resource)]
    for other in world.cluster.resources.values():
        other.dependencies = [d for d in other.dependencies if d.lower() != resource.name.lower()]
    m.refresh_group_state(world, resource.group)
    return c.ChangeResult[c.ResourceState](changed=True, before=before, after=c.ResourceState(exists=False))
