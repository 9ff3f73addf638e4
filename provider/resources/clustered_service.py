"""ClusteredSsoService: "create the clustered Enterprise SSO resource" — a Generic Service resource for
ENTSSO in the role, with ``UseNetworkName=1`` and a dependency on the role's Network Name resource.

Without either, SSO clients fail with 0x800706D9 (rule 8), so both are verified on every read and
repaired on the next ``up``. Possible owners are exactly the configured nodes, and ENTSSO's start mode
is Manual on every node so that only the cluster starts it. A repair of an Online resource takes effect
only after a cycle, so allowDisruption is checked before the repair, not between the repair and the cycle.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi.dynamic as dyn

from provider import contracts
from provider.errors import EssoError
from provider.remote.base import Remote
from provider.resources import preflight
from provider.resources.base import ClusterInputs, Observed, Prior, Steps, TypedProvider, registration
from provider.resources.cluster_ops import any_up, owner_of_role, set_owners
from provider.spec import ClusterSpec

ENTSSO = "ENTSSO"


class ClusteredServiceInputs(ClusterInputs):
    resource_name: str

    @classmethod
    def from_spec(cls, spec: ClusterSpec) -> ClusteredServiceInputs:
        return cls(**cls.cluster_fields(spec), resource_name=spec.cluster.resource_name)


class ClusteredServiceObserved(Observed):
    """The clustered ENTSSO resource as the cluster reports it, and ENTSSO on each configured node."""

    network_name_resource: str | None = None  # the role's Network Name resource that publishes networkName
    use_network_name: int = 0
    dependencies: list[str] = []
    possible_owners: list[str] = []
    start_types: dict[str, str] = {}
    outside_cluster: list[str] = []  # nodes where ENTSSO runs although the cluster does not run it there
    owner_node: str | None = None  # informational, never drift
    state: str | None = None


def parameter_drift(use_network_name: int, dependencies: list[str], netname: str | None) -> list[str]:
    """Rule 8's two settings, compared once: for drift() and for predicting a repair (which needs a cycle)."""
    found = []
    if use_network_name != 1:
        found.append("useNetworkName")
    # The Name resource must be among the dependencies; one a person added stays (Set-ClusteredSsoService.ps1).
    if not netname or netname.lower() not in {d.lower() for d in dependencies}:
        found.append("dependencies")
    return found


def repair_needs_cycle(resource: contracts.ClusterResourceFacts | None, netname: str) -> bool:
    """Whether Set-ClusteredSsoService will change an Online resource (then a cycle must follow)."""
    if resource is None or resource.state != "Online":
        return False
    parameters = resource.parameters
    if (
        not isinstance(parameters, contracts.GenericServiceParameters)
        or (parameters.service_name or "").upper() != ENTSSO
    ):
        return True
    return bool(parameter_drift(use_network_name(resource), list(resource.dependencies), netname))


def use_network_name(resource: contracts.ClusterResourceFacts) -> int:
    """The Generic Service's UseNetworkName (0 when the resource is of another type)."""
    parameters = resource.parameters
    return parameters.use_network_name or 0 if isinstance(parameters, contracts.GenericServiceParameters) else 0


