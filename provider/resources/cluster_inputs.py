"""A resource's inputs model, and the cluster fields every resource shares (with the preflight they feed).

Why apart: the inputs change with the stack model's rules (provider/config/rules.py), not with the engine contract.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from provider import contracts
from provider.config.rules import (
    AdminGroupName,
    ClusterNodes,
    DomainAccount,
    NetbiosDomain,
    NetworkName,
    RoleName,
)
from provider.remote.base import Remote
from provider.resources import preflight
from provider.spec import ClusterSpec


class Inputs(BaseModel):
    """A resource's inputs: camelCase on the wire, validated in ``check()``."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, hide_input_in_errors=True
    )

    def props(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")

    def problems(self) -> list[tuple[str, str]]:
        """Rules beyond types, as (camelCase key, message); the spec's own rule functions decide."""
        return []


class ClusterInputs(Inputs):
    """What every resource needs to run the preflight: the nodes, the role, the names that identify them.

    The fields are the stack model's rule types (provider/config/rules.py): check() applies the same
    rules, with the same messages, that the stack file passed.
    """

    domain: NetbiosDomain
    nodes: ClusterNodes
    role: RoleName
    network_name: NetworkName
    service_account: DomainAccount
    admin_group: AdminGroupName
    # transport.acceptWeakerTransport, recorded only (review M3): a weakened transport shows in preview --diff.
    accept_weaker_transport: tuple[Literal["http", "certValidation", "encryption"], ...] = ()

    @staticmethod
    def cluster_fields(spec: ClusterSpec) -> dict[str, Any]:
        return {
            "accept_weaker_transport": tuple(spec.transport.accept_weaker_transport),
            "domain": spec.domain.name,
            "nodes": list(spec.cluster.nodes),
            "role": spec.cluster.role,
            "network_name": spec.cluster.network_name,
            "service_account": spec.sso.service_account,
            "admin_group": spec.sso.admin_group,
        }

    @staticmethod
    def database_fields(spec: ClusterSpec) -> dict[str, Any]:
        """``server`` and ``database`` for the inputs that name the SSO database (one mapping for all of them)."""
        return {"server": spec.database.server, "database": spec.database.name}

    @property
    def qualified_admin_group(self) -> str:
        return f"{self.domain}\\{self.admin_group}"

    @property
    def configured_nodes(self) -> tuple[str, ...]:
        """The hosts this resource may reach (its CallPolicy): the configured nodes, and its own node."""
        own = getattr(self, "node", None)
        return (*self.nodes, *([own] if isinstance(own, str) else []))

    def node_facts(self, remote: Remote, node: str) -> contracts.NodeFacts:
        """Get-NodeFacts on ``node`` for this resource's service account and SSO Administrators group."""
        return preflight.node_facts(
            remote, node, service_account=self.service_account, admin_group=self.qualified_admin_group
        )

    def all_node_facts(self, remote: Remote) -> dict[str, contracts.NodeFacts]:
        """Every configured node's facts, read in parallel (the reads behind outputs)."""
        return preflight.gather_node_facts(
            remote, self.nodes, service_account=self.service_account, admin_group=self.qualified_admin_group
        )

    def fresh_token_facts(
        self, remote: Remote, node: str, verified: preflight.Verified | None = None
    ) -> contracts.NodeFacts:
        """Node facts from a session whose token carries SSO Administrators (rule 13), reusing what the
        preflight read in this session when it read this node."""
        return preflight.fresh_token_facts(
            remote,
            node,
            service_account=self.service_account,
            admin_group=self.qualified_admin_group,
            known=verified.nodes.get(node) if verified else None,
        )

    def preflight(self, remote: Remote) -> preflight.Verified:
        return preflight.verify_preconditions(
            remote,
            nodes=self.nodes,
            service_account=self.service_account,
            admin_group=self.qualified_admin_group,
            role=self.role,
            network_name=self.network_name,
        )
