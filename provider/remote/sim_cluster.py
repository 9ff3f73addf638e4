"""Simulated FailoverClusters scripts: facts, the Generic Service resource, possible owners, moves and cycles.

Why apart: these act on the cluster from any Up member node (``Script.scope == "cluster"``) and share
the online/offline mechanics of ``sim_model`` (a clustered ENTSSO starts where its role is owned).
Rules 7 (MSDTC and the role's resources), 8 (UseNetworkName and the Name dependency) and 9 (the
offline/online cycle before a restore) are enforced or recorded here.
"""

from __future__ import annotations

from provider import contracts
from provider.remote import sim_model
from provider.remote.sim_model import Ctx
from provider.remote.world import ClusterResource


def _require_member(ctx: Ctx) -> None:
    """A cluster script runs on an Up member (the cluster service answers only there)."""
    state = next((s for n, s in ctx.world.cluster.nodes.items() if n.lower() == ctx.node.name.lower()), None)
    if state != "Up":
        what = "not a member of the cluster" if state is None else f"{state} in the cluster"
        ctx.fail("ESSO-017", f"{ctx.node.name} is {what}; run cluster scripts on an Up member.")


def _parameters(r: ClusterResource) -> contracts.ResourceParameters:
    """What Get-ClusterFacts.ps1 emits for the resource's type: each key of the type, ``None`` when unset."""
    model = contracts.PARAMETERS_BY_TYPE.get(r.type, contracts.NoParameters)
    values = {info.alias or name: r.parameters.get(info.alias or name) for name, info in model.model_fields.items()}
    parsed: contracts.ResourceParameters = model.model_validate(values)  # type: ignore[assignment]
    return parsed


def _resource_facts(r: ClusterResource) -> contracts.ClusterResourceFacts:
    return contracts.ClusterResourceFacts(
        name=r.name,
        type=r.type,
        group=r.group,
        state=r.state,
        parameters=_parameters(r),
        dependencies=list(r.dependencies),
        possible_owners=list(r.possible_owners),
    )


def _existing(ctx: Ctx, name: str) -> ClusterResource:
    """A cluster script on a member node about a resource that must exist (ESSO-017, ESSO-035)."""
    _require_member(ctx)
    resource = sim_model.find_resource(ctx.world, name)
    if resource is None:
        ctx.fail("ESSO-035", f"the cluster resource {name} was not found.")
    return resource


def get_cluster_facts(ctx: Ctx, p: contracts.GetClusterFactsParams) -> contracts.ClusterFacts:
    _require_member(ctx)
    cluster = ctx.world.cluster
    group = sim_model.find_cluster_group(ctx.world, p.role_name)
    return contracts.ClusterFacts(
        cluster_name=cluster.name,
        nodes=[contracts.ClusterNodeFacts(name=n, state=s) for n, s in cluster.nodes.items()],
        role=contracts.ClusterGroupFacts(name=group.name, owner_node=group.owner_node, state=group.state)
        if group
        else None,
        resources=[_resource_facts(r) for r in sim_model.group_resources(ctx.world, p.role_name)],
        msdtc=[_resource_facts(r) for r in cluster.resources.values() if r.type == sim_model.MSDTC],
    )


def _full_access(ctx: Ctx, account: str) -> bool:
    """Get-ClusterAccess: the account, or a group it is in, holds Full access (Set-ClusteredSsoService.ps1)."""
    return any(sim_model.holds_through(ctx.world, holder, account) for holder in ctx.world.cluster.full_access)


def _service_state(ctx: Ctx, r: ClusterResource | None, account: str) -> contracts.ClusteredServiceState:
    access = _full_access(ctx, account)
    if r is None:
        return contracts.ClusteredServiceState(exists=False, dependencies=[], service_account_full_access=access)
    return contracts.ClusteredServiceState(
        exists=True,
        service_name=str(r.parameters.get("ServiceName", "")) or None,
        use_network_name=sim_model.use_network_name(r),
        dependencies=list(r.dependencies),
        state=r.state,
        service_account_full_access=access,
    )


def _preflight_clustering(ctx: Ctx, p: contracts.ClusteredServiceParams) -> ClusterResource:
    """Rule 7: a clustered MSDTC with its own CID, and a role with an IP Address and the given Network Name."""
    world = ctx.world
    dtcs = [r for r in world.cluster.resources.values() if r.type == sim_model.MSDTC]
    if not dtcs:
        ctx.fail("ESSO-008", "the cluster has no clustered Distributed Transaction Coordinator resource.")
    local = (ctx.node.dtc_cid or "").lower()  # as the script: this node's local CID ([MS-CMOM] 2.2.3.5)
    for dtc in dtcs:
        cid = str(dtc.parameters.get("CID") or "").lower()
        if cid and cid == local:  # an unreadable CID passes, as in the script and the preflight
            ctx.fail("ESSO-008", f"the clustered MSDTC {dtc.name} has no CID of its own (it equals {ctx.node.name}'s).")
    group = sim_model.find_cluster_group(world, p.role_name)
    if group is None:
        ctx.fail("ESSO-009", f"the cluster has no role named {p.role_name}.")
    kinds = {r.type for r in sim_model.group_resources(world, group.name)}
    if not kinds & {sim_model.IP_ADDRESS, contracts.IPV6_ADDRESS} or sim_model.NETWORK_NAME not in kinds:
        ctx.fail("ESSO-009", f"role {group.name} lacks an IP Address or a Network Name resource.")
    netname = sim_model.find_resource(world, p.network_name_resource)
    if netname is None or netname.type != sim_model.NETWORK_NAME or netname.group.lower() != group.name.lower():
        ctx.fail("ESSO-009", f"{p.network_name_resource} is not a Network Name resource of role {group.name}.")
    return netname


