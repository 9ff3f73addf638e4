"""Simulated read scripts: Get-NodeFacts, Get-SsoDatabaseFacts, Get-DomainGroupFacts.

Why apart: reads never change the World; what a node reports changes when the model learns something new.
"""

from __future__ import annotations

from provider import contracts
from provider.remote import sim_model
from provider.remote.sim_checks import _config_state, _require_ad_module, _require_sql
from provider.remote.sim_model import Ctx

# ----------------------------------------------------------------------------------------- facts


def get_node_facts(ctx: Ctx, p: contracts.GetNodeFactsParams) -> contracts.NodeFacts:
    world, node = ctx.world, ctx.node
    gpo = node.gpo_logon_right
    return contracts.NodeFacts(
        computer_name=node.name,
        esso_installed=node.esso_installed,
        esso_version=node.esso_version if node.esso_installed else None,
        entsso=contracts.EntSsoFacts(
            state=node.entsso_state if node.esso_installed else "Absent",
            start_type=node.entsso_start_type if node.esso_installed else "None",
            account=node.entsso_account,
        ),
        sso_config=_config_state(node),
        ssoss_msids=list(node.ssoss),
        join_marker=node.join_marker,
        nlb_installed=node.nlb,
        logon_right=contracts.LogonRightFacts(
            granted=sim_model.has_logon_right(world, node, p.service_account),
            via_gpo=gpo is not None,
            gpo_includes_account=gpo is not None
            and any(sim_model.holds_through(world, a, p.service_account) for a in gpo),
        ),
        token_has_admin_group=sim_model.token_has_group(world, node, ctx.identity, p.admin_group),
        cluster_node_state=next((s for n, s in world.cluster.nodes.items() if n.lower() == node.name.lower()), None),
        dtc_cid=node.dtc_cid,
        secret_server_status=sim_model.secret_server_status(world, node),
    )


def get_sso_database_facts(ctx: Ctx, p: contracts.SsoDatabaseParams) -> contracts.SsoDatabaseFacts:
    _require_sql(ctx, p.server)
    db = ctx.world.databases.get(ctx.world.db_key(p.server, p.database))
    if db is None:
        return contracts.SsoDatabaseFacts(exists=False)
    return contracts.SsoDatabaseFacts(
        exists=True,
        secret_server=db.secret_server,
        admin_group=db.admin_group,
        affiliate_admin_group=db.affiliate_admin_group,
        msid=db.msid if db.reports_msid else None,
    )


def _group_facts(ctx: Ctx, name: str) -> contracts.GroupFacts:
    group = sim_model.find_domain_group(ctx.world, name)
    if group is None:
        return contracts.GroupFacts(name=name, exists=False, members=[])
    return contracts.GroupFacts(
        name=group.name, exists=True, scope=group.scope, category=group.category, members=list(group.members)
    )


def get_domain_group_facts(ctx: Ctx, p: contracts.DomainGroupsParams) -> contracts.DomainGroupFacts:
    _require_ad_module(ctx)
    return contracts.DomainGroupFacts(
        admin_group=_group_facts(ctx, p.admin_group), affiliate_admin_group=_group_facts(ctx, p.affiliate_admin_group)
    )
