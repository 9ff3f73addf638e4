"""Preconditions the seed assumes and the product verifies, never creates.

Why separate: every resource that changes something first proves the world is one the seed's
procedure can succeed in (ESSO installed at one version, cluster members Up, a clustered MSDTC with a
unique CID, the role with an IP Address and the configured Network Name, no NLB, the second hop, a
logon right that no GPO will revert). Each refusal carries its ESSO code and the seed's advice, and
all of them run before the first change script.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from provider import contracts
from provider.errors import EssoError
from provider.remote.base import Remote, TransientRemoteError

NETWORK_NAME = contracts.NETWORK_NAME
IP_ADDRESS = contracts.IP_ADDRESS
MSDTC = contracts.MSDTC
GENERIC_SERVICE = contracts.GENERIC_SERVICE

T = TypeVar("T")


def node_facts(remote: Remote, node: str, *, service_account: str, admin_group: str) -> contracts.NodeFacts:
    return remote.run(
        node,
        contracts.GET_NODE_FACTS,
        contracts.GetNodeFactsParams(service_account=service_account, admin_group=admin_group),
    )


def gather_node_facts(
    remote: Remote, nodes: Sequence[str], *, service_account: str, admin_group: str
) -> dict[str, contracts.NodeFacts]:
    """Every node's facts, read in parallel (``Remote.fan_out``), each answered by the operation's cache when
    no change touched that node since it was last read."""
    return remote.fan_out(
        nodes, lambda n: node_facts(remote, n, service_account=service_account, admin_group=admin_group)
    )


def first_answer(nodes: Sequence[str], ask: Callable[[str], T]) -> T:
    """Ask each node in turn; an unreachable or timed-out node (a transient error) passes the question on."""
    last: TransientRemoteError | None = None
    for node in nodes:
        try:
            return ask(node)
        except TransientRemoteError as exc:
            last = exc
    if last is None:
        raise EssoError("ESSO-017", "no node was given to ask.", step="facts")
    raise last


def cluster_facts(remote: Remote, nodes: Sequence[str], role: str) -> contracts.ClusterFacts:
    """Cluster facts from the first node that answers (a cluster script runs on any Up node)."""
    params = contracts.GetClusterFactsParams(role_name=role)
    return first_answer(nodes, lambda node: remote.run(node, contracts.GET_CLUSTER_FACTS, params))


def database_facts(remote: Remote, nodes: Sequence[str], server: str, database: str) -> contracts.SsoDatabaseFacts:
    """The SSO database's global info, read through the first node that answers."""
    params = contracts.SsoDatabaseParams(server=server, database=database)
    return first_answer(nodes, lambda node: remote.run(node, contracts.GET_SSO_DATABASE_FACTS, params))


def check_second_hop(remote: Remote, step: str) -> None:
    """Rule 12, early: refuse before the first read. The rule's home is ``Remote.run`` (docs/rules.md)."""
    if not remote.second_hop:
        raise EssoError(
            "ESSO-015",
            "Configuration.exe, ssomanage and the AD cmdlets reach SQL Server and a domain controller; "
            "transport.secondHop is 'none'.",
            step=step,
        )


def check_nodes(facts: dict[str, contracts.NodeFacts], *, service_account: str) -> None:
    """ESSO installed at one version, no NLB, and a logon right that no Group Policy would revert."""
    versions: dict[str, str] = {}
    for node, f in facts.items():
        if not f.esso_installed:
            raise EssoError("ESSO-016", "Enterprise SSO is not installed.", node=node, step="preflight")
        versions[node] = f.esso_version or "unknown"
        if f.nlb_installed:
            raise EssoError("ESSO-001", "Network Load Balancing is installed.", node=node, step="preflight")
        if f.logon_right.via_gpo and not f.logon_right.gpo_includes_account:
            raise EssoError(
                "ESSO-018",
                f"a Group Policy defines 'Log on as a service' without {service_account}; a local grant "
                "would be reverted at the next policy refresh.",
                node=node,
                step="preflight",
            )
    if len(set(versions.values())) > 1:
        listed = ", ".join(f"{n}={v}" for n, v in versions.items())
        raise EssoError("ESSO-016", f"Enterprise SSO versions differ: {listed}.", step="preflight")


def check_cluster(
    cluster: contracts.ClusterFacts,
    *,
    nodes: Sequence[str],
    role: str,
    network_name: str,
    node_cids: dict[str, str | None],
) -> str:
    """Verify the cluster preconditions; return the name of the role's Network Name resource."""
    states = {n.name.lower(): n.state for n in cluster.nodes}
    for node in nodes:
        state = states.get(node.lower())
        if state is None:
            raise EssoError("ESSO-017", "the node is not a member of the cluster.", node=node, step="preflight")
        if state != "Up":
            raise EssoError("ESSO-017", f"the cluster node is {state}.", node=node, step="preflight")
    if not cluster.msdtc:
        raise EssoError(
            "ESSO-008", "the cluster has no Distributed Transaction Coordinator resource.", step="preflight"
        )
    seen: dict[str, str] = {}
    for node, cid in node_cids.items():  # a cloned image: two nodes with one local CID ([MS-CMOM] 2.2.3.5)
        if cid and cid.lower() in seen:
            raise EssoError(
                "ESSO-008",
                f"the local MSDTC CID {cid} of {node} is also {seen[cid.lower()]}'s (a cloned image).",
                node=node,
                step="preflight",
            )
        if cid:
            seen[cid.lower()] = node
    local = set(seen)
    for dtc in cluster.msdtc:
        cid = (dtc.parameters.cid or "").lower() if isinstance(dtc.parameters, contracts.DtcParameters) else ""
        if cid and cid in local:
            raise EssoError(
                "ESSO-008",
                f"the clustered MSDTC {dtc.name} shares its CID with a node's local MSDTC.",
                step="preflight",
            )
    if cluster.role is None:
        raise EssoError("ESSO-009", f"the cluster has no role named {role}.", step="preflight")
    kinds = {r.type for r in cluster.resources}
    if not kinds & {IP_ADDRESS, contracts.IPV6_ADDRESS} or NETWORK_NAME not in kinds:
        raise EssoError("ESSO-009", f"role {role} needs an IP Address and a Network Name resource.", step="preflight")
    return network_name_resource(cluster, role=role, network_name=network_name)