def set_clustered_sso_service(ctx: Ctx, p: contracts.ClusteredServiceParams) -> contracts.ClusteredServiceResult:
    """Add-ClusterResource 'Generic Service' for ENTSSO, UseNetworkName=1, the Name dependency (rules 7, 8), and
    Full cluster access for the service account (the clustering guide), as Set-ClusteredSsoService.ps1 does."""
    world = ctx.world
    _require_member(ctx)
    if sim_model.find_user(world, p.service_account) is None:
        ctx.fail("ESSO-003", f"the service account {p.service_account} does not resolve to a SID on {ctx.node.name}.")
    netname = _preflight_clustering(ctx, p)
    group = sim_model.find_cluster_group(world, p.role_name)
    assert group is not None
    resource = sim_model.find_resource(world, p.resource_name)
    if resource is not None and (
        resource.type != sim_model.GENERIC_SERVICE or resource.group.lower() != group.name.lower()
    ):
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
            type=sim_model.GENERIC_SERVICE,
            group=group.name,
            state="Offline",
            possible_owners=list(world.cluster.nodes),
        )
        world.cluster.resources[resource.name] = resource
        changed = True
        ctx.phase("resource-added")  # Add-ClusterResource done; its parameters and dependency not set yet
    if (
        str(resource.parameters.get("ServiceName", "")).upper() != sim_model.ENTSSO
        or sim_model.use_network_name(resource) != 1
    ):
        resource.parameters["ServiceName"] = sim_model.ENTSSO
        resource.parameters["UseNetworkName"] = 1
        changed = config_changed = True
    if netname.name.lower() not in {d.lower() for d in resource.dependencies}:
        # as the script: dependencies on another Network Name give way to this one; every other one is kept
        kept = [
            d
            for d in resource.dependencies
            if (sim_model.find_resource(world, d) or netname).type != sim_model.NETWORK_NAME
        ]
        resource.dependencies = [*kept, netname.name]
        changed = config_changed = True
    if changed:
        ctx.phase("configured")  # parameters and dependency set; Grant-ClusterAccess not run yet
    if not before.service_account_full_access:
        world.cluster.full_access.append(p.service_account)  # Grant-ClusterAccess -User ... -Full
        changed = True
    sim_model.refresh_group_state(world, group.name)
    after = _service_state(ctx, resource, p.service_account)
    if not after.service_account_full_access:
        ctx.fail_after_change("ESSO-035", f"{p.service_account} does not hold Full access after Grant-ClusterAccess.")
    if (
        (after.service_name or "").upper() != sim_model.ENTSSO
        or after.use_network_name != 1
        or netname.name not in after.dependencies
    ):
        ctx.fail_after_change("ESSO-010", f"{resource.name} is not configured as the script's post-condition requires.")
    # The world remembers that the repair waits for a cycle (it does on Windows); the script, like the real
    # one, reports needsCycle only on the call that made the change (Set-ClusteredSsoService.ps1, issue 9 B).
    needs_cycle = config_changed and before.exists and before.state == "Online"
    resource.needs_cycle = resource.needs_cycle or needs_cycle
    return contracts.ClusteredServiceResult(changed=changed, before=before, after=after, needs_cycle=needs_cycle)


def set_sso_possible_owners(
    ctx: Ctx, p: contracts.PossibleOwnersParams
) -> contracts.ChangeResult[contracts.PossibleOwnersState]:
    world = ctx.world
    resource = _existing(ctx, p.resource_name)
    members = {n.lower(): n for n in world.cluster.nodes}
    unknown = [o for o in p.owners if o.lower() not in members]
    if unknown:
        ctx.fail("ESSO-017", f"{', '.join(unknown)} is not a member of the cluster.")
    if not p.owners:
        ctx.fail("ESSO-035", "a resource needs at least one possible owner.")
    before = contracts.PossibleOwnersState(owners=list(resource.possible_owners))
    if {o.lower() for o in resource.possible_owners} == {o.lower() for o in p.owners}:
        return contracts.ChangeResult[contracts.PossibleOwnersState](changed=False, before=before, after=before)
    resource.possible_owners = [members[o.lower()] for o in p.owners]
    after = contracts.PossibleOwnersState(owners=list(resource.possible_owners))
    return contracts.ChangeResult[contracts.PossibleOwnersState](changed=True, before=before, after=after)


