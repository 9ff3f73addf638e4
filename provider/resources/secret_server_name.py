"""SecretServerName: "update the master secret server name in the SSO database" — restart ENTSSO on the
active node, then ``ssomanage -updatedb`` with a file holding only ``<secretServer>``.

The new name is the Network Name of the role that will hold ENTSSO (design rule 6). Every
precondition is verified before ``-updatedb`` changes anything. Once ENTSSO is a cluster resource it is
cycled through the cluster, never with the service controller (rule 11).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi.dynamic as dyn

from provider import contracts, ssoxml
from provider.resources import preflight
from provider.resources.base import ClusterInputs, Observed, Prior, Steps, TypedProvider, registration
from provider.resources.cluster_ops import owner_of_role
from provider.spec import ClusterSpec


class SecretServerNameInputs(ClusterInputs):
    server: str
    database: str
    resource_name: str

    @classmethod
    def from_spec(cls, spec: ClusterSpec) -> SecretServerNameInputs:
        return cls(**cls.cluster_fields(spec), **cls.database_fields(spec), resource_name=spec.cluster.resource_name)


class SecretServerNameObserved(Observed):
    """The master secret server name the SSO database records."""

    secret_server: str | None = None


class SecretServerNameProvider(TypedProvider[SecretServerNameInputs, SecretServerNameObserved]):
    resource = "secret-server-name"
    inputs_model = SecretServerNameInputs
    observed_model = SecretServerNameObserved
    replace_keys = ("server", "database")
    record_only_keys = ("nodes", "role", "resourceName")
    delete_before_replace = True

    def resource_id(self, inputs: SecretServerNameInputs) -> str:
        return f"{inputs.server}/{inputs.database}"

    def converge(
        self,
        inputs: SecretServerNameInputs,
        prior: Prior[SecretServerNameInputs, SecretServerNameObserved] | None,
        steps: Steps,
    ) -> SecretServerNameObserved:
        with self.remote(inputs) as remote:
            cluster = inputs.preflight(remote).cluster
            steps.add(inputs.nodes[0], "preflight", False)
            current = preflight.database_facts(remote, inputs.nodes, inputs.server, inputs.database)
            if (current.secret_server or "").lower() == inputs.network_name.lower():
                steps.add(inputs.nodes[0], contracts.SET_SECRET_SERVER_NAME.name, False)
                return SecretServerNameObserved(secret_server=current.secret_server)
            clustered = preflight.sso_resource(cluster, inputs.resource_name)
            owner = (
                owner_of_role(remote, cluster, step=contracts.RESTART_SSO_CLUSTER_RESOURCE.name) if clustered else None
            )
            if owner is not None:
                # Rule 11: a clustered ENTSSO is cycled through the cluster, on the active node.
                active = owner
                cycled = remote.run(
                    active,
                    contracts.RESTART_SSO_CLUSTER_RESOURCE,
                    contracts.ResourceParams(resource_name=inputs.resource_name),
                )
                steps.add(active, contracts.RESTART_SSO_CLUSTER_RESOURCE.name, cycled.changed)
            else:
                active = inputs.nodes[0]
                restarted = remote.run(active, contracts.RESTART_ENTSSO_SERVICE, contracts.NoParams())
                steps.add(active, contracts.RESTART_ENTSSO_SERVICE.name, restarted.changed)
            renamed = remote.run(
                active,
                contracts.SET_SECRET_SERVER_NAME,
                contracts.SecretServerParams(
                    secret_server=inputs.network_name,
                    update_xml=ssoxml.build_update_secret_server_xml(inputs.network_name),
                ),
            )
            steps.add(active, contracts.SET_SECRET_SERVER_NAME.name, renamed.changed)
            return SecretServerNameObserved(secret_server=renamed.after.secret_server)

    def observe(
        self, inputs: SecretServerNameInputs, recorded: SecretServerNameObserved
    ) -> SecretServerNameObserved | None:
        with self.remote(inputs) as remote:
            facts = preflight.database_facts(remote, inputs.nodes, inputs.server, inputs.database)
        if not facts.exists:
            return None
        return SecretServerNameObserved(secret_server=facts.secret_server)

    def drift(self, observed: SecretServerNameObserved, inputs: SecretServerNameInputs) -> list[str]:
        if (observed.secret_server or "").lower() != inputs.network_name.lower():
            return ["secretServer"]
        return []

    def remove(self, props: dict[str, Any], steps: Steps) -> None:
        steps.add(
            "-",
            "keep-secret-server-name",
            False,
            "the database keeps the name; pointing it elsewhere is a new stack's job",
        )


class SecretServerName(dyn.Resource, module="esso", name="SecretServerName"):
    """The SSO database's master secret server name, set to the cluster Network Name."""

    secretServer: pulumi.Output[str]
    steps: pulumi.Output[list[dict[str, Any]]]

    def __init__(self, name: str, inputs: SecretServerNameInputs, opts: pulumi.ResourceOptions | None = None) -> None:
        props, opts = registration(SecretServerNameProvider, inputs, opts, None)
        super().__init__(SecretServerNameProvider(), name, props, opts)
