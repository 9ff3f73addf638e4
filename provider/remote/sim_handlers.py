"""Simulated node and domain scripts: facts, groups, logon right, Configuration.exe, ssomanage, ssoconfig.

Why here: each handler is what the matching ``provider/scripts/<name>.ps1`` does on Windows, reduced to
the World. Reads never change anything. Changes check every precondition first, then compare, act
only on a difference and report ``changed`` with ``before``/``after``; the rules they enforce are
listed (with their sources) in ``provider.remote.simulator``.

Where: this module keeps the domain groups and the logon right, and re-exports the rest from their homes:
``sim_facts`` (reads), ``sim_configuration`` (Configuration.exe), ``sim_ssomanage`` (ssomanage, ssoconfig),
``sim_checks`` (what several handlers check or share).
"""

from __future__ import annotations

from provider import contracts
from provider.remote import sim_model
from provider.remote.sim_checks import _backup_blob as _backup_blob
from provider.remote.sim_checks import _database_or_fail as _database_or_fail
from provider.remote.sim_checks import _require_ad_module
from provider.remote.sim_checks import _require_installed as _require_installed
from provider.remote.sim_checks import _secret as _secret
from provider.remote.sim_configuration import config_work_folder as config_work_folder
from provider.remote.sim_configuration import install_sso_system as install_sso_system
from provider.remote.sim_configuration import join_sso_system as join_sso_system
from provider.remote.sim_configuration import remove_sso_node_configuration as remove_sso_node_configuration
from provider.remote.sim_facts import get_domain_group_facts as get_domain_group_facts
from provider.remote.sim_facts import get_node_facts as get_node_facts
from provider.remote.sim_facts import get_sso_database_facts as get_sso_database_facts
from provider.remote.sim_model import Ctx
from provider.remote.sim_ssomanage import backup_master_secret as backup_master_secret
from provider.remote.sim_ssomanage import remove_sso_database as remove_sso_database
from provider.remote.sim_ssomanage import restart_entsso_service as restart_entsso_service
from provider.remote.sim_ssomanage import restore_master_secret as restore_master_secret
from provider.remote.sim_ssomanage import set_entsso_logon as set_entsso_logon
from provider.remote.sim_ssomanage import set_entsso_start_mode as set_entsso_start_mode
from provider.remote.sim_ssomanage import set_secret_server_name as set_secret_server_name
from provider.remote.world import DomainGroup

# ----------------------------------------------------------------------------- domain and rights


def set_sso_domain_groups(
    ctx: Ctx, p: contracts.DomainGroupsParams
) -> contracts.ChangeResult[contracts.DomainGroupsState]:
    world = ctx.world
    _require_ad_module(ctx)
    names = (p.admin_group, p.affiliate_admin_group)
    for name in names:  # rule 2: an existing DomainLocal/Universal or distribution group is never reused
        group = sim_model.find_domain_group(world, name)
        if group is not None and (group.scope != "Global" or group.category != "Security"):
            ctx.fail("ESSO-002", f"{name} exists as a {group.scope} {group.category} group; SSO needs Global Security.")
    for member in p.members:
        if sim_model.find_user(world, member) is None:
            ctx.fail("ESSO-035", f"cannot find an object with identity '{member}' in domain {world.domain.name}.")

    def state() -> contracts.DomainGroupsState:
        admin = sim_model.find_domain_group(world, p.admin_group)
        present = [n for n in names if sim_model.find_domain_group(world, n) is not None]
        return contracts.DomainGroupsState(
            admin_group_members=list(admin.members) if admin else [], groups_present=present
        )

    before = state()
    changed = False
    for name in names:
        if sim_model.find_domain_group(world, name) is None:
            world.domain.groups[sim_model.sam_of(name)] = DomainGroup(name=sim_model.sam_of(name))
            changed = True
    admin = sim_model.find_domain_group(world, p.admin_group)
    assert admin is not None
    for member in p.members:
        if sim_model.sam_of(member).lower() not in {x.lower() for x in admin.members}:
            ctx.phase("groups-created")  # New-ADGroup done, Add-ADGroupMember not yet
            admin.members.append(sim_model.sam_of(member))
            changed = True
    after = state()
    for member in p.members:  # the script's post-condition
        if sim_model.sam_of(member).lower() not in {x.lower() for x in after.admin_group_members}:
            ctx.fail_after_change("ESSO-003", f"{member} is not a member of {p.admin_group} after adding it.")
    return contracts.ChangeResult[contracts.DomainGroupsState](changed=changed, before=before, after=after)


def grant_service_logon_right(
    ctx: Ctx, p: contracts.AccountParams
) -> contracts.ChangeResult[contracts.LogonRightState]:
    world, node = ctx.world, ctx.node
    if sim_model.find_user(world, p.account) is None:  # as the script: the account does not resolve to a SID
        ctx.fail("ESSO-003", f"the service account {p.account} does not resolve to a SID on {node.name}.")
    before = contracts.LogonRightState(granted=sim_model.has_logon_right(world, node, p.account))
    if before.granted:
        return contracts.ChangeResult[contracts.LogonRightState](changed=False, before=before, after=before)
    if node.gpo_logon_right is not None:
        ctx.fail("ESSO-018", f"a Group Policy defines 'Log on as a service' on {node.name} without {p.account}.")
    node.logon_right.append(p.account)
    return contracts.ChangeResult[contracts.LogonRightState](
        changed=True, before=before, after=contracts.LogonRightState(granted=True)
    )
