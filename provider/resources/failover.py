"""Failover proof (seed restore step 7, design rule 10).

ENTSSO starts on a node without the master secret but serves nothing there, so "the role moved" proves
nothing. A node passes only when the ENTSSO resource is Online on it, its SSOSS key holds the
database's current MSID, and the service reports itself the running, clustered secret server.
"""

from __future__ import annotations

from collections.abc import Sequence

from provider.errors import EssoError
from provider.remote.base import Remote
from provider.resources import preflight
from provider.resources.base import Steps
from provider.resources.cluster_ops import move_role

__all__ = ["move_role", "verify_failover", "verify_node"]


def verify_node(
    remote: Remote,
    node: str,
    *,
    nodes: Sequence[str],
    role: str,
    resource: str,
    msid: str,
    service_account: str,
    admin_group: str,
) -> None:
    """Rule 10 on one node that currently owns the role."""
    cluster = preflight.cluster_facts(remote, [node, *nodes], role)
    found = preflight.sso_resource(cluster, resource)
    owner = cluster.role.owner_node if cluster.role else None
    if found is None or found.state != "Online" or (owner or "").lower() != node.lower():
        state = found.state if found else "missing"
        raise EssoError(
            "ESSO-013", f"the ENTSSO resource is {state} and the role is on {owner}.", node=node, step="verify-failover"
        )
    facts = preflight.node_facts(remote, node, service_account=service_account, admin_group=admin_group)
    if msid.lower() not in {m.lower() for m in facts.ssoss_msids}:
        raise EssoError(
            "ESSO-013",
            f"SSOSS on {node} does not hold the database's current master secret {msid}.",
            node=node,
            step="verify-failover",
        )
    status = facts.secret_server_status
    if not (status.running and status.clustered):
        raise EssoError(
            "ESSO-026",
            f"GetServerStatus flags 0x{status.flags:x} (need 0x2 running and 0x20 clustered). {status.error or ''}",
            node=node,
            step="verify-failover",
        )


def verify_failover(
    remote: Remote,
    *,
    visit: Sequence[str],
    home: str,
    role: str,
    resource: str,
    msid: str,
    service_account: str,
    admin_group: str,
    steps: Steps,
) -> list[str]:
    """Move the role to each node in ``visit``, prove it serves there, and leave it on ``home``."""
    verified: list[str] = []
    for node in visit:
        move_role(remote, role=role, node=node, steps=steps)
        verify_node(
            remote,
            node,
            nodes=visit,
            role=role,
            resource=resource,
            msid=msid,
            service_account=service_account,
            admin_group=admin_group,
        )
        steps.add(node, "verify-failover", False, "ENTSSO online, MSID held, clustered secret server")
        verified.append(node)
    if not verified or verified[-1].lower() != home.lower():
        move_role(remote, role=role, node=home, steps=steps)
    return verified
