"""The contract of every remote operation: its script name, parameters and result.

Why one module: the PowerShell scripts, the pypsrp transport, the simulator and the providers all meet
here. A script's ``param()`` block must equal its ``Params`` model (PascalCase names), and its single
output hashtable must validate against its ``Result`` model (camelCase keys); ``tests/scripts`` proves
both. ``SecretStr`` parameters travel only as SecureString.

Reads never change anything. Changes are idempotent and report ``changed`` with ``before``/``after``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel, to_pascal


class Params(BaseModel):
    """Script parameters: PascalCase on the wire, as PowerShell expects."""

    model_config = ConfigDict(
        alias_generator=to_pascal, populate_by_name=True, extra="forbid", frozen=True, hide_input_in_errors=True
    )

    def wire(self) -> dict[str, Any]:
        """Parameters by their PowerShell names; ``SecretStr`` values stay wrapped for the transport."""
        return {to_pascal(name): getattr(self, name) for name in type(self).model_fields}


class Result(BaseModel):
    """Script output: camelCase keys of the one hashtable a script emits."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


S = TypeVar("S", bound=BaseModel)


class ChangeResult(Result, Generic[S]):
    """What every change script returns: whether it acted, and the state before and after."""

    changed: bool
    before: S | None = None
    after: S


class NoParams(Params):
    pass


# --------------------------------------------------------------------------------------------- facts


class EntSsoFacts(Result):
    state: Literal["Running", "Stopped", "Absent"]
    start_type: Literal["Automatic", "Manual", "Disabled", "None"]
    account: str | None = None


class SsoConfigState(Result):
    """The SSO system a node is configured for (HKLM\\SOFTWARE\\Microsoft\\ENTSSO\\SQL)."""

    server: str
    database: str


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


# -------------------------------------------------------------------------------------------- changes


class DomainGroupsState(Result):
    admin_group_members: list[str]
    groups_present: list[str]


class LogonRightState(Result):
    granted: bool


class AccountParams(Params):
    account: str  # DOMAIN\user


# How long Configuration.exe may run before its process tree is killed (ESSO-027); issue 9 A1.
CONFIGURATION_TIMEOUT_MINUTES = 30


class InstallSsoParams(Params):
    config_xml: str  # Configuration.exe silent XML with empty password nodes
    server: str
    database: str
    service_account_password: SecretStr
    backup_password: SecretStr
    timeout_minutes: int = Field(default=CONFIGURATION_TIMEOUT_MINUTES, ge=1, le=1440)


class InstallSsoResult(ChangeResult[SsoConfigState]):
    msid: str
    backup_file: str


class JoinSsoParams(Params):
    config_xml: str
    server: str
    database: str
    service_account_password: SecretStr
    timeout_minutes: int = Field(default=CONFIGURATION_TIMEOUT_MINUTES, ge=1, le=1440)


class BackupParams(Params):
    backup_file: str
    backup_password: SecretStr
    reminder: str
    overwrite: bool


class BackupState(Result):
    file: str
    sha256: str
    msid: str


class NewSecretParams(Params):
    backup_file: str
    backup_password: SecretStr
    reminder: str
    expected_msid: str  # the master secret the stack recorded: generate only while it is still the current one


class NewSecretState(Result):
    msid: str  # the node's current master secret after the call (the new one)
    previous_msid: str  # the master secret it replaced
    file: str  # the backup of ``msid`` the call wrote
    sha256: str


class ServiceState(Result):
    state: str


class EntSsoLogonParams(Params):
    account: str  # DOMAIN\user the service logs on as
    password: SecretStr


class EntSsoLogonState(Result):
    account: str


class SecretServerParams(Params):
    secret_server: str
    update_xml: str  # the ssomanage -updatedb file holding only <secretServer>


class SecretServerState(Result):
    secret_server: str


class ClusteredServiceParams(Params):
    role_name: str
    resource_name: str
    network_name_resource: str
    service_account: str  # DOMAIN\user ENTSSO runs as: granted Full access to the cluster (clustering guide)


