"""ClusteredMasterSecret: the seed's procedure for one stack, as six kinds of dynamic resource in order.

Why a component: ordering, naming and outputs live in one place with no remote calls. Resource
names carry node names (never indexes) and every node has its own join and restore (the creating
node's adopt), so adding or replacing any node, the first included, touches only that node's
resources; dependents of the SSO system are replaced with it (``replace_with``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from provider.config.problems import printable
from provider.operate.progress import QUIET_KEY
from provider.remote.transport_rules import weakening_warning
from provider.resources.base import EssoProvider
from provider.resources.clustered_service import (
    ClusteredServiceInputs,
    ClusteredSsoService,
    ClusteredSsoServiceProvider,
)
from provider.resources.domain_groups import DomainGroupsInputs, SsoDomainGroups, SsoDomainGroupsProvider
from provider.resources.master_secret_restore import MasterSecretRestore, MasterSecretRestoreProvider, RestoreInputs
from provider.resources.node_join import NodeJoinInputs, SsoNodeJoin, SsoNodeJoinProvider
from provider.resources.secret_server_name import SecretServerName, SecretServerNameInputs, SecretServerNameProvider
from provider.resources.sso_system import SsoSystem, SsoSystemInputs, SsoSystemProvider
from provider.spec import ClusterSpec


@dataclass(frozen=True)
class ProgramSecrets:
    """The stack's secrets as Pulumi secret Outputs: they travel as secret inputs, never as plain values."""

    service_account_password: pulumi.Input[str]
    backup_password: pulumi.Input[str] | None


def replacement_order(provider: type[EssoProvider]) -> bool | None:
    """The ``delete_before_replace`` resource option: set where the provider's Diff asks for it.

    Why the option as well: a replacement forced by ``replace_with`` never reaches the provider's Diff
    (``stepGenerator.diff`` in pulumi/pulumi's ``step_generator.go`` answers ``ReplaceKeys: ["replaceWith"]``
    itself) and is create-before-delete unless this option is set; a second join, restore or clustered
    service must never exist next to the old one. None leaves the engine's default.
    """
    return True if provider.delete_before_replace else None


def _log_steps(resource: pulumi.CustomResource) -> None:
    """Show each provider step on its resource (the provider host cannot reach the engine's log)."""
    steps: pulumi.Output[Any] = getattr(resource, "steps")  # noqa: B009 - every ESSO resource declares it

    def emit(items: list[dict[str, Any]] | None) -> None:
        for item in items or []:
            state = "changed" if item.get("changed") else "ok"
            note = f" ({item['note']})" if item.get("note") else ""
            line = f"{printable(item.get('node'))} {printable(item.get('step'))}: {state}{printable(note)}"
            pulumi.log.info(line, resource=resource)  # escaped: steps hold names a node reported (issue 13, L4)

    steps.apply(emit)


TYPE = "esso:index:ClusteredMasterSecret"


