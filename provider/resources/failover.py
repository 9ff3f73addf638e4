"""Failover proof (seed restore step 7, design rule 10), once per node.

ENTSSO starts on a node without the master secret but serves nothing there, so "the role moved" proves
nothing. A node passes only when the ENTSSO resource is Online on it, its SSOSS key holds the
database's current MSID, and the service reports itself the running, clustered secret server.

Why once per node (issue 15): every role move is an SSO outage for every BizTalk server. A node is proven
right after its restore, where the restore already put the role; proving it never moves the role unless the
role is elsewhere (a creator adopting, or a proof left pending by an earlier run). Visiting every node that
holds the secret on every restore made the moves grow as N².
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from provider import contracts
from provider.errors import EssoError
from provider.escrow.base import holds_msid
from provider.remote.base import Remote, node_key
from provider.resources import preflight
from provider.resources.base import Steps, now_utc
from provider.resources.cluster_ops import move_role, owner_of_role

__all__ = ["PROOF_STEP", "Proof", "move_role", "prove_node", "role_is_online_on", "verify_node"]

PROOF_STEP = "verify-failover"


@dataclass(frozen=True)
class Proof:
    """What a failover proof checks, whichever node it proves: the cluster's nodes and role, the ENTSSO resource,
    the database's current MSID, and who reads the node's facts (the service account, the SSO admin group)."""

    nodes: Sequence[str]
    role: str
    resource: str
    msid: str
    service_account: str
    admin_group: str


def role_is_online_on(remote: Remote, cluster: contracts.ClusterFacts, node: str, resource: str) -> bool:
    """Whether the role is on ``node`` with the ENTSSO resource Online there (a proof then needs no move)."""
    found = preflight.sso_resource(cluster, resource)
    owner = owner_of_role(remote, cluster, step=PROOF_STEP)
    return found is not None and found.state == "Online" and node_key(owner or "") == node_key(node)


def verify_node(remote: Remote, node: str, proof: Proof, *, cluster: contracts.ClusterFacts | None = None) -> None:
    """Rule 10 on one node that currently owns the role (``cluster``: facts already read since the last
    change, so they are not read twice)."""

    def read_facts() -> contracts.NodeFacts:
        return preflight.node_facts(remote, node, service_account=proof.service_account, admin_group=proof.admin_group)

    # the node's facts are read beside the cluster's (one round trip, not two: issue 15); both after any move
    pending = remote.start(read_facts)
    if cluster is None:
        cluster = preflight.cluster_facts(remote, [node, *proof.nodes], proof.role)
    facts = pending()
    found = preflight.sso_resource(cluster, proof.resource)
    owner = cluster.role.owner_node if cluster.role else None
    if found is None or found.state != "Online" or (owner or "").lower() != node.lower():
        state = found.state if found else "missing"
        raise EssoError(
            "ESSO-013", f"the ENTSSO resource is {state} and the role is on {owner}.", node=node, step=PROOF_STEP
        )
    if not holds_msid(facts.ssoss_msids, proof.msid):
        raise EssoError(
            "ESSO-013",
            f"SSOSS on {node} does not hold the database's current master secret {proof.msid}.",
            node=node,
            step=PROOF_STEP,
        )
    status = facts.secret_server_status
    if not (status.running and status.clustered):
        raise EssoError(
            "ESSO-026",
            f"GetServerStatus flags 0x{status.flags:x} (need 0x2 running and 0x20 clustered). {status.error or ''}",
            node=node,
            step=PROOF_STEP,
        )


def prove_node(remote: Remote, node: str, proof: Proof, *, steps: Steps, role_here: bool = False) -> str | None:
    """Prove failover to ``node`` (rule 10) and return the time of the proof.

    The role is moved there only when it is not already Online there. When that move is needed and the stack
    does not allow disruption, nothing moves and None is returned: the proof stays pending, and the caller
    records it so the next ``up`` runs it. A node that fails the proof raises (ESSO-013, ESSO-026).
    ``role_here``: the caller has just put the role on ``node`` (a restore), so the node's facts the proof
    reads are fetched into the operation's cache beside the cluster's (one round trip, not two; issue 15);
    were the role elsewhere after all, the move forgets them and the proof reads them again.
    """
    warm = None
    if role_here and remote.cache is not None:
        warm = remote.start(
            lambda: preflight.node_facts(
                remote, node, service_account=proof.service_account, admin_group=proof.admin_group
            )
        )
    cluster = preflight.cluster_facts(remote, [node, *proof.nodes], proof.role)
    if warm is not None:
        warm()
    here = role_is_online_on(remote, cluster, node, proof.resource)
    if not here:
        if not remote.policy.allow_disruption:
            steps.add(node, PROOF_STEP, False, "pending: the proof needs the role here, and that needs allowDisruption")
            return None
        move_role(remote, role=proof.role, node=node, steps=steps)
    # after a move verify_node reads the cluster again
    verify_node(remote, node, proof, cluster=cluster if here else None)
    steps.add(node, PROOF_STEP, False, "ENTSSO online, MSID held, clustered secret server")
    return now_utc()
