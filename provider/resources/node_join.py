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

from provider import contracts, ssoxml
from provider.errors import EssoError
from provider.remote.base import Remote, TransientRemoteError
from provider.resources import preflight
from provider.resources.base import (
    ClusterInputs,
    Observed,
    Prior,
    Steps,
    TypedProvider,
    fingerprint_matches,
    registration,
)
from provider.resources.cluster_ops import any_up, set_owners
from provider.spec import ClusterSpec

__all__ = ["NodeJoinInputs", "NodeJoinObserved", "SsoNodeJoin", "SsoNodeJoinProvider", "any_up", "set_owners"]


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
            **cls.database_fields(spec),
            node=node,
            resource_name=spec.cluster.resource_name,
        )


class NodeJoinObserved(Observed):
    """The SSO system the node is configured for, and whether this resource configured it."""

    configured_server: str | None = None
    configured_database: str | None = None
    entsso_account: str | None = None
    joined: bool = False  # this resource configured the node (delete undoes only that)


class SsoNodeJoinProvider(TypedProvider[NodeJoinInputs, NodeJoinObserved]):
    resource = "sso-node-join"
    inputs_model = NodeJoinInputs
    observed_model = NodeJoinObserved
    replace_keys = ("node", "server", "database")
    record_only_keys = ("nodes", "role", "networkName", "resourceName")
    secret_keys = ("serviceAccountPassword",)
    delete_before_replace = True

    def resource_id(self, inputs: NodeJoinInputs) -> str:
        return inputs.node

    def converge(
        self, inputs: NodeJoinInputs, prior: Prior[NodeJoinInputs, NodeJoinObserved] | None, steps: Steps
    ) -> NodeJoinObserved:
        node = inputs.node
        with self.remote(inputs) as remote:
            verified = inputs.preflight(remote)
            preflight.check_join_account(
                node, verified.nodes, server=inputs.server, database=inputs.database, account=inputs.service_account
            )
            steps.add(node, "preflight", False)
            inputs.fresh_token_facts(remote, node, verified)
            xml = ssoxml.build_join_xml(
                server=inputs.server, database=inputs.database, service_account=inputs.service_account
            )
            joined = remote.run(
                node,
                contracts.JOIN_SSO_SYSTEM,
                contracts.JoinSsoParams(
                    config_xml=xml,
                    server=inputs.server,
                    database=inputs.database,
                    service_account_password=self.service_account_password(),
                    timeout_minutes=self.spec.transport.configuration_timeout_minutes,
                ),
            )
            steps.add(node, contracts.JOIN_SSO_SYSTEM.name, joined.changed)
            password = self.service_account_password()
            stored = prior.fingerprints.get("serviceAccountPassword") if prior else None
            if (
                prior is not None
                and not joined.changed
                and not fingerprint_matches(password.get_secret_value(), stored)
            ):
                # The account's password was changed in AD: the service must log on with the new one.
                logon = remote.run(
                    node,
                    contracts.SET_ENTSSO_LOGON,
                    contracts.EntSsoLogonParams(account=inputs.service_account, password=password),
                )
                steps.add(node, contracts.SET_ENTSSO_LOGON.name, logon.changed, "used at the service's next start")
            # Whether this resource configured the node (a node configured before it, such as the creator, is
            # adopted): delete undoes only what the resource did. Decided from evidence that survives a retry,
            # never from this call's ``changed`` (a retry after a lost reply sees changed: false): the state of an
            # earlier successful run, or the marker Join-SsoSystem writes on the node before it changes anything.
            was_joined = prior.observed.joined if prior else False
            return self._observed(inputs.node_facts(remote, node), inputs, was_joined=was_joined)

    @staticmethod
    def joined_by_this_tool(facts: contracts.NodeFacts, inputs: NodeJoinInputs) -> bool:
        """The node carries Join-SsoSystem's marker for this SSO system and is configured for it."""
        configured = facts.sso_config is not None and facts.sso_config.is_system(inputs.server, inputs.database)
        return configured and (facts.join_marker or "").lower() == f"{inputs.server}/{inputs.database}".lower()

    @classmethod
    def _observed(cls, facts: contracts.NodeFacts, inputs: NodeJoinInputs, *, was_joined: bool) -> NodeJoinObserved:
        return NodeJoinObserved(
            configured_server=facts.sso_config.server if facts.sso_config else None,
            configured_database=facts.sso_config.database if facts.sso_config else None,
            entsso_account=facts.entsso.account,
            joined=was_joined or cls.joined_by_this_tool(facts, inputs),
        )

    def observe(self, inputs: NodeJoinInputs, recorded: NodeJoinObserved) -> NodeJoinObserved | None:
        with self.remote(inputs) as remote:
            facts = inputs.node_facts(remote, inputs.node)
        if facts.sso_config is None:
            return None  # positive evidence: the node answered and holds no SSO configuration
        return self._observed(facts, inputs, was_joined=recorded.joined)

    def drift(self, observed: NodeJoinObserved, inputs: NodeJoinInputs) -> list[str]:
        found = []
        if (observed.configured_server or "").lower() != inputs.server.lower():
            found.append("configuredServer")
        if (observed.configured_database or "").lower() != inputs.database.lower():
            found.append("configuredDatabase")
        return found

    def remove(self, props: dict[str, Any], steps: Steps) -> None:
        """Release the clustered ENTSSO from the node, then unconfigure it; correct in any order, safe to repeat.

        The engine deletes the dependents of a replaced SSO system in an unspecified order
        (``findDependentCascadeReplacements`` ranges over a Go map), so this may run before or after the
        other joins and the clustered service's delete, and again after failing half way: every step
        reads the cluster first and skips what is already done (``_release_clustered_service``).
        """
        inputs: NodeJoinInputs = self.stored_inputs(props)
        node = inputs.node
        joined = bool(props.get("joined"))
        with self.remote(inputs) as remote:
            peers = [n for n in inputs.nodes if n.lower() != node.lower()] or [node]
            cluster = preflight.cluster_facts(remote, [*peers, node], inputs.role)
            members = {n.name.lower() for n in cluster.nodes}
            resource = preflight.sso_resource(cluster, inputs.resource_name)
            if resource is not None:
                self._release_clustered_service(remote, cluster, resource, inputs, steps, unconfigure=joined)
            if not joined:
                steps.add(node, "keep-configuration", False, "adopted: the node was configured before this resource")
                return
            try:
                removed = remote.run(
                    node,
                    contracts.REMOVE_SSO_NODE_CONFIGURATION,
                    contracts.RemoveNodeConfigParams(server=inputs.server, database=inputs.database),
                )
            except TransientRemoteError:
                if node.lower() in members:
                    raise EssoError(
                        "ESSO-021",
                        "its SSO configuration could not be removed and it is still in the cluster.",
                        node=node,
                        step=contracts.REMOVE_SSO_NODE_CONFIGURATION.name,
                    ) from None
                steps.add(node, "forget-evicted-node", False, "unreachable and evicted from the cluster")
                return
            steps.add(node, contracts.REMOVE_SSO_NODE_CONFIGURATION.name, removed.changed)

    def _release_clustered_service(
        self,
        remote: Remote,
        cluster: contracts.ClusterFacts,
        resource: contracts.ClusterResourceFacts,
        inputs: NodeJoinInputs,
        steps: Steps,
        *,
        unconfigure: bool,
    ) -> None:
        """Make the clustered ENTSSO independent of a node that leaves.

        * Another Up possible owner remains: move the role there if the node owns it, then drop the node
          from the possible owners (the role may only move to a node that still runs SSO).
        * No other possible owner remains (every other join was deleted first, which happens only when the
          SSO system's dependents are torn down together): the clustered ENTSSO can run nowhere once this
          node is unconfigured, so it is removed here (``Remove-ClusteredSsoService``, what the clustered
          service's own delete does, and that delete then finds nothing to do). An adopted node keeps its
          configuration, so it stays the last possible owner and the resource is left to the service's delete.
        * Other possible owners exist but none is Up: refuse (ESSO-017) rather than strand the role.
        """
        node = inputs.node
        others = [o for o in resource.possible_owners if o.lower() != node.lower()]
        up = {n.name.lower() for n in cluster.nodes if n.state == "Up"}
        homes = [o for o in others if o.lower() in up]
        owns_role = cluster.role is not None and cluster.role.owner_node.lower() == node.lower()
        listed = len(others) != len(resource.possible_owners)
        if homes:
            if owns_role:
                home = homes[0]
                moved = remote.run(
                    home, contracts.MOVE_SSO_ROLE, contracts.MoveRoleParams(role_name=inputs.role, node=home)
                )
                steps.add(home, contracts.MOVE_SSO_ROLE.name, moved.changed)
            if listed:
                set_owners(remote, cluster, inputs.resource_name, others, steps, nodes=inputs.nodes, avoid=node)
            return
        if others:
            raise EssoError(
                "ESSO-017",
                f"no other possible owner of {resource.name} ({', '.join(others)}) is Up; the role cannot leave "
                f"{node}. Bring one of them up, then run up again.",
                node=node,
                step=contracts.MOVE_SSO_ROLE.name,
            )
        if not unconfigure:
            steps.add(node, "keep-possible-owner", False, f"the last node that can run {resource.name}; kept")
            return
        via = any_up(cluster, inputs.nodes)
        gone = remote.run(
            via, contracts.REMOVE_CLUSTERED_SSO_SERVICE, contracts.ResourceParams(resource_name=resource.name)
        )
        steps.add(via, contracts.REMOVE_CLUSTERED_SSO_SERVICE.name, gone.changed, f"{node} was its last possible owner")


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
