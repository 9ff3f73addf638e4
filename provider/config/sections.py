"""The sections of a stack's configuration: one pydantic model per ``esso-cluster:<section>`` object.

Why declarations only: each field's rule is its type (``rules``) and its meaning is its description,
which ``project_file`` turns into Pulumi.yaml's config descriptions, so the model, the offline check and
``pulumi config`` say the same thing. What remains here are the rules between fields of one section.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from provider.config.names import computer_problem
from provider.config.places import ESSO_FOLDER
from provider.config.problems import CONTROL, fail, quoted, raise_if
from provider.config.rules import (
    DEFAULT_ADMIN_GROUP,
    DEFAULT_AFFILIATE_GROUP,
    DEFAULT_RESOURCE_NAME,
    AdminGroupName,
    AffiliateAdminGroupName,
    AwsRegion,
    Backoff,
    BucketName,
    ClusterNodes,
    DatabaseName,
    DnsSuffix,
    DomainAccount,
    EscrowFolder,
    KeyPrefix,
    KmsKeyId,
    NetbiosDomain,
    NetworkName,
    PasswordReminder,
    PemFile,
    ResourceName,
    Retries,
    RoleName,
    Seconds,
    SecretsManagerId,
    SqlServer,
    TcpPort,
    WindowsBackupPath,
)


class ConfigModel(BaseModel):
    """camelCase keys as a stack file writes them, unknown keys refused, values never echoed in errors."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
    )


class ClusterSection(ConfigModel):
    """The failover cluster and the role that will hold ENTSSO."""

    network_name: NetworkName = Field(
        description="the Name of the role's Network Name resource, which becomes the secret server name, "
        "e.g. BIZTALKSSO"
    )
    role: RoleName = Field(description="the cluster role, or group, that has an IP Address and a Network Name")
    nodes: ClusterNodes = Field(
        description="the NetBIOS names of the cluster's nodes, at least two, in order: nodes[0] creates the SSO "
        "system and owns the role at the end of every run"
    )
    resource_name: ResourceName = Field(
        DEFAULT_RESOURCE_NAME, description="the Generic Service cluster resource for ENTSSO"
    )
    dns_suffix: DnsSuffix | None = Field(None, description="appended to node names to reach them over WinRM")

    @model_validator(mode="after")
    def _network_name_is_not_a_node(self) -> Self:
        if self.network_name.upper() in {node.upper() for node in self.nodes}:
            fail(
                [
                    (
                        "networkName",
                        f"{quoted(self.network_name)} is also a node's name; the Network Name is the role's own "
                        "computer name (e.g. BIZTALKSSO): give the Name of the role's Network Name resource",
                    )
                ]
            )
        return self


class DomainSection(ConfigModel):
    """The Active Directory domain of the nodes, the accounts and the SSO groups."""

    name: NetbiosDomain = Field(description="the domain's pre-Windows 2000 NetBIOS name, e.g. CONTOSO")


def _rotation_problem(value: str) -> str | None:
    """A rotation label names a backup file on the node and an escrow entry: letters, digits, '.', '_', '-'."""
    if not _ROTATION_LABEL.fullmatch(value):
        return (
            f"sso.masterSecretRotation {quoted(value)} must be 1-40 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit, e.g. 2026-Q4"
        )
    return None


_ROTATION_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")


def _rotation_rule(value: str) -> str:
    raise_if(_rotation_problem(value))
    return value


RotationLabel = Annotated[str, AfterValidator(_rotation_rule)]


class SsoSection(ConfigModel):
    """Enterprise SSO's accounts and groups."""

    admin_group: AdminGroupName = Field(
        DEFAULT_ADMIN_GROUP, description="the SSO Administrators domain global group, name alone"
    )
    affiliate_admin_group: AffiliateAdminGroupName = Field(
        DEFAULT_AFFILIATE_GROUP, description="the SSO Affiliate Administrators domain global group, name alone"
    )
    service_account: DomainAccount = Field(
        description="DOMAIN\\user that ENTSSO logs on as on every node, e.g. CONTOSO\\svc-entsso"
    )
    configuring_account: DomainAccount = Field(
        description="DOMAIN\\user that runs the configuration and logs on over WinRM, e.g. CONTOSO\\esso-config"
    )
    master_secret_rotation: RotationLabel | None = Field(
        None,
        description="a label such as 2026-Q4; changing it generates a new master secret on the next up "
        "(docs/rotation.md); unset or unchanged, nothing rotates",
    )


