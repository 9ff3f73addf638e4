"""SsoDomainGroups: seed install steps 2-4 — the two domain global groups, their members, and
"Log on as a service" for the ENTSSO account on every node.

Groups and memberships are never deleted: BizTalk shares them. The logon right stays too, because
ENTSSO keeps running as that account for as long as the SSO system exists.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi.dynamic as dyn
from pydantic import BaseModel

from provider import contracts
from provider.config.names import split_account
from provider.remote.base import Remote
from provider.resources.base import ClusterInputs, Observed, Prior, Steps, TypedProvider, registration
from provider.spec import ClusterSpec


class DomainGroupsInputs(ClusterInputs):
    affiliate_admin_group: str
    configuring_account: str

    @classmethod
    def from_spec(cls, spec: ClusterSpec) -> DomainGroupsInputs:
        return cls(
            **cls.cluster_fields(spec),
            affiliate_admin_group=spec.sso.affiliate_admin_group,
            configuring_account=spec.sso.configuring_account,
        )

    @property
    def members(self) -> list[str]:
        return [split_account(a)[1] for a in (self.service_account, self.configuring_account)]

    def group_params(self) -> contracts.DomainGroupsParams:
        return contracts.DomainGroupsParams(
            admin_group=self.admin_group, affiliate_admin_group=self.affiliate_admin_group, members=self.members
        )


class GroupScopes(BaseModel):
    """The scope of each SSO group (rule 2: Global), None when the group does not exist."""

    admin: str | None = None
    affiliate: str | None = None


class DomainGroupsObserved(Observed):
    """Who is in SSO Administrators, where the ENTSSO account may log on as a service, and the groups' scopes."""

    admin_group_members: list[str] = []  # SAM names, lower case
    logon_right_nodes: list[str] = []
    group_scopes: GroupScopes = GroupScopes()


class SsoDomainGroupsProvider(TypedProvider[DomainGroupsInputs, DomainGroupsObserved]):
    resource = "sso-domain-groups"
    inputs_model = DomainGroupsInputs
    observed_model = DomainGroupsObserved
    record_only_keys = ("role", "networkName")

    def resource_id(self, inputs: DomainGroupsInputs) -> str:
        return inputs.qualified_admin_group

    def converge(
        self, inputs: DomainGroupsInputs, prior: Prior[DomainGroupsInputs, DomainGroupsObserved] | None, steps: Steps
    ) -> DomainGroupsObserved:
        with self.remote(inputs) as remote:
            facts = inputs.preflight(remote).nodes
            steps.add(inputs.nodes[0], "preflight", False)
            groups = remote.run(inputs.nodes[0], contracts.SET_SSO_DOMAIN_GROUPS, inputs.group_params())
            steps.add(inputs.nodes[0], contracts.SET_SSO_DOMAIN_GROUPS.name, groups.changed)
            account = contracts.AccountParams(account=inputs.service_account)
            missing = [n for n in inputs.nodes if not facts[n].logon_right.granted]
            grants = remote.fan_out(missing, lambda n: remote.run(n, contracts.GRANT_SERVICE_LOGON_RIGHT, account))
            for node in inputs.nodes:
                steps.add(node, contracts.GRANT_SERVICE_LOGON_RIGHT.name, node in grants and grants[node].changed)
            if groups.changed:
                # Rule 13: a session opened before the membership was added does not carry it.
                for node in inputs.nodes:
                    remote.renew_logon(node)
                    steps.add(node, "renew-logon", True, "new token for SSO Administrators")
            return self._facts(remote, inputs)

    def _facts(self, remote: Remote, inputs: DomainGroupsInputs) -> DomainGroupsObserved:
        nodes = remote.start(lambda: inputs.all_node_facts(remote))  # beside the groups' facts (issue 15)
        groups = remote.run(inputs.nodes[0], contracts.GET_DOMAIN_GROUP_FACTS, inputs.group_params())
        granted = [n for n, f in nodes().items() if f.logon_right.granted]
        return DomainGroupsObserved(
            admin_group_members=sorted(m.lower() for m in groups.admin_group.members),
            logon_right_nodes=granted,
            group_scopes=GroupScopes(
                admin=groups.admin_group.scope if groups.admin_group.exists else None,
                affiliate=groups.affiliate_admin_group.scope if groups.affiliate_admin_group.exists else None,
            ),
        )

    def observe(self, inputs: DomainGroupsInputs, recorded: DomainGroupsObserved) -> DomainGroupsObserved | None:
        with self.remote(inputs) as remote:
            return self._facts(remote, inputs)

    def drift(self, observed: DomainGroupsObserved, inputs: DomainGroupsInputs) -> list[str]:
        found: list[str] = []
        if not {m.lower() for m in inputs.members} <= set(observed.admin_group_members):
            found.append("adminGroupMembers")
        if set(observed.logon_right_nodes) != set(inputs.nodes):
            found.append("logonRightNodes")
        if observed.group_scopes.admin != "Global" or observed.group_scopes.affiliate != "Global":
            found.append("groupScopes")
        return found

    def remove(self, props: dict[str, Any], steps: Steps) -> None:
        steps.add("-", "keep-groups", False, "SSO groups, memberships and logon rights are shared with BizTalk; kept")


class SsoDomainGroups(dyn.Resource, module="esso", name="SsoDomainGroups"):
    """The SSO domain groups and the ENTSSO account's rights."""

    adminGroupMembers: pulumi.Output[list[str]]
    logonRightNodes: pulumi.Output[list[str]]
    steps: pulumi.Output[list[dict[str, Any]]]

    def __init__(self, name: str, inputs: DomainGroupsInputs, opts: pulumi.ResourceOptions | None = None) -> None:
        props, opts = registration(SsoDomainGroupsProvider, inputs, opts, None)
        super().__init__(SsoDomainGroupsProvider(), name, props, opts)
