"""Every remote script by name: its parameters, result, and what the procedure must know about it.

Why one table: the transport, the simulator, the scripts' tests and the docs all look a script up here.
"""

from __future__ import annotations

from typing import Any

from provider.contracts.base import ChangeResult, NoParams, Script
from provider.contracts.changes import (
    AccountParams,
    BackupParams,
    BackupState,
    ClusteredServiceParams,
    ClusteredServiceResult,
    DomainGroupsState,
    EntSsoLogonParams,
    EntSsoLogonState,
    InstallSsoParams,
    InstallSsoResult,
    JoinSsoParams,
    LogonRightState,
    MoveRoleParams,
    NewSecretParams,
    NewSecretState,
    PathParams,
    PathState,
    PossibleOwnersParams,
    PossibleOwnersState,
    RemoveNodeConfigParams,
    ResourceParams,
    ResourceState,
    RestoreParams,
    RoleState,
    SecretServerParams,
    SecretServerState,
    SecretState,
    ServiceState,
    StartModeParams,
    StartModeState,
    TempDirParams,
    WriteFileChunkParams,
    WrittenFile,
)
from provider.contracts.facts import (
    ClusterFacts,
    DomainGroupFacts,
    DomainGroupsParams,
    FileChunk,
    GetClusterFactsParams,
    GetNodeFactsParams,
    NodeFacts,
    ReadFileChunkParams,
    SsoConfigState,
    SsoDatabaseFacts,
    SsoDatabaseParams,
)

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
# issue 13 M4: the backup file a node holds once its bytes are escrowed and read back (docs/security.md)
REMOVE_MASTER_SECRET_BACKUP = Script("Remove-MasterSecretBackup", PathParams, ChangeResult[PathState], changes=True)
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
        REMOVE_MASTER_SECRET_BACKUP,
        REMOVE_SSO_NODE_CONFIGURATION,
        REMOVE_CLUSTERED_SSO_SERVICE,
        REMOVE_SSO_DATABASE,
    )
}
