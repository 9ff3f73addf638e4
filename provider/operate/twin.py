"""The twin: a simulator world seeded from the facts the fact scripts read, and an escrow that is never written.

Why a twin: ``esso plan`` runs the real providers, so they need a world that answers as the cluster would.
The facts say what the fact scripts can see (nodes, ENTSSO, the registry's SSO settings, the cluster, the
database's global info, the domain groups). What they cannot see is listed in ``Twin.unknowns`` with the
assumption the twin makes, so the plan says so instead of guessing silently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import get_args

from pydantic import BaseModel, ConfigDict

from provider import contracts
from provider.config.names import split_account
from provider.escrow.base import Escrow, EscrowRecord
from provider.remote.world import (
    Cluster,
    ClusterGroup,
    ClusterResource,
    Domain,
    DomainGroup,
    DomainUser,
    Node,
    SsoDatabase,
    World,
    secret_digest,
)
from provider.spec import ClusterSpec


class Facts(BaseModel):
    """What the fact scripts returned, and which reads failed (by ESSO id)."""

    model_config = ConfigDict(extra="forbid")

    nodes: dict[str, contracts.NodeFacts] = {}
    unreachable: dict[str, str] = {}  # node -> ESSO id of the failed read
    cluster: contracts.ClusterFacts | None = None
    cluster_error: str | None = None
    database: contracts.SsoDatabaseFacts | None = None
    database_error: str | None = None
    groups: contracts.DomainGroupFacts | None = None
    groups_error: str | None = None


@dataclass
class Twin:
    world: World
    unknowns: list[str] = field(default_factory=list)


_RESOURCE_STATES = set(get_args(ClusterResource.model_fields["state"].annotation))
_GROUP_STATES = set(get_args(ClusterGroup.model_fields["state"].annotation))
_NODE_STATES = {"Up", "Down", "Paused", "Joining"}


def _resource(r: contracts.ClusterResourceFacts) -> ClusterResource:
    return ClusterResource(
        name=r.name,
        type=r.type,
        group=r.group,
        state=r.state if r.state in _RESOURCE_STATES else "Failed",
        parameters=r.parameters.model_dump(
            by_alias=True, exclude_none=True
        ),  # keyed as Get-ClusterParameter names them
        dependencies=list(r.dependencies),
        possible_owners=list(r.possible_owners),
    )


def twin_world(facts: Facts, spec: ClusterSpec) -> Twin:
    """A world that answers the fact scripts as the cluster did; passwords assumed to be the stack's."""
    unknowns = [
        "passwords: no script reads one; the twin assumes the domain, ENTSSO's logon and the master secret backup "
        "use the stack's serviceAccountPassword and backupPassword",
        "files on the nodes (earlier backup files, temporary folders) are not read; the twin assumes none",
        "whether ENTSSO was cycled on a node since the role last moved is not read; the twin assumes not, so a "
        "restore step may show a cycle the cluster would skip",
    ]
    service_pw = spec.service_account_password.get_secret_value()
    backup_pw = spec.backup_password.get_secret_value() if spec.backup_password else None
    domain = spec.domain.name
    users = {
        split_account(a)[1]: DomainUser(sam=split_account(a)[1], password_digest=secret_digest(service_pw))
        for a in (spec.sso.service_account,)
    }
    configuring = split_account(spec.sso.configuring_account)[1]
    users[configuring] = DomainUser(sam=configuring)
    groups: dict[str, DomainGroup] = {}
    if facts.groups is not None:
        for g in (facts.groups.admin_group, facts.groups.affiliate_admin_group):
            if g.exists:
                groups[g.name] = DomainGroup(
                    name=g.name,
                    scope=g.scope or "Global",
                    category=g.category or "Security",
                    members=list(g.members),
                )
    else:
        unknowns.append(f"the domain groups could not be read ({facts.groups_error}); the twin assumes none exist")

    nodes: dict[str, Node] = {}
    for name in spec.cluster.nodes:
        f = facts.nodes.get(name)
        if f is None:
            nodes[name] = Node(name=name, reachable=False)
            unknowns.append(f"{name} did not answer ({facts.unreachable.get(name, '?')}); the twin has it unreachable")
            continue
        account = f.entsso.account
        local_right = [spec.sso.service_account] if f.logon_right.granted and not f.logon_right.via_gpo else []
        gpo_right: list[str] | None = None
        if f.logon_right.via_gpo:
            gpo_right = [spec.sso.service_account] if f.logon_right.gpo_includes_account else []
        nodes[name] = Node(
            name=f.computer_name or name,
            esso_installed=f.esso_installed,
            esso_version=f.esso_version,
            entsso_state=f.entsso.state,
            entsso_start_type=f.entsso.start_type,
            entsso_account=account,
            entsso_password_digest=secret_digest(service_pw) if account else None,
            sso_server=f.sso_config.server if f.sso_config else None,
            sso_database=f.sso_config.database if f.sso_config else None,
            ssoss=list(f.ssoss_msids),
            nlb=f.nlb_installed,
            logon_right=local_right,
            gpo_logon_right=gpo_right,
            dtc_cid=f.dtc_cid,
        )

    cluster = Cluster(name="CLUSTER")
    if facts.cluster is not None:
        cf = facts.cluster
        cluster.name = cf.cluster_name
        cluster.nodes = {n.name: n.state for n in cf.nodes if n.state in _NODE_STATES}  # type: ignore[misc]
        up = next((n for n, s in cluster.nodes.items() if s == "Up"), spec.cluster.nodes[0])
        for r in [*cf.resources, *cf.msdtc]:
            cluster.resources[r.name] = _resource(r)
            cluster.groups.setdefault(r.group, ClusterGroup(name=r.group, owner_node=up))
        if cf.role is not None:
            state = cf.role.state if cf.role.state in _GROUP_STATES else "Failed"
            cluster.groups[cf.role.name] = ClusterGroup(
                name=cf.role.name,
                owner_node=cf.role.owner_node,
                state=state,
            )
        cluster.cycled_on = dict.fromkeys(cluster.nodes, False)
    else:
        unknowns.append(f"the cluster could not be read ({facts.cluster_error}); the twin has no cluster")

    databases: dict[str, SsoDatabase] = {}
    db = facts.database
    if db is not None and db.exists:
        msid = db.msid
        reports = msid is not None
        if msid is None:  # the database did not report it: the MSID the configured nodes hold
            held = [m for n in nodes.values() if n.sso_database for m in n.ssoss]
            msid = held[0] if held else None
            unknowns.append("the database reports no master secret id; the twin takes the one the nodes hold")
        creator = next((n.name for n in nodes.values() if n.sso_database and msid in n.ssoss), spec.cluster.nodes[0])
        if msid is not None:
            key = f"{spec.database.server}/{spec.database.name}".lower()
            databases[key] = SsoDatabase(
                server=spec.database.server,
                name=spec.database.name,
                secret_server=db.secret_server or "",
                admin_group=db.admin_group or "",
                affiliate_admin_group=db.affiliate_admin_group or "",
                msid=msid,
                service_account=spec.sso.service_account,
                created_by=creator,
                backup_password_digest=secret_digest(backup_pw, f"backup:{msid}") if backup_pw else None,
                reports_msid=reports,
            )
            unknowns.append(
                "the SSO database's service account is not read; the twin assumes the stack's serviceAccount"
            )
    elif db is None:
        unknowns.append(f"the SSO database could not be read ({facts.database_error}); the twin assumes none exists")
    world = World(domain=Domain(name=domain, users=users, groups=groups), nodes=nodes, cluster=cluster)
    world.databases = databases
    return Twin(world, unknowns)


