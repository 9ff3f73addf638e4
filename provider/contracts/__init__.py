"""The contract of every remote operation: its script name, parameters and result.

Why one package: the PowerShell scripts, the pypsrp transport, the simulator and the providers all meet
here. A script's ``param()`` block must equal its ``Params`` model (PascalCase names), and its single
output hashtable must validate against its ``Result`` model (camelCase keys); ``tests/scripts`` proves
both. ``SecretStr`` parameters travel only as SecureString.

Reads never change anything. Changes are idempotent and report ``changed`` with ``before``/``after``.

Where: ``base`` (the wire conventions and the ``Script`` record), ``facts`` (what the read scripts
return), ``changes`` (the change scripts' fields and states), ``registry`` (every script by name).
"""

from __future__ import annotations

from provider.contracts.base import ChangeResult as ChangeResult
from provider.contracts.base import NoParams as NoParams
from provider.contracts.base import P as P
from provider.contracts.base import Params as Params
from provider.contracts.base import R as R
from provider.contracts.base import Result as Result
from provider.contracts.base import S as S
from provider.contracts.base import Script as Script
from provider.contracts.changes import CONFIGURATION_TIMEOUT_MINUTES as CONFIGURATION_TIMEOUT_MINUTES
from provider.contracts.changes import AccountParams as AccountParams
from provider.contracts.changes import BackupParams as BackupParams
from provider.contracts.changes import BackupState as BackupState
from provider.contracts.changes import ClusteredServiceParams as ClusteredServiceParams
from provider.contracts.changes import ClusteredServiceResult as ClusteredServiceResult
from provider.contracts.changes import ClusteredServiceState as ClusteredServiceState
from provider.contracts.changes import DomainGroupsState as DomainGroupsState
from provider.contracts.changes import EntSsoLogonParams as EntSsoLogonParams
from provider.contracts.changes import EntSsoLogonState as EntSsoLogonState
from provider.contracts.changes import InstallSsoParams as InstallSsoParams
from provider.contracts.changes import InstallSsoResult as InstallSsoResult
from provider.contracts.changes import JoinSsoParams as JoinSsoParams
from provider.contracts.changes import LogonRightState as LogonRightState
from provider.contracts.changes import MoveRoleParams as MoveRoleParams
from provider.contracts.changes import NewSecretParams as NewSecretParams
from provider.contracts.changes import NewSecretState as NewSecretState
from provider.contracts.changes import PathParams as PathParams
from provider.contracts.changes import PathState as PathState
from provider.contracts.changes import PossibleOwnersParams as PossibleOwnersParams
from provider.contracts.changes import PossibleOwnersState as PossibleOwnersState
from provider.contracts.changes import RemoveNodeConfigParams as RemoveNodeConfigParams
from provider.contracts.changes import ResourceParams as ResourceParams
from provider.contracts.changes import ResourceState as ResourceState
from provider.contracts.changes import RestoreParams as RestoreParams
from provider.contracts.changes import RoleState as RoleState
from provider.contracts.changes import SecretServerParams as SecretServerParams
from provider.contracts.changes import SecretServerState as SecretServerState
from provider.contracts.changes import SecretState as SecretState
from provider.contracts.changes import ServiceState as ServiceState
from provider.contracts.changes import StartModeParams as StartModeParams
from provider.contracts.changes import StartModeState as StartModeState
from provider.contracts.changes import TempDirParams as TempDirParams
from provider.contracts.changes import WriteFileChunkParams as WriteFileChunkParams
from provider.contracts.changes import WrittenFile as WrittenFile
from provider.contracts.facts import GENERIC_SERVICE as GENERIC_SERVICE
from provider.contracts.facts import IP_ADDRESS as IP_ADDRESS
from provider.contracts.facts import IPV6_ADDRESS as IPV6_ADDRESS
from provider.contracts.facts import MSDTC as MSDTC
from provider.contracts.facts import NETWORK_NAME as NETWORK_NAME
from provider.contracts.facts import PARAMETERS_BY_TYPE as PARAMETERS_BY_TYPE
from provider.contracts.facts import ClusterFacts as ClusterFacts
from provider.contracts.facts import ClusterGroupFacts as ClusterGroupFacts
from provider.contracts.facts import ClusterNodeFacts as ClusterNodeFacts
from provider.contracts.facts import ClusterParameters as ClusterParameters
from provider.contracts.facts import ClusterResourceFacts as ClusterResourceFacts
from provider.contracts.facts import DomainGroupFacts as DomainGroupFacts
from provider.contracts.facts import DomainGroupsParams as DomainGroupsParams
from provider.contracts.facts import DtcParameters as DtcParameters
from provider.contracts.facts import EntSsoFacts as EntSsoFacts
from provider.contracts.facts import FileChunk as FileChunk
from provider.contracts.facts import GenericServiceParameters as GenericServiceParameters
from provider.contracts.facts import GetClusterFactsParams as GetClusterFactsParams
from provider.contracts.facts import GetNodeFactsParams as GetNodeFactsParams
from provider.contracts.facts import GroupFacts as GroupFacts
from provider.contracts.facts import IpAddressParameters as IpAddressParameters
from provider.contracts.facts import LogonRightFacts as LogonRightFacts
from provider.contracts.facts import NetworkNameParameters as NetworkNameParameters
from provider.contracts.facts import NodeFacts as NodeFacts
from provider.contracts.facts import NoParameters as NoParameters
from provider.contracts.facts import ReadFileChunkParams as ReadFileChunkParams
from provider.contracts.facts import ResourceParameters as ResourceParameters
from provider.contracts.facts import SecretServerStatus as SecretServerStatus
from provider.contracts.facts import SsoConfigState as SsoConfigState
from provider.contracts.facts import SsoDatabaseFacts as SsoDatabaseFacts
from provider.contracts.facts import SsoDatabaseParams as SsoDatabaseParams
from provider.contracts.registry import BACKUP_MASTER_SECRET as BACKUP_MASTER_SECRET
from provider.contracts.registry import GET_CLUSTER_FACTS as GET_CLUSTER_FACTS
from provider.contracts.registry import GET_DOMAIN_GROUP_FACTS as GET_DOMAIN_GROUP_FACTS
from provider.contracts.registry import GET_NODE_FACTS as GET_NODE_FACTS
from provider.contracts.registry import GET_SSO_DATABASE_FACTS as GET_SSO_DATABASE_FACTS
from provider.contracts.registry import GRANT_SERVICE_LOGON_RIGHT as GRANT_SERVICE_LOGON_RIGHT
from provider.contracts.registry import INSTALL_SSO_SYSTEM as INSTALL_SSO_SYSTEM
from provider.contracts.registry import JOIN_SSO_SYSTEM as JOIN_SSO_SYSTEM
from provider.contracts.registry import MOVE_SSO_ROLE as MOVE_SSO_ROLE
from provider.contracts.registry import NEW_MASTER_SECRET as NEW_MASTER_SECRET
from provider.contracts.registry import NEW_PROTECTED_TEMP_DIR as NEW_PROTECTED_TEMP_DIR
from provider.contracts.registry import READ_FILE_CHUNK as READ_FILE_CHUNK
from provider.contracts.registry import REMOVE_CLUSTERED_SSO_SERVICE as REMOVE_CLUSTERED_SSO_SERVICE
from provider.contracts.registry import REMOVE_MASTER_SECRET_BACKUP as REMOVE_MASTER_SECRET_BACKUP
from provider.contracts.registry import REMOVE_PROTECTED_PATH as REMOVE_PROTECTED_PATH
from provider.contracts.registry import REMOVE_SSO_DATABASE as REMOVE_SSO_DATABASE
from provider.contracts.registry import REMOVE_SSO_NODE_CONFIGURATION as REMOVE_SSO_NODE_CONFIGURATION
from provider.contracts.registry import RESTART_ENTSSO_SERVICE as RESTART_ENTSSO_SERVICE
from provider.contracts.registry import RESTART_SSO_CLUSTER_RESOURCE as RESTART_SSO_CLUSTER_RESOURCE
from provider.contracts.registry import RESTORE_MASTER_SECRET as RESTORE_MASTER_SECRET
from provider.contracts.registry import SCRIPTS as SCRIPTS
from provider.contracts.registry import SET_CLUSTERED_SSO_SERVICE as SET_CLUSTERED_SSO_SERVICE
from provider.contracts.registry import SET_ENTSSO_LOGON as SET_ENTSSO_LOGON
from provider.contracts.registry import SET_ENTSSO_START_MODE as SET_ENTSSO_START_MODE
from provider.contracts.registry import SET_SECRET_SERVER_NAME as SET_SECRET_SERVER_NAME
from provider.contracts.registry import SET_SSO_DOMAIN_GROUPS as SET_SSO_DOMAIN_GROUPS
from provider.contracts.registry import SET_SSO_POSSIBLE_OWNERS as SET_SSO_POSSIBLE_OWNERS
from provider.contracts.registry import WRITE_FILE_CHUNK as WRITE_FILE_CHUNK