def network_name_resource(cluster: contracts.ClusterFacts, *, role: str, network_name: str) -> str:
    names = {
        r.parameters.name or "": r.name
        for r in cluster.resources
        if isinstance(r.parameters, contracts.NetworkNameParameters)
    }
    for published, resource in names.items():
        if published.lower() == network_name.lower():
            return resource
    found = ", ".join(sorted(names)) or "none"
    raise EssoError(
        "ESSO-007",
        f"no Network Name resource in role {role} publishes the name {network_name} (found: {found}).",
        step="preflight",
    )


def sso_resource(cluster: contracts.ClusterFacts, resource_name: str) -> contracts.ClusterResourceFacts | None:
    for r in cluster.resources:
        if r.name.lower() == resource_name.lower():
            return r
    return None


def _account_key(account: str) -> tuple[str, str]:
    """(domain, user) of DOMAIN\\user or user@domain.fqdn, lower case (domain '' when not given)."""
    if "\\" in account:
        domain, user = account.split("\\", 1)
        return domain.lower(), user.lower()
    user, _, domain = account.partition("@")
    return domain.split(".", 1)[0].lower(), user.lower()


def check_join_account(
    node: str, facts: dict[str, contracts.NodeFacts], *, server: str, database: str, account: str
) -> None:
    """Rule 5 on real nodes (issue 9 B): a join uses the account ENTSSO already runs as on the system's other nodes.

    Why here: Configuration.exe would accept another account, and the registry copy of the secret is bound to the
    creator's (seed step 15); the simulator refuses the same case with the same code.
    """
    want_domain, want_user = _account_key(account)
    for other, f in facts.items():
        config = f.sso_config
        if other.lower() == node.lower() or config is None or not f.entsso.account:
            continue
        if not config.is_system(server, database):
            continue
        domain, user = _account_key(f.entsso.account)
        if user != want_user or (domain and want_domain and domain != want_domain):
            raise EssoError(
                "ESSO-006",
                f"ENTSSO on {other} runs as {f.entsso.account}; the join would use {account}. Join with the "
                "system's own service account (sso.serviceAccount).",
                node=node,
                step="preflight",
            )


def check_token(node: str, facts: contracts.NodeFacts, admin_group: str) -> None:
    if not facts.token_has_admin_group:
        raise EssoError(
            "ESSO-004",
            f"the configuring account's logon session on {node} does not carry {admin_group}.",
            node=node,
            step="preflight",
        )


def check_service_account(node: str, facts: contracts.NodeFacts, service_account: str) -> None:
    if not facts.logon_right.granted:
        raise EssoError(
            "ESSO-003",
            f"{service_account} does not hold 'Log on as a service' on {node}.",
            node=node,
            step="preflight",
        )


def fresh_token_facts(
    remote: Remote, node: str, *, service_account: str, admin_group: str, known: contracts.NodeFacts | None = None
) -> contracts.NodeFacts:
    """Node facts from a session whose token carries SSO Administrators, opening a new one if needed (rule 13).

    ``known``: the facts the preflight read in this session (``Verified.nodes``), used instead of reading again.
    """
    facts = known or node_facts(remote, node, service_account=service_account, admin_group=admin_group)
    if not facts.token_has_admin_group:
        remote.renew_logon(node)
        facts = node_facts(remote, node, service_account=service_account, admin_group=admin_group)
    check_token(node, facts, admin_group)
    check_service_account(node, facts, service_account)
    return facts


@dataclass(frozen=True)
class Verified:
    """What the preflight read, so a resource acts on it instead of reading it again."""

    nodes: dict[str, contracts.NodeFacts]
    cluster: contracts.ClusterFacts
    network_name_resource: str  # the role's Network Name resource that publishes the configured name


def verify_preconditions(
    remote: Remote,
    *,
    nodes: Sequence[str],
    service_account: str,
    admin_group: str,
    role: str,
    network_name: str,
) -> Verified:
    """Every precondition, read-only, before the first change of the procedure."""
    check_second_hop(remote, "preflight")
    pending = remote.start(lambda: cluster_facts(remote, nodes, role))  # read beside the nodes' facts
    facts = gather_node_facts(remote, nodes, service_account=service_account, admin_group=admin_group)
    check_nodes(facts, service_account=service_account)  # the nodes' refusals come first, as before
    cluster = pending()
    netname = check_cluster(
        cluster,
        nodes=nodes,
        role=role,
        network_name=network_name,
        node_cids={n: f.dtc_cid for n, f in facts.items()},
    )
    return Verified(facts, cluster, netname)