class ClusteredServiceState(Result):
    exists: bool
    service_name: str | None = None
    use_network_name: int | None = None
    dependencies: list[str]
    state: str | None = None
    service_account_full_access: bool  # the account (or a group in its token) holds Full cluster access


class ClusteredServiceResult(ChangeResult[ClusteredServiceState]):
    needs_cycle: bool  # a parameter changed on an online resource: it takes effect after a cycle


class PossibleOwnersParams(Params):
    resource_name: str
    owners: list[str]


class PossibleOwnersState(Result):
    owners: list[str]


class StartModeParams(Params):
    start_mode: Literal["Manual"]


class StartModeState(Result):
    start_type: str
    state: str  # the local ENTSSO service: stopped when it ran outside the cluster's control


class MoveRoleParams(Params):
    role_name: str
    node: str
    cycle_resource: str = ""  # the ENTSSO resource cycled offline/online once the role is on node (restore step 3)


class RoleState(Result):
    owner_node: str
    state: str


class ResourceParams(Params):
    resource_name: str


class ResourceState(Result):
    exists: bool
    state: str | None = None
    owner_node: str | None = None


class RestoreParams(Params):
    backup_file: str
    backup_password: SecretStr
    expected_msid: str
    remove_copy: bool = False  # remove the backup's per-run folder in a finally (a restore's last step)


class SecretState(Result):
    msids: list[str]


class TempDirParams(Params):
    run_id: str
    reader: str = ""  # DOMAIN\user that may also read the folder (the ENTSSO service account); '' for none


class PathState(Result):
    path: str
    exists: bool


class PathParams(Params):
    path: str


class WriteFileChunkParams(Params):
    path: str
    data_base64: str
    offset: int
    final: bool
    expected_sha256: str  # checked on the final chunk
    # with the first chunk: the per-run folder esso-<run_id> made here (as New-ProtectedTempDir makes it, ``reader``
    # may read it), and ``path`` the file's plain name in it; '' for none
    run_id: str = ""
    reader: str = ""


class WrittenFile(Result):
    path: str
    size: int
    sha256: str  # of the whole file so far


class RemoveNodeConfigParams(Params):
    server: str
    database: str


# ------------------------------------------------------------------------------------------ registry

P = TypeVar("P", bound=Params)
R = TypeVar("R", bound=Result)


@dataclass(frozen=True)
class Script(Generic[P, R]):
    """One remote operation. ``name`` is the .ps1 file stem under provider/scripts/."""

    name: str
    params: type[P]
    result: type[R]
    changes: bool
    second_hop: bool = False  # reaches SQL Server or a domain controller (design rule 12)
    disruptive: bool = False  # moves the role or cycles ENTSSO: needs allowDisruption
    scope: Literal["node", "cluster"] = "node"  # cluster scripts act on the cluster from any Up node
    # The ESSO ids the script throws itself (beyond ESSO-035, any error without an id); the simulator's handler
    # refuses with exactly these too (tests/providers/test_simulator_raises.py).
    raises: tuple[str, ...] = ()
    # The ids the transport derives from a tool's own error text (errors.KNOWN_WINDOWS_ERRORS: Configuration.exe,
    # the service controller), which the script passes on without an id and the simulator models as such.
    classified: tuple[str, ...] = ()
    # The points between the steps of a multi-step change script at which the simulator can interrupt it (fault
    # kind ``interrupt``, issue 14 point 3): what ran before the point stays done, nothing after it runs.
    phases: tuple[str, ...] = ()


