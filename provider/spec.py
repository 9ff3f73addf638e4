"""The stack configuration as pydantic models: the one place a stack's words are checked.

Why here: the program, every provider's ``check()`` and the offline ``python -m provider.spec check``
validate with the same models, so a pull request learns of a bad key before any preview runs.
Errors name the dotted config key and the fix; secrets are ``SecretStr`` and never echoed.

SKELETON: field names and types are the contract other modules rely on; validators, the loader
and the CLI are filled in by the spec work (issue 2).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel

PROJECT = "esso-cluster"
DEFAULT_ADMIN_GROUP = "SSO Administrators"
DEFAULT_AFFILIATE_GROUP = "SSO Affiliate Administrators"
DEFAULT_RESOURCE_NAME = "Enterprise Single Sign-On Service"
ESSO_FOLDER = r"C:\Program Files\Common Files\Enterprise Single Sign-On"


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
    )


class ClusterSection(_Model):
    """The failover cluster and the role that will hold ENTSSO."""

    network_name: str  # the Network Name resource's Name: the secret server name
    role: str  # the cluster role (group) with an IP Address and a Network Name
    nodes: list[str]  # ordered; nodes[0] creates the SSO system and ends up owning the role
    resource_name: str = DEFAULT_RESOURCE_NAME  # the Generic Service resource for ENTSSO
    dns_suffix: str | None = None  # appended to node names to reach them over WinRM


class DomainSection(_Model):
    name: str  # NetBIOS domain name, e.g. CONTOSO


class SsoSection(_Model):
    admin_group: str = DEFAULT_ADMIN_GROUP
    affiliate_admin_group: str = DEFAULT_AFFILIATE_GROUP
    service_account: str  # DOMAIN\user that ENTSSO logs on as
    configuring_account: str  # DOMAIN\user that runs configuration (the WinRM identity)


class DatabaseSection(_Model):
    server: str  # host[\instance][,port]
    name: str = "SSODB"


class BackupSection(_Model):
    path: str = ESSO_FOLDER + r"\SSOSecret.bak"  # where node 1 writes the master secret backup
    reminder: str = ""


class EscrowSection(_Model):
    kind: Literal["local", "s3"] = "local"
    path: str | None = None  # local: a persistent folder
    bucket: str | None = None
    prefix: str = "esso"
    kms_key_id: str | None = None
    region: str | None = None
    password_secret_id: str | None = None  # Secrets Manager ARN or name holding the backup password


class TransportSection(_Model):
    """How nodes are reached over WinRM/PSRP. Changing it never replaces a resource."""

    auth: Literal["negotiate", "ntlm", "kerberos", "credssp", "certificate", "basic"] = "negotiate"
    ssl: bool = True
    port: int | None = None  # None: 5986 with ssl, 5985 without
    cert_validation: bool = True
    ca_bundle: str | None = None
    encryption: Literal["auto", "always", "never"] = "auto"
    second_hop: Literal["none", "credssp", "kerberos-delegation"] = "none"
    certificate_pem: str | None = None
    certificate_key_pem: str | None = None
    connect_timeout: float = 30.0
    read_timeout: float = 90.0
    operation_timeout: float = 60.0
    retries: int = 2
    backoff: float = 2.0


class FailoverSection(_Model):
    verify: bool = True  # move the role to every restored node and back (seed restore step 7)


class PolicySection(_Model):
    protect_sso_system: bool = True
    on_destroy: Literal["retain", "remove"] = "retain"


class ClusterSpec(_Model):
    """The whole stack configuration."""

    target: Literal["simulator", "winrm"] = "winrm"
    simulator_state: str | None = None
    cluster: ClusterSection
    domain: DomainSection
    sso: SsoSection
    database: DatabaseSection
    backup: BackupSection = Field(default_factory=BackupSection)
    escrow: EscrowSection = Field(default_factory=EscrowSection)
    transport: TransportSection = Field(default_factory=TransportSection)
    allow_disruption: bool = False
    failover: FailoverSection = Field(default_factory=FailoverSection)
    policy: PolicySection = Field(default_factory=PolicySection)
    service_account_password: SecretStr
    backup_password: SecretStr | None = None  # may come from escrow.passwordSecretId instead
    winrm_password: SecretStr | None = None  # the configuring account's password (not for the simulator)