class DatabaseSection(ConfigModel):
    """The SSO database."""

    server: SqlServer = Field(
        description="the SQL Server every node reaches, as host[\\instance][,port], e.g. SQL01 or SQL01\\BTS,1433"
    )
    name: DatabaseName = Field("SSODB", description="the SSO database's name")


class BackupSection(ConfigModel):
    """The master secret backup that nodes[0] writes."""

    path: WindowsBackupPath = Field(
        ESSO_FOLDER + r"\SSOSecret.bak", description="the absolute Windows path of the .bak file on nodes[0]"
    )
    reminder: PasswordReminder = Field("", description="a hint for the backup password, never the password itself")


class EscrowSection(ConfigModel):
    """Where the backup is kept so that the other nodes can restore it."""

    kind: Literal["local", "s3"] = Field(
        "local", description="a folder on the machine that runs Pulumi, or an S3 bucket"
    )
    path: EscrowFolder | None = Field(
        None, description="kind local: a persistent folder, absolute or relative to the project directory"
    )
    bucket: BucketName | None = Field(None, description="kind s3: the S3 bucket")
    prefix: KeyPrefix = Field("esso", description="kind s3: the key prefix")
    kms_key_id: KmsKeyId | None = Field(None, description="kind s3: the KMS key for SSE-KMS")
    region: AwsRegion | None = Field(None, description="kind s3: the bucket's AWS region")
    password_secret_id: SecretsManagerId | None = Field(
        None,
        description="the name or ARN of a Secrets Manager secret that holds the backup password (instead of "
        "backupPassword)",
    )

    @model_validator(mode="after")
    def _escrow_rules(self) -> Self:
        problems: list[tuple[str, str]] = []
        if self.kind == "local":
            # A missing path is a ClusterSpec rule: the default EscrowSection() must still construct.
            for field in ("bucket", "kms_key_id", "region"):
                if getattr(self, field) is not None:
                    problems.append((to_camel(field), "is only used with escrow.kind: s3: remove it or set kind: s3"))
        else:
            if self.bucket is None:
                problems.append(("bucket", "is required with escrow.kind: s3: give the S3 bucket for the escrow"))
            if self.path is not None:
                problems.append(("path", "is only used with escrow.kind: local: remove it or set kind: local"))
        if problems:
            fail(problems)
        return self


class TransportSection(ConfigModel):
    """How nodes are reached over WinRM/PSRP. Changing it never replaces a resource."""

    auth: Literal["negotiate", "ntlm", "kerberos", "credssp", "certificate", "basic"] = Field(
        "negotiate", description="how the configuring account logs on"
    )
    ssl: bool = Field(True, description="use HTTPS, port 5986, rather than HTTP, port 5985")
    port: TcpPort | None = Field(None, description="the WinRM port when not 5986 with ssl, 5985 without")
    cert_validation: bool = Field(True, description="verify the nodes' HTTPS certificates")
    ca_bundle: PemFile | None = Field(None, description="a PEM file of the CAs that issued the nodes' certificates")
    encryption: Literal["auto", "always", "never"] = Field("auto", description="WinRM message encryption")
    second_hop: Literal["none", "credssp", "kerberos-delegation"] = Field(
        "none",
        description="how steps that reach SQL Server or a domain controller from a node get the configuring "
        "account's identity there",
    )
    certificate_pem: PemFile | None = Field(None, description="auth certificate: the client certificate's PEM file")
    certificate_key_pem: PemFile | None = Field(None, description="auth certificate: the private key's PEM file")
    connect_timeout: Seconds = Field(30.0, description="seconds to open a connection")
    read_timeout: Seconds = Field(90.0, description="seconds to wait for a response, more than operationTimeout")
    operation_timeout: Seconds = Field(60.0, description="seconds WinRM holds a receive before it answers")
    retries: Retries = Field(2, description="retries of a read-only call after a transient failure, never of a change")
    backoff: Backoff = Field(2.0, description="seconds before the first retry, doubled for each next one")
    configuration_timeout_minutes: int = Field(
        30,
        ge=1,
        le=1440,
        description="minutes Configuration.exe may run on a node before its process tree is killed and its log kept "
        "(ESSO-027); its script's overall deadline is 5 minutes more",
    )
    script_deadlines: dict[str, Seconds] = Field(
        default_factory=dict,
        description="overall seconds one call of a named script may take, however many WinRM operation timeouts "
        "arrive (ESSO-060 after it), e.g. Move-SsoRole: 1800; defaults: fact reads 120, changes 600, role moves and "
        "resource cycles 900",
    )

    accept_weaker_transport: list[Literal["http", "certValidation", "encryption"]] = Field(
        [],
        description="the weakened defaults this stack accepts, each listed explicitly: http (ssl false), "
        "certValidation (certValidation false), encryption (encryption never); every run warns, preview shows it",
    )

    @model_validator(mode="after")
    def _known_scripts(self) -> Self:
        from provider.contracts import SCRIPTS  # the contracts name the scripts; they import nothing of config

        unknown = ", ".join(sorted(name for name in self.script_deadlines if name not in SCRIPTS))
        if unknown:
            known = ", ".join(sorted(SCRIPTS))
            fail([("scriptDeadlines", f"names no script of this tool: {unknown}; the scripts: {known}")])
        return self

    @model_validator(mode="after")
    def _transport_rules(self) -> Self:
        # One rule set with the transport (provider.remote.psrp.validate_transport): provider/remote/transport_rules.py
        from provider.remote.transport_rules import transport_problems

        p = transport_problems(self)
        if p:
            fail(p)
        return self