GET_NODE_FACTS = Script("Get-NodeFacts", GetNodeFactsParams, NodeFacts, changes=False)
GET_CLUSTER_FACTS = Script(
    "Get-ClusterFacts", GetClusterFactsParams, ClusterFacts, changes=False, scope="cluster", raises=("ESSO-017",)
)
GET_SSO_DATABASE_FACTS = Script(
    "Get-SsoDatabaseFacts", SsoDatabaseParams, SsoDatabaseFacts, changes=False, second_hop=True
)
GET_DOMAIN_GROUP_FACTS = Script(
    "Get-DomainGroupFacts", DomainGroupsParams, DomainGroupFacts, changes=False, second_hop=True, raises=("ESSO-028",)
)
READ_FILE_CHUNK = Script("Read-FileChunk", ReadFileChunkParams, FileChunk, changes=False)

SET_SSO_DOMAIN_GROUPS = Script(
    "Set-SsoDomainGroups",
    DomainGroupsParams,
    ChangeResult[DomainGroupsState],
    changes=True,
    second_hop=True,
    raises=("ESSO-002", "ESSO-003", "ESSO-028"),
    phases=("groups-created",),
)
GRANT_SERVICE_LOGON_RIGHT = Script(
    "Grant-ServiceLogonRight",
    AccountParams,
    ChangeResult[LogonRightState],
    changes=True,
    raises=("ESSO-003", "ESSO-018"),
)
INSTALL_SSO_SYSTEM = Script(
    "Install-SsoSystem",
    InstallSsoParams,
    InstallSsoResult,
    changes=True,
    second_hop=True,
    raises=("ESSO-001", "ESSO-002", "ESSO-005", "ESSO-016", "ESSO-025", "ESSO-027"),
    classified=("ESSO-003", "ESSO-004"),  # Configuration.exe: no logon right / not in SSO Administrators
    phases=("configured",),
)
JOIN_SSO_SYSTEM = Script(
    "Join-SsoSystem",
    JoinSsoParams,
    ChangeResult[SsoConfigState],
    changes=True,
    second_hop=True,
    raises=("ESSO-001", "ESSO-005", "ESSO-006", "ESSO-016", "ESSO-027"),
    classified=("ESSO-003", "ESSO-004"),
    phases=("marker-written", "configured"),
)
BACKUP_MASTER_SECRET = Script(
    "Backup-MasterSecret",
    BackupParams,
    ChangeResult[BackupState],
    changes=True,
    raises=("ESSO-016", "ESSO-025", "ESSO-029"),
    phases=("moved-aside", "written"),
)
NEW_MASTER_SECRET = Script(
    "New-MasterSecret",
    NewSecretParams,
    ChangeResult[NewSecretState],
    changes=True,
    raises=("ESSO-016", "ESSO-025", "ESSO-029"),
)
RESTART_ENTSSO_SERVICE = Script(
    "Restart-EntSsoService",
    NoParams,
    ChangeResult[ServiceState],
    changes=True,
    disruptive=True,
    raises=("ESSO-014", "ESSO-016"),
    classified=("ESSO-003",),  # the service controller: error 1069, the logon failed
    phases=("stopped",),
)
SET_SECRET_SERVER_NAME = Script(
    "Set-SecretServerName",
    SecretServerParams,
    ChangeResult[SecretServerState],
    changes=True,
    second_hop=True,
    raises=("ESSO-007", "ESSO-016"),
)
SET_CLUSTERED_SSO_SERVICE = Script(
    "Set-ClusteredSsoService",
    ClusteredServiceParams,
    ClusteredServiceResult,
    changes=True,
    scope="cluster",
    raises=("ESSO-003", "ESSO-008", "ESSO-009", "ESSO-010", "ESSO-017"),
    phases=("resource-added", "configured"),
)
SET_SSO_POSSIBLE_OWNERS = Script(
    "Set-SsoPossibleOwners",
    PossibleOwnersParams,
    ChangeResult[PossibleOwnersState],
    changes=True,
    scope="cluster",
    raises=("ESSO-017",),
)
SET_ENTSSO_LOGON = Script(
    "Set-EntSsoLogon", EntSsoLogonParams, ChangeResult[EntSsoLogonState], changes=True, raises=("ESSO-016",)
)
SET_ENTSSO_START_MODE = Script(
    "Set-EntSsoStartMode",
    StartModeParams,
    ChangeResult[StartModeState],
    changes=True,
    raises=("ESSO-016",),
    phases=("start-type-set",),
)
MOVE_SSO_ROLE = Script(
    "Move-SsoRole",
    MoveRoleParams,
    ChangeResult[RoleState],
    changes=True,
    disruptive=True,
    scope="cluster",
    raises=("ESSO-009", "ESSO-013", "ESSO-017", "ESSO-026"),
    phases=("moved-offline", "offline"),  # "offline": the cycle's Stop-ClusterResource done (CycleResource)
)
RESTART_SSO_CLUSTER_RESOURCE = Script(
    "Restart-SsoClusterResource",
    ResourceParams,
    ChangeResult[ResourceState],
    changes=True,
    disruptive=True,
    scope="cluster",
    raises=("ESSO-017", "ESSO-026"),
    phases=("offline",),
)
RESTORE_MASTER_SECRET = Script(
    "Restore-MasterSecret",
    RestoreParams,
    ChangeResult[SecretState],
    changes=True,
    second_hop=True,
    raises=("ESSO-001", "ESSO-011", "ESSO-012", "ESSO-016", "ESSO-025"),
)
NEW_PROTECTED_TEMP_DIR = Script(
    "New-ProtectedTempDir", TempDirParams, ChangeResult[PathState], changes=True, raises=("ESSO-003",)
)
WRITE_FILE_CHUNK = Script(
    "Write-FileChunk", WriteFileChunkParams, WrittenFile, changes=True, raises=("ESSO-003", "ESSO-022")
)
REMOVE_PROTECTED_PATH = Script("Remove-ProtectedPath", PathParams, ChangeResult[PathState], changes=True)
REMOVE_SSO_NODE_CONFIGURATION = Script(
    "Remove-SsoNodeConfiguration",
    RemoveNodeConfigParams,
    ChangeResult[SsoConfigState],
    changes=True,
    raises=("ESSO-005", "ESSO-014"),
    phases=("service-stopped",),
)
REMOVE_CLUSTERED_SSO_SERVICE = Script(
    "Remove-ClusteredSsoService",
    ResourceParams,
    ChangeResult[ResourceState],
    changes=True,
    disruptive=True,
    scope="cluster",
    raises=("ESSO-017",),
    phases=("offline",),
)
REMOVE_SSO_DATABASE = Script(
    "Remove-SsoDatabase", SsoDatabaseParams, ChangeResult[SsoDatabaseFacts], changes=True, second_hop=True
)

