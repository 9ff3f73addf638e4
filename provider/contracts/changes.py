"""The change scripts' parameters and the states they report before and after.

Why apart: a change script's fields change with that script; its facts and the registry stay put.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from provider.contracts.base import ChangeResult, Params, Result
from provider.contracts.facts import SsoConfigState

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
