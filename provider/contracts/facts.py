"""The read scripts' parameters and results: node, cluster, database, domain-group facts and file chunks.

Why apart: what the providers observe changes when a read learns something new, not when a change does.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.alias_generators import to_pascal

from provider.contracts.base import Params, Result

# --------------------------------------------------------------------------------------------- facts


class EntSsoFacts(Result):
    state: Literal["Running", "Stopped", "Absent"]
    start_type: Literal["Automatic", "Manual", "Disabled", "None"]
    account: str | None = None


class SsoConfigState(Result):
    """The SSO system a node is configured for (HKLM\\SOFTWARE\\Microsoft\\ENTSSO\\SQL)."""

    server: str
    database: str

    def is_system(self, server: str, database: str) -> bool:
        """Whether this is the SSO system ``server``/``database`` (names compare in any case, as SQL Server's do)."""
        return (self.server.lower(), self.database.lower()) == (server.lower(), database.lower())


class LogonRightFacts(Result):
    granted: bool  # the account, or a group in its token, holds SeServiceLogonRight on the node now
    via_gpo: bool  # a Group Policy defines the right on this node (a local grant would be reverted)
    gpo_includes_account: bool  # that policy lists the account or a group the account is in


class SecretServerStatus(Result):
    """ISSOConfigOM.GetServerStatus: flags 0x2 SECRET_SERVER_RUNNING, 0x20 CLUSTER; -1 when the call failed."""

    flags: int
    running: bool
    clustered: bool
    error: str | None = None  # why the call failed (a COM or RPC error), reported as a fact, not thrown


class NodeFacts(Result):
    computer_name: str
    esso_installed: bool
    esso_version: str | None = None
    entsso: EntSsoFacts
    sso_config: SsoConfigState | None = None
    ssoss_msids: list[str]
    nlb_installed: bool
    logon_right: LogonRightFacts
    token_has_admin_group: bool  # the current session's token carries SSO Administrators
    cluster_node_state: str | None = None  # Up/Down/Paused/Joining; None: not a cluster member
    dtc_cid: str | None = None  # the node's local MSDTC CID
    secret_server_status: SecretServerStatus
    join_marker: str | None = None  # "server/database" Join-SsoSystem wrote before configuring the node (issue 14)


class GetNodeFactsParams(Params):
    service_account: str  # DOMAIN\user
    admin_group: str  # DOMAIN\SSO Administrators


class ClusterNodeFacts(Result):
    name: str
    state: str


class ClusterParameters(BaseModel):
    """A cluster resource's private properties, keyed exactly as Get-ClusterParameter names them.

    Why not camelCase: these keys are Windows' own names, and Get-ClusterFacts.ps1 emits them verbatim. Every
    field is required (a property the node lacks arrives as ``$null``), so each type's key set is distinct and a
    misspelt key (``Cid`` for ``CID``) fails parsing with ESSO-037 instead of silently reading as absent.
    """

    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="forbid", frozen=True)


class NetworkNameParameters(ClusterParameters):
    """Network Name: the name clients resolve (the secret server name) and its DNS label."""

    name: str | None
    dns_name: str | None


class GenericServiceParameters(ClusterParameters):
    """Generic Service: the service it runs, and "Use Network Name for computer name" (1 = on)."""

    service_name: str | None
    use_network_name: int | None
    startup_parameters: str | None


class IpAddressParameters(ClusterParameters):
    address: str | None
    subnet_mask: str | None
    enable_dhcp: int | None


class DtcParameters(ClusterParameters):
    """Distributed Transaction Coordinator: its CID ([MS-CMOM] 2.2.3.5), ``None`` where it cannot be read."""

    cid: str | None = Field(alias="CID")


class NoParameters(ClusterParameters):
    """Any other resource type: no private property is read."""


# The resource type names as FailoverClusters reports them (ResourceType.Name) -> the parameters read for each.
NETWORK_NAME = "Network Name"
GENERIC_SERVICE = "Generic Service"
IP_ADDRESS = "IP Address"
IPV6_ADDRESS = "IPv6 Address"
MSDTC = "Distributed Transaction Coordinator"
PARAMETERS_BY_TYPE: dict[str, type[ClusterParameters]] = {
    NETWORK_NAME: NetworkNameParameters,
    GENERIC_SERVICE: GenericServiceParameters,
    IP_ADDRESS: IpAddressParameters,
    MSDTC: DtcParameters,
}
ResourceParameters = (
    NetworkNameParameters | GenericServiceParameters | IpAddressParameters | DtcParameters | NoParameters
)


class ClusterResourceFacts(Result):
    name: str
    type: str
    group: str
    state: str
    parameters: ResourceParameters
    dependencies: list[str]
    possible_owners: list[str]

    @field_validator("parameters", mode="before")
    @classmethod
    def _parameters_by_type(cls, value: Any, info: ValidationInfo) -> Any:
        """Parse ``parameters`` with the model of the resource's type, so a wrong key is named as such."""
        if isinstance(value, dict):
            return PARAMETERS_BY_TYPE.get(str(info.data.get("type")), NoParameters).model_validate(value)
        return value


class ClusterGroupFacts(Result):
    name: str
    owner_node: str
    state: str


class ClusterFacts(Result):
    cluster_name: str
    nodes: list[ClusterNodeFacts]
    role: ClusterGroupFacts | None = None
    resources: list[ClusterResourceFacts]  # the role's resources
    msdtc: list[ClusterResourceFacts]  # every clustered Distributed Transaction Coordinator


class GetClusterFactsParams(Params):
    role_name: str


class SsoDatabaseFacts(Result):
    exists: bool
    secret_server: str | None = None
    admin_group: str | None = None
    affiliate_admin_group: str | None = None
    msid: str | None = None  # the current master secret id


class SsoDatabaseParams(Params):
    server: str
    database: str


class GroupFacts(Result):
    name: str
    exists: bool
    scope: Literal["Global", "DomainLocal", "Universal"] | None = None
    category: Literal["Security", "Distribution"] | None = None
    members: list[str]  # sAMAccountNames


class DomainGroupFacts(Result):
    admin_group: GroupFacts
    affiliate_admin_group: GroupFacts


class DomainGroupsParams(Params):
    admin_group: str  # group sAMAccountNames (no domain prefix)
    affiliate_admin_group: str
    members: list[str]  # sAMAccountNames that must be in the admin group


class FileChunk(Result):
    data_base64: str
    size: int
    sha256: str


class ReadFileChunkParams(Params):
    path: str
    offset: int
    length: int
