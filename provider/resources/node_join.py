"""SsoNodeJoin: seed steps 13-19 on each other node — "Join an existing SSO system" with the same SSO
database and the same service account.

Deleting a join first removes the node from ENTSSO's possible owners, then unconfigures Enterprise SSO
on that node alone (never Configuration.exe /U, which unconfigures every BizTalk feature). A node
that cannot be reached may be forgotten only once it has been evicted from the cluster.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi.dynamic as dyn

from provider import contracts as c
from provider import ssoxml
from provider.errors import EssoError
from provider.remote.base import Remote, TransientRemoteError
from provider.resources import preflight
from provider.resources.base import (
    ClusterInputs,
    EssoProvider,
    Steps,
    fingerprint_key,
    fingerprint_matches,
    registration,
)
from provider.spec import ClusterSpec


class NodeJoinInputs(ClusterInputs):
    node: str
    server: str
    database: str
    resource_name: str
    service_account_password: str | None = None

    @classmethod
    def from_spec(cls, spec: ClusterSpec, node: str) -> NodeJoinInputs:
        return cls(
            **cls.cluster_fields(spec),
            node=node,
            server=spec.database.server,
            database=spec.database.name,
            resource_name=spec.cluster.resource_name,
        )


def set_owners(
    remote: Remote, cluster: c.ClusterFacts, resource: str, owners: list[str], steps: Steps, *, avoid: str = ""
) -> None:
    """Set ENTSSO's possible owners from an Up node (not the one being removed)."""
    via = any_up(cluster, exclude=(avoid,))
    result = remote.run(via, c.SET_SSO_POSSIBLE_OWNERS, c.PossibleOwnersParams(resource_name=resource, owners=owners))
    steps.add(via, c.SET_SSO_POSSIBLE_OWNERS.name, result.changed)


def any_up(cluster: c.ClusterFacts, exclude: tuple[str, ...] = ()) -> str:
    for n in cluster.nodes:
        if n.state == "Up" and n.name.lower() not in {e.lower() for e in exclude}:
            return n.name
    raise EssoError("ESSO-017", "no cluster node is Up.", step="cluster")