class ClusteredSsoServiceProvider(TypedProvider[ClusteredServiceInputs, ClusteredServiceObserved]):
    resource = "clustered-sso-service"
    inputs_model = ClusteredServiceInputs
    observed_model = ClusteredServiceObserved
    replace_keys = ("role", "resourceName")
    delete_before_replace = True

    def resource_id(self, inputs: ClusteredServiceInputs) -> str:
        return f"{inputs.role}/{inputs.resource_name}"

    def converge(
        self,
        inputs: ClusteredServiceInputs,
        prior: Prior[ClusteredServiceInputs, ClusteredServiceObserved] | None,
        steps: Steps,
    ) -> ClusteredServiceObserved:
        with self.remote(inputs) as remote:
            verified = inputs.preflight(remote)
            cluster, netname = verified.cluster, verified.network_name_resource
            via = any_up(cluster, inputs.nodes)
            steps.add(via, "preflight", False)
            owner = owner_of_role(remote, cluster, step=contracts.RESTART_SSO_CLUSTER_RESOURCE.name) or via
            if repair_needs_cycle(preflight.sso_resource(cluster, inputs.resource_name), netname):
                # Refuse before the repair: applied without its cycle it would read back correct and never cycle.
                remote.policy.require_disruption(
                    "repairing the Online ENTSSO resource needs a cycle to take effect",
                    node=owner,
                    step=contracts.SET_CLUSTERED_SSO_SERVICE.name,
                )
            service = remote.run(
                via,
                contracts.SET_CLUSTERED_SSO_SERVICE,
                contracts.ClusteredServiceParams(
                    role_name=inputs.role,
                    resource_name=inputs.resource_name,
                    network_name_resource=netname,
                    service_account=inputs.service_account,
                ),
            )
            steps.add(via, contracts.SET_CLUSTERED_SSO_SERVICE.name, service.changed)
            set_owners(remote, cluster, inputs.resource_name, list(inputs.nodes), steps, nodes=inputs.nodes)
            manual = contracts.StartModeParams(start_mode="Manual")
            modes = remote.fan_out(inputs.nodes, lambda n: remote.run(n, contracts.SET_ENTSSO_START_MODE, manual))
            for node, mode in modes.items():
                steps.add(node, contracts.SET_ENTSSO_START_MODE.name, mode.changed)
            if service.needs_cycle:
                cycled = remote.run(
                    owner,
                    contracts.RESTART_SSO_CLUSTER_RESOURCE,
                    contracts.ResourceParams(resource_name=inputs.resource_name),
                )
                steps.add(owner, contracts.RESTART_SSO_CLUSTER_RESOURCE.name, cycled.changed)
            observed = self._facts(remote, inputs)
            assert observed is not None
            return observed

    def _facts(self, remote: Remote, inputs: ClusteredServiceInputs) -> ClusteredServiceObserved | None:
        nodes = remote.start(lambda: inputs.all_node_facts(remote))  # beside the cluster's facts (issue 15)
        cluster = preflight.cluster_facts(remote, inputs.nodes, inputs.role)
        facts = nodes()
        resource = preflight.sso_resource(cluster, inputs.resource_name)
        if resource is None:
            return None
        owner = cluster.role.owner_node.lower() if cluster.role and resource.state == "Online" else None
        # 0x800706D9 (reference section 8): ENTSSO running where the cluster does not run it
        outside = [n for n, f in facts.items() if f.entsso.state == "Running" and n.lower() != owner]
        try:
            netname: str | None = preflight.network_name_resource(
                cluster, role=inputs.role, network_name=inputs.network_name
            )
        except EssoError:  # the configured name is gone from the role: drift, reported below
            netname = None
        return ClusteredServiceObserved(
            network_name_resource=netname,
            use_network_name=use_network_name(resource),
            dependencies=list(resource.dependencies),
            possible_owners=list(resource.possible_owners),
            start_types={n: f.entsso.start_type for n, f in facts.items()},
            outside_cluster=outside,
            owner_node=cluster.role.owner_node if cluster.role else None,
            state=resource.state,
        )

    def observe(
        self, inputs: ClusteredServiceInputs, recorded: ClusteredServiceObserved
    ) -> ClusteredServiceObserved | None:
        with self.remote(inputs) as remote:
            return self._facts(remote, inputs)

    def drift(self, observed: ClusteredServiceObserved, inputs: ClusteredServiceInputs) -> list[str]:
        found = parameter_drift(observed.use_network_name, observed.dependencies, observed.network_name_resource)
        if {o.lower() for o in observed.possible_owners} != {n.lower() for n in inputs.nodes}:
            found.append("possibleOwners")
        if any(t != "Manual" for t in observed.start_types.values()):
            found.append("startTypes")
        if observed.outside_cluster:
            found.append("outsideCluster")
        return found

    def remove(self, props: dict[str, Any], steps: Steps) -> None:
        inputs = self.stored_inputs(props)
        with self.remote(inputs) as remote:
            cluster = preflight.cluster_facts(remote, inputs.nodes, inputs.role)
            via = any_up(cluster, inputs.nodes)
            if preflight.sso_resource(cluster, inputs.resource_name) is None:
                steps.add(via, contracts.REMOVE_CLUSTERED_SSO_SERVICE.name, False, "already gone")
                return
            removed = remote.run(
                via,
                contracts.REMOVE_CLUSTERED_SSO_SERVICE,
                contracts.ResourceParams(resource_name=inputs.resource_name),
            )
            steps.add(via, contracts.REMOVE_CLUSTERED_SSO_SERVICE.name, removed.changed)


class ClusteredSsoService(dyn.Resource, module="esso", name="ClusteredSsoService"):
    """ENTSSO as a Generic Service resource in the role."""

    networkNameResource: pulumi.Output[str]
    ownerNode: pulumi.Output[str]
    possibleOwners: pulumi.Output[list[str]]
    steps: pulumi.Output[list[dict[str, Any]]]

    def __init__(self, name: str, inputs: ClusteredServiceInputs, opts: pulumi.ResourceOptions | None = None) -> None:
        props, opts = registration(ClusteredSsoServiceProvider, inputs, opts, None)
        super().__init__(ClusteredSsoServiceProvider(), name, props, opts)