SCRIPTS: dict[str, Script[Any, Any]] = {
    s.name: s
    for s in (
        GET_NODE_FACTS,
        GET_CLUSTER_FACTS,
        GET_SSO_DATABASE_FACTS,
        GET_DOMAIN_GROUP_FACTS,
        READ_FILE_CHUNK,
        SET_SSO_DOMAIN_GROUPS,
        GRANT_SERVICE_LOGON_RIGHT,
        INSTALL_SSO_SYSTEM,
        JOIN_SSO_SYSTEM,
        BACKUP_MASTER_SECRET,
        NEW_MASTER_SECRET,
        RESTART_ENTSSO_SERVICE,
        SET_SECRET_SERVER_NAME,
        SET_CLUSTERED_SSO_SERVICE,
        SET_SSO_POSSIBLE_OWNERS,
        SET_ENTSSO_START_MODE,
        SET_ENTSSO_LOGON,
        MOVE_SSO_ROLE,
        RESTART_SSO_CLUSTER_RESOURCE,
        RESTORE_MASTER_SECRET,
        NEW_PROTECTED_TEMP_DIR,
        WRITE_FILE_CHUNK,
        REMOVE_PROTECTED_PATH,
        REMOVE_SSO_NODE_CONFIGURATION,
        REMOVE_CLUSTERED_SSO_SERVICE,
        REMOVE_SSO_DATABASE,
    )
}