def run_context(parent_type: str) -> pulumi.ResourceTransformation:
    """Add the quiet input ``essoRun`` (stack, project, parent type chain, type, name) to a child: the provider
    rebuilds the resource's URN from it for live progress, and names the stack's run record (issue 18). Its
    Diff ignores the key, so it never changes a plan."""

    def add(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult:
        quiet = {
            "stack": pulumi.get_stack(),
            "project": pulumi.get_project(),
            "parentType": parent_type,
            "type": args.type_,
            "name": args.name,
        }
        return pulumi.ResourceTransformationResult({**args.props, QUIET_KEY: quiet}, args.opts)

    return add


def cluster_failover_proof(stamps: Sequence[str | None], pending: Sequence[bool | None]) -> str | None:
    """When failover was proven on every node: the oldest node's proof; None while any node's proof is owed.

    Why the oldest: a BizTalk deployment reading this output must not take a fresh proof of one node for the
    whole cluster's (each restore proves only its own node, issue 15)."""
    if not stamps or any(pending) or not all(stamps):
        return None
    return min(s for s in stamps if s)


class ClusteredMasterSecret(pulumi.ComponentResource):
    """The clustered ENTSSO master secret server of one environment."""

    def __init__(
        self, name: str, spec: ClusterSpec, secrets: ProgramSecrets, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, {}, opts)
        nodes = list(spec.cluster.nodes)
        weaker = weakening_warning(spec.transport)
        if weaker:  # every preview and up while transport.acceptWeakerTransport is needed (review M3)
            pulumi.log.warn(weaker, resource=self)
        # The parent type chain of the children: this type under the stack; under another parent it is not known
        # here, and the children show progress on stderr only.
        quiet = [run_context(TYPE)] if opts is None or opts.parent is None else []

        def placed(
            provider: type[EssoProvider], *after: pulumi.Resource, follows_system: bool = True
        ) -> pulumi.ResourceOptions:
            """A child of this component, after ``after``, replaced whenever the SSO system is, in the order its
            provider asks for."""
            return pulumi.ResourceOptions(
                parent=self,
                depends_on=list(after),
                replace_with=[self.system] if follows_system else None,
                delete_before_replace=replacement_order(provider),
                transformations=quiet,
            )

        self.groups = SsoDomainGroups(
            "sso-domain-groups",
            DomainGroupsInputs.from_spec(spec),
            placed(SsoDomainGroupsProvider, follows_system=False),
        )
        self.system = SsoSystem(
            "sso-system",
            SsoSystemInputs.from_spec(spec),
            service_account_password=secrets.service_account_password,
            backup_password=secrets.backup_password,
            opts=placed(SsoSystemProvider, self.groups, follows_system=False),
        )
        # Every node gets its own join and restore, the creator included (they adopt there): a node's
        # resources do not depend on its position, so losing node 1 is a join and a restore from escrow.
        self.joins: dict[str, SsoNodeJoin] = {}
        previous: pulumi.Resource = self.system
        for node in nodes:  # one node at a time, in order, as the seed configures them
            self.joins[node] = previous = SsoNodeJoin(
                f"sso-join-{node.lower()}",
                NodeJoinInputs.from_spec(spec, node),
                service_account_password=secrets.service_account_password,
                opts=placed(SsoNodeJoinProvider, self.system, previous),
            )
        self.secret_server = SecretServerName(
            "secret-server-name",
            SecretServerNameInputs.from_spec(spec),
            placed(SecretServerNameProvider, self.system, *self.joins.values()),
        )
        self.service = ClusteredSsoService(
            "clustered-sso-service",
            ClusteredServiceInputs.from_spec(spec),
            placed(ClusteredSsoServiceProvider, self.secret_server),
        )
        self.restores: dict[str, MasterSecretRestore] = {}
        previous = self.service
        for node in nodes:  # in sequence: each proves failover among the nodes restored before it
            self.restores[node] = previous = MasterSecretRestore(
                f"master-secret-restore-{node.lower()}",
                RestoreInputs.from_spec(spec, node),
                backup_password=secrets.backup_password,
                opts=placed(MasterSecretRestoreProvider, self.service, self.joins[node], previous),
            )

        for resource in (
            self.groups,
            self.system,
            *self.joins.values(),
            self.secret_server,
            self.service,
            *self.restores.values(),
        ):
            _log_steps(resource)

        restores = list(self.restores.values())
        self.owner_node: pulumi.Output[Any] = restores[-1].ownerNode
        # failover is proven for the cluster once every node's own proof has run: the oldest of them, else null
        self.failover_verified_at: pulumi.Output[Any] = pulumi.Output.all(
            *[r.failoverVerifiedAt for r in restores], *[r.failoverPending for r in restores]
        ).apply(lambda values: cluster_failover_proof(values[: len(restores)], values[len(restores) :]))
        self.outputs: dict[str, Any] = {
            "secretServerName": spec.cluster.network_name,
            "ssoDatabaseServer": spec.database.server,
            "ssoDatabaseName": spec.database.name,
            "ssoAdminGroup": f"{spec.domain.name}\\{spec.sso.admin_group}",
            "ssoAffiliateAdminGroup": f"{spec.domain.name}\\{spec.sso.affiliate_admin_group}",
            "entssoAccount": spec.sso.service_account,
            "clusterRole": spec.cluster.role,
            "ssoClusterResource": spec.cluster.resource_name,
            "nodes": nodes,
            "firstNode": nodes[0],
            "ownerNodeLastSeen": self.owner_node,
            "masterSecretId": self.system.msid,
            "backupSha256": self.system.backupSha256,
            "escrowLocation": self.system.escrowLocation,
            "failoverVerifiedAt": self.failover_verified_at,
            # null for a system this stack created; server:<name> or backup:<file> for an adopted one
            "ssoSystemAdoptedFrom": self.system.adoptedFrom,
        }
        self.register_outputs(self.outputs)