class TwinEscrow(Escrow):
    """The stack's escrow as the plan sees it: reads go to the real escrow, writes stay in memory."""

    def __init__(self, real: Escrow) -> None:
        self.real = real
        self.namespace = real.namespace
        self.manifests: dict[str, bytes] = {}
        self.kept: dict[str, tuple[EscrowRecord, bytes]] = {}

    def _read_manifest(self, msid: str) -> bytes | None:
        if msid in self.manifests:
            return self.manifests[msid]
        return self.real._read_manifest(msid)

    def _write_manifest(self, msid: str, data: bytes) -> None:
        self.manifests[msid] = data

    def store(self, msid: str, data: bytes) -> EscrowRecord:
        sha = hashlib.sha256(data).hexdigest()
        record = EscrowRecord(
            msid=msid,
            sha256=sha,
            location=f"plan://{sha}.bak",
            size=len(data),
            stored_at=datetime.now(UTC).isoformat(),
        )
        self.kept[sha] = (record, data)
        return record

    def find(self, msid: str, sha256: str, location: str | None = None) -> EscrowRecord | None:
        if sha256 in self.kept:
            return self.kept[sha256][0]
        return self.real.find(msid, sha256, location)

    def fetch(self, msid: str, sha256: str, location: str | None = None) -> bytes:
        if sha256 in self.kept:
            return self.kept[sha256][1]
        return self.real.fetch(msid, sha256, location)

    def describe(self) -> str:
        return f"plan's view of {self.real.describe()}"