class SsoNodeJoinProvider(EssoProvider):
    resource = "sso-node-join"
    inputs_model = NodeJoinInputs
    replace_keys = ("node", "server", "database")
    quiet_keys = ("nodes", "role", "networkName", "resourceName")
    secret_keys = ("serviceAccountPassword",)
    observed_keys = ("configuredServer", "configuredDatabase", "entssoAccount", "joined")
    delete_before_replace = True

    def resource_id(self, inputs: NodeJoinInputs) -> str:
        return inputs.node

    def converge(self, inputs: NodeJoinInputs, olds: dict[str, Any] | None, steps: Steps) -> dict[str, Any]:
        node = inputs.node
        with self.remote() as remote:
            verified = inputs.preflight(remote)
            preflight.check_join_account(
                node, verified.nodes, server=inputs.server, database=inputs.database, account=inputs.service_account
            )
            steps.add(node, "preflight", False)
            preflight.fresh_token_facts(
                remote, node, service_account=inputs.service_account, admin_group=inputs.qualified_admin_group
            )
            xml = ssoxml.build_join_xml(
                server=inputs.server, database=inputs.database, service_account=inputs.service_account
            )
            joined = remote.run(
                node,
                c.JOIN_SSO_SYSTEM,
                c.JoinSsoParams(
                    config_xml=xml,
                    server=inputs.server,
                    database=inputs.database,
                    service_account_password=self.service_account_password(),
                ),
            )
            steps.add(node, c.JOIN_SSO_SYSTEM.name, joined.changed)
            password = self.service_account_password()
            stored = (olds or {}).get(fingerprint_key("serviceAccountPassword"))
            if olds is not None and not joined.changed and not fingerprint_matches(password.get_secret_value(), stored):
                # The account's password was changed in AD: the service must log on with the new one.
                logon = remote.run(
                    node, c.SET_ENTSSO_LOGON, c.EntSsoLogonParams(account=inputs.service_account, password=password)
                )
                steps.add(node, c.SET_ENTSSO_LOGON.name, logon.changed, "used at the service's next start")
            observed = self._observed(
                preflight.node_facts(
                    remote, node, service_account=inputs.service_account, admin_group=inputs.qualified_admin_group
                )
            )
            # Whether this resource configured the node (a node configured before it, such as the creator, is
            # adopted): delete undoes only what the resource did.
            observed["joined"] = bool((olds or {}).get("joined")) or joined.changed
            return observed

    @staticmethod
    def _observed(facts: c.NodeFacts) -> dict[str, Any]:
        return {
            "configuredServer": facts.sso_config.server if facts.sso_config else None,
            "configuredDatabase": facts.sso_config.database if facts.sso_config else None,
            "entssoAccount": facts.entsso.account,
        }

    def observe(self, props: dict[str, Any]) -> dict[str, Any] | None:
        inputs: NodeJoinInputs = self.stored_inputs(props)
        with self.remote() as remote:
            facts = preflight.node_facts(
                remote, inputs.node, service_account=inputs.service_account, admin_group=inputs.qualified_admin_group
            )
        if facts.sso_config is None:
            return None  # positive evidence: the node answered and holds no SSO configuration
        return self._observed(facts)

    def drift(self, olds: dict[str, Any]) -> list[str]:
        found = []
        if (olds.get("configuredServer") or "").lower() != str(olds.get("server", "")).lower():
            found.append("configuredServer")
        if (olds.get("configuredDatabase") or "").lower() != str(olds.get("database", "")).lower():
            found.append("configuredDatabase")
        return found

    def remove(self, props: dict[str, Any], steps: Steps) -> None:
        inputs: NodeJoinInputs = self.stored_inputs(props)
        node = inputs.node
        with self.remote() as remote:
            peers = [n for n in inputs.nodes if n.lower() != node.lower()] or [node]
            cluster = preflight.cluster_facts(remote, [*peers, node], inputs.role)
            members = {n.name.lower() for n in cluster.nodes}
            resource = preflight.sso_resource(cluster, inputs.resource_name)
            if resource is not None and cluster.role is not None and cluster.role.owner_node.lower() == node.lower():
                home = any_up(cluster, exclude=(node,))
                self.require_disruption(f"move the role from {node} to {home} before the node leaves", node)
                moved = remote.run(home, c.MOVE_SSO_ROLE, c.MoveRoleParams(role_name=inputs.role, node=home))
                steps.add(home, c.MOVE_SSO_ROLE.name, moved.changed)
            if resource is not None and node.lower() in {o.lower() for o in resource.possible_owners}:
                owners = [o for o in resource.possible_owners if o.lower() != node.lower()]
                set_owners(remote, cluster, inputs.resource_name, owners, steps, avoid=node)
            if not props.get("joined"):
                steps.add(node, "keep-configuration", False, "adopted: the node was configured before this resource")
                return
            try:
                removed = remote.run(
                    node,
                    c.REMOVE_SSO_NODE_CONFIGURATION,
                    c.RemoveNodeConfigParams(server=inputs.server, database=inputs.database),
                )
            except TransientRemoteError:
                if node.lower() in members:
                    raise EssoError(
                        "ESSO-021",
                        "its SSO configuration could not be removed and it is still in the cluster.",
                        node=node,
                        step=c.REMOVE_SSO_NODE_CONFIGURATION.name,
                    ) from None
                steps.add(node, "forget-evicted-node", False, "unreachable and evicted from the cluster")
                return
            steps.add(node, c.REMOVE_SSO_NODE_CONFIGURATION.name, removed.changed)


class SsoNodeJoin(dyn.Resource, module="esso", name="SsoNodeJoin"):
    """One other node joined to the SSO system."""

    node: pulumi.Output[str]
    configuredServer: pulumi.Output[str]
    steps: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self,
        name: str,
        inputs: NodeJoinInputs,
        *,
        service_account_password: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props, opts = registration(
            SsoNodeJoinProvider, inputs, opts, {"serviceAccountPassword": service_account_password}
        )
        super().__init__(SsoNodeJoinProvider(), name, props, opts)
