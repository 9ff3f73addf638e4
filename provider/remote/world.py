"""The simulated Windows world: a domain, nodes, a failover cluster and SSO databases.

Why a data model of its own: the simulator's handlers change it, tests build drift and faults by
editing it, and ``python -m provider.remote.simulator show`` prints it. It is persisted as JSON and
holds no secret: passwords are kept only as salted digests (``secret_digest``).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _W(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class DomainUser(_W):
    sam: str
    password_digest: str | None = None  # secret_digest() of the password, never the password


class DomainGroup(_W):
    name: str
    scope: Literal["Global", "DomainLocal", "Universal"] = "Global"
    category: Literal["Security", "Distribution"] = "Security"
    members: list[str] = Field(default_factory=list)  # sAMAccountNames


class Domain(_W):
    name: str  # NetBIOS
    users: dict[str, DomainUser] = Field(default_factory=dict)
    groups: dict[str, DomainGroup] = Field(default_factory=dict)


class LogonToken(_W):
    """A logon session's token: the groups it carries were fixed when it was issued (rule 13)."""

    identity: str  # DOMAIN\user
    groups: list[str]
    issued_at: int


class SimFile(_W):
    data_base64: str
    admin_only_acl: bool = False


class Node(_W):
    name: str
    reachable: bool = True
    esso_installed: bool = True
    esso_version: str | None = "11.0.2000.0"
    entsso_state: Literal["Running", "Stopped", "Absent"] = "Stopped"
    entsso_start_type: Literal["Automatic", "Manual", "Disabled", "None"] = "Manual"
    entsso_account: str | None = None
    entsso_password_digest: str | None = None  # the password the service's logon entry holds (a digest)
    sso_server: str | None = None  # HKLM\SOFTWARE\Microsoft\ENTSSO\SQL Server
    sso_database: str | None = None  # ... Database
    ssoss: list[str] = Field(default_factory=list)  # MSIDs under HKLM\SOFTWARE\Microsoft\ENTSSO\SSOSS
    join_marker: str | None = None  # HKLM\SOFTWARE\esso-cluster JoinedSystem, written by Join-SsoSystem
    nlb: bool = False
    logon_right: list[str] = Field(default_factory=list)  # accounts granted SeServiceLogonRight locally
    gpo_logon_right: list[str] | None = None  # None: no GPO defines the right; else the GPO's list wins
    dtc_cid: str | None = None
    files: dict[str, SimFile] = Field(default_factory=dict)  # lower-cased Windows path -> content
    tokens: dict[str, LogonToken] = Field(default_factory=dict)  # identity -> current session's token
    local_start_while_clustered: bool = False  # someone ran net start outside the cluster (0x800706D9)
    protected_dirs: list[str] = Field(default_factory=list)  # lower-cased folders made by New-ProtectedTempDir
    dir_readers: dict[str, str] = Field(default_factory=dict)  # such a folder -> the one account that may read it
    configuration_exe_hangs: bool = False  # Configuration.exe never exits (a dialog in the WinRM session)
    ad_module: bool = True  # the ActiveDirectory module (feature RSAT-AD-PowerShell) is installed
    status_call_fails: bool = False  # ISSOConfigOM.GetServerStatus throws (RPC or access denied)


class ClusterResource(_W):
    name: str
    type: str  # "IP Address", "Network Name", "Distributed Transaction Coordinator", "Generic Service"
    group: str
    state: Literal["Online", "Offline", "Failed", "OnlinePending", "OfflinePending"] = "Offline"
    parameters: dict[str, str | int] = Field(default_factory=dict)
    dependencies: list[str] = Field(default_factory=list)
    possible_owners: list[str] = Field(default_factory=list)
    # A parameter changed while Online: the running service still uses the old values until a cycle.
    needs_cycle: bool = False


class ClusterGroup(_W):
    name: str
    owner_node: str
    state: Literal["Online", "Offline", "PartialOnline", "Failed"] = "Online"


class Cluster(_W):
    name: str
    nodes: dict[str, Literal["Up", "Down", "Paused", "Joining"]] = Field(default_factory=dict)
    groups: dict[str, ClusterGroup] = Field(default_factory=dict)
    resources: dict[str, ClusterResource] = Field(default_factory=dict)
    # Rule 9: node -> True once ENTSSO was taken offline and online on that node since the role last moved.
    cycled_on: dict[str, bool] = Field(default_factory=dict)
    full_access: list[str] = Field(default_factory=list)  # accounts and groups Grant-ClusterAccess -Full named


class AffiliateCredential(_W):
    """One user's credentials in an affiliate application, encrypted under a master secret (the MSID that
    sealed it). Held as a digest: the world file carries no credential."""

    application: str
    user: str
    msid: str
    credential_digest: str


class SsoDatabase(_W):
    server: str
    name: str
    secret_server: str
    admin_group: str
    affiliate_admin_group: str
    msid: str
    service_account: str
    created_by: str  # the node that created the system
    backup_password_digest: str | None = None
    # [INFERRED] from the public SSOX schema: the database may record the MSID only on encrypted rows, so a
    # new system with no affiliate applications reports none. False models that reading.
    reports_msid: bool = True
    credentials: list[AffiliateCredential] = Field(default_factory=list)  # existing encrypted data (adoption)
    # A rotation in progress (sim_rotation): the new secret, the node that generated it, reads until it ends.
    reencrypt_to: str | None = None
    reencrypt_on: str | None = None
    reencrypt_calls_left: int = 0


class Fault(_W):
    """An injected failure: ``error`` raises before acting, ``drop_after`` acts and then drops the connection,
    ``interrupt`` stops the script at its named ``phase`` (what it did before that point stays done, as on
    Windows when a session dies half way) and drops the connection (issue 14, point 3)."""

    node: str
    script: str
    kind: Literal["error", "drop_before", "drop_after", "hang", "interrupt"] = "error"
    remaining: int = 1
    phase: str | None = None  # only for ``interrupt``: one of the script's ``Script.phases``


class World(_W):
    domain: Domain
    nodes: dict[str, Node]
    cluster: Cluster
    databases: dict[str, SsoDatabase] = Field(default_factory=dict)  # key: "server/database" lower-case
    clock: int = 0
    calls: dict[str, int] = Field(default_factory=dict)  # "node/script" -> count
    faults: list[Fault] = Field(default_factory=list)
    latency_ms: int = 0
    sql_servers: list[str] = Field(default_factory=list)  # reachable SQL Server hosts; empty: any
    reencrypt_calls: int = 2  # simulator calls a rotation's re-encryption lasts (sim_rotation)

    def db_key(self, server: str, database: str) -> str:
        return f"{server}/{database}".lower()

    def calls_for(self, *, node: str | None = None, script: str | None = None) -> int:
        total = 0
        for key, count in self.calls.items():
            n, s = key.split("/", 1)
            if (node is None or n == node) and (script is None or s == script):
                total += count
        return total

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def secret_digest(value: str, salt: str = "esso-sim") -> str:
    """A salted digest so the simulator can check a password without storing it."""
    return hashlib.sha256(f"{salt}:{value}".encode()).hexdigest()
