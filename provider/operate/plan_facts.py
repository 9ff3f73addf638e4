"""Steps 1 and 2 of ``esso plan``: read the facts through a ``ReadOnlyRemote`` that sends fact scripts only,
and evaluate every precondition the providers check, each as an entry instead of the first refusal.

Why apart: what is read and checked changes with the providers' preflight, not with the walk over the twin.
"""

from __future__ import annotations

from typing import Any

from provider import contracts
from provider.config.names import split_account
from provider.errors import EssoError
from provider.operate.plan_model import Precondition
from provider.operate.twin import Facts
from provider.remote.base import Remote, TransientRemoteError
from provider.resources import preflight
from provider.spec import ClusterSpec


class ReadOnlyRemote(Remote):
    """Sends fact scripts only: a script whose contract changes anything is refused before it is sent."""

    def __init__(self, inner: Remote) -> None:
        super().__init__(second_hop=inner.second_hop, retries=inner.retries, backoff=inner.backoff)
        self.inner = inner
        self.policy = inner.policy
        self.recorder = inner.recorder  # the plan's fact reads are part of the stack's record

    def _invoke(self, node: str, script: contracts.Script[Any, Any], params: contracts.Params) -> Any:
        if script.changes:
            raise EssoError(
                "ESSO-035", f"esso plan is read-only and sends no change script ({script.name}).", node=node
            )
        return self.inner._invoke(node, script, params)

    def renew_logon(self, node: str) -> None:
        self.inner.renew_logon(node)

    def close(self) -> None:
        self.inner.close()


# ------------------------------------------------------------------------------------------------ facts


def _code(exc: Exception) -> str:
    return exc.code if isinstance(exc, EssoError) else type(exc).__name__


def read_facts(remote: Remote, spec: ClusterSpec) -> Facts:
    """Every fact the providers read before they change anything; a failed read is kept as its ESSO id."""
    facts = Facts()
    admin = f"{spec.domain.name}\\{spec.sso.admin_group}"
    for node in spec.cluster.nodes:
        try:
            facts.nodes[node] = preflight.node_facts(
                remote, node, service_account=spec.sso.service_account, admin_group=admin
            )
        except (EssoError, TransientRemoteError) as exc:
            facts.unreachable[node] = _code(exc)
    answering = [n for n in spec.cluster.nodes if n in facts.nodes] or list(spec.cluster.nodes)
    try:
        facts.cluster = preflight.cluster_facts(remote, answering, spec.cluster.role)
    except EssoError as exc:
        facts.cluster_error = _code(exc)
    if remote.second_hop:
        try:
            facts.database = preflight.database_facts(remote, answering, spec.database.server, spec.database.name)
        except EssoError as exc:
            facts.database_error = _code(exc)
        members = [split_account(a)[1] for a in (spec.sso.service_account, spec.sso.configuring_account)]
        params = contracts.DomainGroupsParams(
            admin_group=spec.sso.admin_group, affiliate_admin_group=spec.sso.affiliate_admin_group, members=members
        )
        try:
            facts.groups = preflight.first_answer(
                answering, lambda n: remote.run(n, contracts.GET_DOMAIN_GROUP_FACTS, params)
            )
        except EssoError as exc:
            facts.groups_error = _code(exc)
    else:
        facts.database_error = facts.groups_error = "ESSO-015"
    return facts


def _entry(name: str, node: str | None, check: Any) -> Precondition:
    try:
        check()
    except EssoError as exc:
        return Precondition(name=name, node=node or exc.node, ok=False, detail=f"{exc.code}: {exc.detail}")
    return Precondition(name=name, node=node, ok=True, detail="ok")


def preconditions(facts: Facts, spec: ClusterSpec, second_hop: bool) -> list[Precondition]:
    """The providers' preconditions, each evaluated with the providers' own check (preflight.py)."""
    account = spec.sso.service_account
    out: list[Precondition] = []

    def hop() -> None:
        if not second_hop:
            raise EssoError("ESSO-015", "transport.secondHop is 'none'.", step="plan")

    out.append(_entry("second hop (CredSSP or Kerberos delegation) to SQL Server and the domain", None, hop))
    for node in spec.cluster.nodes:
        f = facts.nodes.get(node)
        if f is None:
            code = facts.unreachable.get(node, "?")
            out.append(Precondition(name="node answers", node=node, ok=False, detail=f"{code}: no facts"))
            continue
        out.append(Precondition(name="node answers", node=node, ok=True, detail="ok"))
        out.append(
            _entry(
                "ESSO installed, no NLB, logon right not reverted by a GPO",
                node,
                lambda f=f, n=node: preflight.check_nodes({n: f}, service_account=account),
            )
        )
        granted = f.logon_right.granted
        out.append(
            Precondition(
                name="'Log on as a service' for the service account",
                node=node,
                ok=granted or not f.logon_right.via_gpo or f.logon_right.gpo_includes_account,
                detail="granted" if granted else "not yet: sso-domain-groups grants it (Grant-ServiceLogonRight)",
            )
        )
        out.append(
            Precondition(
                name="logon token carries SSO Administrators",
                node=node,
                ok=True,
                detail="yes"
                if f.token_has_admin_group
                else "not yet: sso-domain-groups adds the membership and up opens a new logon session",
            )
        )
    versions = {n: f.esso_version or "unknown" for n, f in facts.nodes.items() if f.esso_installed}
    if len(versions) > 1:
        same = len(set(versions.values())) == 1
        listed = ", ".join(f"{n}={v}" for n, v in versions.items())
        out.append(
            Precondition(
                name="one Enterprise SSO version on every node",
                node=None,
                ok=same,
                detail=listed if same else f"ESSO-016: Enterprise SSO versions differ: {listed}.",
            )
        )
    if facts.cluster is not None:
        cluster = facts.cluster
        out.append(
            _entry(
                "cluster members Up, clustered MSDTC with its own CID, the role with IP and Network Name",
                None,
                lambda: preflight.check_cluster(
                    cluster,
                    nodes=spec.cluster.nodes,
                    role=spec.cluster.role,
                    network_name=spec.cluster.network_name,
                    node_cids={n: f.dtc_cid for n, f in facts.nodes.items()},
                ),
            )
        )
    else:
        out.append(Precondition(name="cluster facts", node=None, ok=False, detail=f"{facts.cluster_error}: unread"))
    if facts.database is not None:
        where = f"{spec.database.server}/{spec.database.name}"
        state = "exists" if facts.database.exists else "does not exist yet (up creates it)"
        out.append(Precondition(name="SSO database reachable", node=None, ok=True, detail=f"{where} {state}"))
    else:
        out.append(
            Precondition(name="SSO database reachable", node=None, ok=False, detail=f"{facts.database_error}: unread")
        )
    if facts.groups is not None:
        for g in (facts.groups.admin_group, facts.groups.affiliate_admin_group):
            good = not g.exists or (g.scope == "Global" and g.category == "Security")
            detail = f"{g.scope} {g.category}" if g.exists else "absent (up creates it)"
            out.append(
                Precondition(
                    name=f"group {g.name} is a domain Global Security group",
                    node=None,
                    ok=good,
                    detail=detail if good else f"ESSO-002: {detail}",
                )
            )
    else:
        out.append(Precondition(name="domain groups", node=None, ok=False, detail=f"{facts.groups_error}: unread"))
    return out