def move_sso_role(ctx: Ctx, p: contracts.MoveRoleParams) -> contracts.ChangeResult[contracts.RoleState]:
    """Move-ClusterGroup + Start-ClusterGroup: the role and its resources online on the target node."""
    world = ctx.world
    _require_member(ctx)
    group = sim_model.find_cluster_group(world, p.role_name)
    if group is None:
        ctx.fail("ESSO-009", f"the cluster has no role named {p.role_name}.")
    target = next((n for n, s in world.cluster.nodes.items() if n.lower() == p.node.lower()), None)
    if target is None or world.cluster.nodes[target] != "Up":
        ctx.fail("ESSO-017", f"{p.node} is not an Up member of the cluster.")
    resources = sim_model.group_resources(world, group.name)
    for r in resources:
        if r.possible_owners and target.lower() not in {o.lower() for o in r.possible_owners}:
            ctx.fail("ESSO-035", f"{target} is not a possible owner of {r.name}; the role cannot move there.")
    before = contracts.RoleState(owner_node=group.owner_node, state=group.state)
    moving = group.owner_node.lower() != target.lower()
    if not moving and all(r.state == "Online" for r in resources):
        return contracts.ChangeResult[contracts.RoleState](changed=False, before=before, after=before)
    if moving:
        for r in resources:
            if r.state == "Online":
                sim_model.take_offline(world, r)
        group.owner_node = target
        world.cluster.cycled_on = dict.fromkeys(world.cluster.nodes, False)  # rule 9: a move needs a new cycle
        sim_model.refresh_group_state(world, group.name)
        ctx.phase("moved-offline")  # the role moved with its resources offline; Start-ClusterGroup not run yet
    for r in resources:
        if r.state != "Online":
            sim_model.bring_online(world, r)
    sim_model.refresh_group_state(world, group.name)
    if group.state != "Online":  # the script's post-condition (Move-SsoRole.ps1)
        ctx.fail_after_change(
            "ESSO-013", f"the role {group.name} is {group.state} on {group.owner_node}, not Online on {target}."
        )
    return contracts.ChangeResult[contracts.RoleState](
        changed=True, before=before, after=contracts.RoleState(owner_node=group.owner_node, state=group.state)
    )


def _resource_state(world_resource: ClusterResource | None, owner: str | None) -> contracts.ResourceState:
    if world_resource is None:
        return contracts.ResourceState(exists=False)
    return contracts.ResourceState(exists=True, state=world_resource.state, owner_node=owner)


def restart_sso_cluster_resource(
    ctx: Ctx, p: contracts.ResourceParams
) -> contracts.ChangeResult[contracts.ResourceState]:
    """Stop-/Start-ClusterResource on the owner; records the cycle that a restore there needs (rule 9)."""
    world = ctx.world
    resource = _existing(ctx, p.resource_name)
    owner = sim_model.owner_of(world, resource)
    if owner is None:
        ctx.fail("ESSO-035", f"the role of {resource.name} has no owner node.")
    before = _resource_state(resource, owner.name)
    sim_model.take_offline(world, resource)
    sim_model.refresh_group_state(world, resource.group)
    ctx.phase("offline")  # Stop-ClusterResource done, Start-ClusterResource not yet
    sim_model.bring_online(world, resource)
    if resource.state == "Online":
        world.cluster.cycled_on[owner.name] = True
    sim_model.refresh_group_state(world, resource.group)
    if resource.state != "Online":  # the script's post-condition (Restart-SsoClusterResource.ps1)
        ctx.fail_after_change(
            "ESSO-026", f"the cluster resource {resource.name} is {resource.state} after the offline/online cycle."
        )
    return contracts.ChangeResult[contracts.ResourceState](
        changed=True, before=before, after=_resource_state(resource, owner.name)
    )


def remove_clustered_sso_service(
    ctx: Ctx, p: contracts.ResourceParams
) -> contracts.ChangeResult[contracts.ResourceState]:
    world = ctx.world
    _require_member(ctx)
    resource = sim_model.find_resource(world, p.resource_name)
    if resource is None:
        gone = contracts.ResourceState(exists=False)
        return contracts.ChangeResult[contracts.ResourceState](changed=False, before=gone, after=gone)
    if not sim_model.is_entsso_resource(resource):
        ctx.fail("ESSO-035", f"{resource.name} is a {resource.type} resource, not the clustered ENTSSO; not removed.")
    owner = sim_model.owner_of(world, resource)
    before = _resource_state(resource, owner.name if owner else None)
    sim_model.take_offline(world, resource)
    sim_model.refresh_group_state(world, resource.group)
    ctx.phase("offline")  # the resource is offline; Remove-ClusterResource not run yet
    del world.cluster.resources[next(k for k, v in world.cluster.resources.items() if v is resource)]
    for other in world.cluster.resources.values():
        other.dependencies = [d for d in other.dependencies if d.lower() != resource.name.lower()]
    sim_model.refresh_group_state(world, resource.group)
    return contracts.ChangeResult[contracts.ResourceState](
        changed=True, before=before, after=contracts.ResourceState(exists=False)
    )