class FailoverSection(ConfigModel):
    """The failover proof after the restores."""

    verify: bool = Field(
        True, description="prove failover on each node right after its restore, then move the role home once"
    )


class PolicySection(ConfigModel):
    """What the stack may do to the SSO system it created."""

    protect_sso_system: bool = Field(True, description="refuse to replace or remove the SSO system")
    on_destroy: Literal["retain", "remove"] = Field(
        "retain", description="what happens to the SSO database when the SSO system is deleted"
    )


def _backup_file_problem(value: str) -> str | None:
    if not value.strip() or CONTROL.search(value):
        return "is empty or has a control character: give the path of the master secret backup (.bak) file"
    if not value.lower().endswith(".bak"):
        return f"{quoted(value)} is not a .bak file: give the master secret backup that ssoconfig -backupSecret wrote"
    return None


def _server_problem(value: str) -> str | None:
    return computer_problem(value, "current master secret server's computer name")


def _valid_server(value: str) -> str:
    raise_if(_server_problem(value))
    return value


def _valid_backup_file(value: str) -> str:
    raise_if(_backup_file_problem(value))
    return value


MasterSecretServerName = Annotated[str, AfterValidator(_valid_server)]
ProvidedBackupFile = Annotated[str, AfterValidator(_valid_backup_file)]


class ExistingSystemSection(ConfigModel):
    """An SSO system that already exists and moves into the cluster (Microsoft's "How to Move the Master Secret
    Server", section "To move the master secret from one server to a Windows Server Cluster"): every node joins
    it, and its master secret comes from exactly one of the two places below. Neither: a new system."""

    master_secret_server: MasterSecretServerName | None = Field(
        None,
        description="the current master secret server, a host outside cluster.nodes reachable over WinRM (same "
        "transport and account as the nodes): the tool backs its master secret up itself, e.g. BTS01",
    )
    backup_file: ProvidedBackupFile | None = Field(
        None,
        description="a master secret backup the operator provides, on the machine that runs Pulumi, for a master "
        "secret server that is gone; backupPassword must be its password",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if self.master_secret_server is not None and self.backup_file is not None:
            fail(
                [
                    (
                        "backupFile",
                        "is a second source of the existing master secret: keep masterSecretServer (the current "
                        "master secret server, reachable over WinRM) or backupFile (a backup whose password is "
                        "backupPassword), not both",
                    )
                ]
            )
        return self

    @property
    def source(self) -> str | None:
        """Where the existing master secret comes from, as the outputs say it; None for a new system."""
        if self.master_secret_server is not None:
            return f"server:{self.master_secret_server}"
        if self.backup_file is not None:
            return f"backup:{self.backup_file}"
        return None


def existing_system_problems(existing: object, cluster: object) -> list[tuple[str, str]]:
    """The current master secret server is outside the cluster: a node's name or the Network Name there means
    the stack describes the cluster, not the server the secret comes from."""
    if not isinstance(existing, ExistingSystemSection) or not isinstance(cluster, ClusterSection):
        return []
    server = existing.master_secret_server
    if server is None:
        return []
    if server.upper() in {n.upper() for n in cluster.nodes} or server.upper() == cluster.network_name.upper():
        return [
            (
                "existingSystem.masterSecretServer",
                f"{quoted(server)} is a cluster node or the Network Name; it is the standalone server that holds the "
                "master secret today (outside cluster.nodes): give its computer name, or remove existingSystem if "
                "the cluster already holds the system",
            )
        ]
    return []
