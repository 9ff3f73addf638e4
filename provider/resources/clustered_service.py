"""ClusteredSsoService: "create the clustered Enterprise SSO resource" — a Generic Service resource for
ENTSSO in the role, with ``UseNetworkName=1`` and a dependency on the role's Network Name resource.

Without either, SSO clients fail with 0x800706D9 (rule 8), so both are verified on every read and
repaired on the next ``up``. Possible owners are exactly the configured nodes, and ENTSSO's start mode
is Manual on every node so that only the cluster starts it.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi.dynamic as dyn

from provider import contracts as c
from provider.errors import EssoError
from provider.remote.base import Remote
from provider.resources import preflight
from provider.resources.base import ClusterInputs, EssoProvider, Steps, registration
from provider.resources.node_join import any_up, set_owners
from provider.spec import ClusterSpec


def _needs_repair(resource: c.ClusterResourceFacts, netname: str) -> bool:
    """What Set-ClusteredSsoService.ps1 would change: ServiceName, UseNetworkName, or the Name dependency."""
    p = resource.parameters
    if not isinstance(p, c.GenericServiceParameters) or (p.service_name or "").upper() != "ENTSSO":
        return True
    return p.use_network_name != 1 or netname.lower() not in {d.lower() for d in resource.dependencies}


class ClusteredServiceInputs(ClusterInputs):
    resource_name: str

    @classmethod
    def from_spec(cls, spec: ClusterSpec) -> ClusteredServiceInputs:
        return cls(**cls.cluster_fields(spec), resource_name=spec.cluster.resource_name)


class ClusteredSsoServiceProvider(EssoProvider):
    resource = "clustered-sso-service"
    inputs_model = ClusteredServiceInputs
    replace_keys = ("role", "resourceName")
    observed_keys = (
        "networkNameResource",
        "useNetworkName",
        "dependencies",
        "possibleOwners",
        "startTypes",
        "outsideCluster",
        "ownerNode",
        "state",
    )
    delete_before_replace = True

    def resource_id(self, inputs: ClusteredServiceInputs) -> str:
        return f"{inputs.role}/{inputs.resource_name}"

    def converge(self, inputs: ClusteredServiceInputs, olds: dict[str, Any] | None, steps: Steps) -> dict[str, Any]:
        with self.remote() as remote:
            verified = inputs.preflight(remote)
            cluster, netname = verified.cluster, verified.network_name_resource
            via = any_up(cluster)
            steps.add(via, "preflight", False)
            existing = preflight.sso_resource(cluster, inputs.resource_name)
            if existing is not None and existing.state == "Online" and _needs_repair(existing, netname):
                # the script reports needsCycle only on the call that repairs: refuse before, not after (issue 9 B)
                owner = cluster.role.owner_node if cluster.role else via
                self.require_disruption("repair the online ENTSSO resource and cycle it", owner)
            service = remote.run(
                via,
                c.SET_CLUSTERED_SSO_SERVICE,
                c.ClusteredServiceParams(
                    role_name=inputs.role,
                    resource_name=inputs.resource_name,
                    network_name_resource=netname,
                    service_account=inputs.service_account,
                ),
            )
            steps.add(via, c.SET_CLUSTERED_SSO_SERVICE.name, service.changed)
            set_owners(remote, cluster, inputs.resource_name, list(inputs.nodes), steps)
            for node in inputs.nodes:
                mode = remote.run(node, c.SET_ENTSSO_START_MODE, c.StartModeParams(start_mode="Manual"))
                steps.add(node, c.SET_ENTSSO_START_MODE.name, mode.changed)
            if service.needs_cycle:
                owner = cluster.role.owner_node if cluster.role else via
                self.require_disruption("cycle ENTSSO so the repaired parameters take effect", owner)
                cycled = remote.run(
                    owner, c.RESTART_SSO_CLUSTER_RESOURCE, c.ResourceParams(resource_name=inputs.resource_name)
                )
                steps.add(owner, c.RESTART_SSO_CLUSTER_RESOURCE.name, cycled.changed)
            observed = self._facts(remote, inputs)
            assert observed is not None
            return observed

    def _facts(self, remote: Remote, inputs: ClusteredServiceInputs) -> dict[str, Any] | None:
        cluster = preflight.cluster_facts(remote, inputs.nodes, inputs.role)
        resource = preflight.sso_resource(cluster, inputs.resource_name)
        if resource is None:
            return None
        facts = {
            n: preflight.node_facts(
                remote, n, service_account=inputs.service_account, admin_group=inputs.qualified_admin_group
            )
            for n in inputs.nodes
        }
        owner = cluster.role.owner_node.lower() if cluster.role and resource.state == "Online" else None
        # 0x800706D9 (reference section 8): ENTSSO running where the cluster does not run it
        outside = [n for n, f in facts.items() if f.entsso.state == "Running" and n.lower() != owner]
        try:
            netname: str | None = preflight.network_name_resource(
                cluster, role=inputs.role, network_name=inputs.network_name
            )
        except EssoError:  # the configured name is gone from the role: drift, reported below
            netname = None
        return {
            "networkNameResource": netname,
            "useNetworkName": (
                resource.parameters.use_network_name or 0
                if isinstance(resource.parameters, c.GenericServiceParameters)
                else 0
            ),
            "dependencies": list(resource.dependencies),
            "possibleOwners": list(resource.possible_owners),
            "startTypes": {n: f.entsso.start_type for n, f in facts.items()},
            "outsideCluster": outside,
            "ownerNode": cluster.role.owner_node if cluster.role else None,
            "state": resource.state,
        }

    def observe(self, props: dict[str, Any]) -> dict[str, Any] | None:
        inputs: ClusteredServiceInputs = self.stored_inputs(props)
        with self.remote() as remote:
            return self._facts(remote, inputs)

    def drift(self, olds: dict[str, Any]) -> list[str]:
        found = []
        if olds.get("useNetworkName") != 1:
            found.append("useNetworkName")
        netname = olds.get("networkNameResource")
        if not netname or str(netname).lower() not in {d.lower() for d in olds.get("dependencies") or []}:
            found.append("dependencies")
        if {o.lower() for o in olds.get("possibleOwners") or []} != {n.lower() for n in olds.get("nodes") or []}:
            found.append("possibleOwners")
        if any(t != "Manual" for t in (olds.get("startTypes") or {}).values()):
            found.append("startTypes")
        if olds.get("outsideCluster"):
            found.append("outsideCluster")
        return found

    def remove(self, props: dict[str, Any], steps: Steps) -> None:
        inputs: ClusteredServiceInputs = self.stored_inputs(props)
        with self.remote() as remote:
            cluster = preflight.cluster_facts(remote, inputs.nodes, inputs.role)
            via = any_up(cluster)
            if preflight.sso_resource(cluster, inputs.resource_name) is not None:
                self.require_disruption("take the clustered ENTSSO resource offline and remove it", via)
            removed = remote.run(
                via, c.REMOVE_CLUSTERED_SSO_SERVICE, c.ResourceParams(resource_name=inputs.resource_name)
            )
            steps.add(via, c.REMOVE_CLUSTERED_SSO_SERVICE.name, removed.changed)


class ClusteredSsoService(dyn.Resource, module="esso", name="ClusteredSsoService"):
    """ENTSSO as a Generic Service resource in the role."""

    networkNameResource: pulumi.Output[str]
    ownerNode: pulumi.Output[str]
    possibleOwners: pulumi.Output[list[str]]
    steps: pulumi.Output[list[dict[str, Any]]]

    def __init__(self, name: str, inputs: ClusteredServiceInputs, opts: pulumi.ResourceOptions | None = None) -> None:
        props, opts = registration(ClusteredSsoServiceProvider, inputs, opts, None)
        super().__init__(ClusteredSsoServiceProvider(), name, props, opts)
