"""The real transport: contract scripts run on Windows nodes over WinRM/PSRP (pypsrp), split by job.

* ``config``: endpoints and the pypsrp settings (rules shared with the offline check: ``transport_rules``).
* ``pool``: the session registry, one RunspacePool per node and identity, a lock per node.
* ``wire``: parameters in (SecureString for secrets), results out (PowerShell's null spellings normalised).
* ``sizing``: script text and file chunks that fit one WS-Man envelope.
* ``faults``: every failure mapped to a stable ESSO id.
* ``deadlines``: the overall time a script call may take, per contract.
* ``remote``: ``PsrpRemote``, which ties them together.
* ``logs``: the libraries' loggers held at INFO, so DEBUG never writes an NTLM/Kerberos token (review L1).

The public names of the former module ``provider/remote/psrp.py`` are re-exported here.
"""

from __future__ import annotations

from provider.remote.psrp.config import DEFAULT_MAX_ENVELOPE_SIZE as DEFAULT_MAX_ENVELOPE_SIZE
from provider.remote.psrp.config import Endpoint as Endpoint
from provider.remote.psrp.config import Resolver as Resolver
from provider.remote.psrp.config import check_host as check_host
from provider.remote.psrp.config import default_port as default_port
from provider.remote.psrp.config import dns_resolver as dns_resolver
from provider.remote.psrp.config import kerberos_available as kerberos_available
from provider.remote.psrp.config import validate_transport as validate_transport
from provider.remote.psrp.config import warn_weaker_transport as warn_weaker_transport
from provider.remote.psrp.config import wsman_kwargs as wsman_kwargs
from provider.remote.psrp.deadlines import default_deadline as default_deadline
from provider.remote.psrp.faults import ERROR_CATEGORIES as ERROR_CATEGORIES
from provider.remote.psrp.faults import TRANSIENT_HTTP_STATUS as TRANSIENT_HTTP_STATUS
from provider.remote.psrp.faults import WSMAN_ACCESS_DENIED as WSMAN_ACCESS_DENIED
from provider.remote.psrp.faults import WSMAN_OPERATION_TIMEOUT as WSMAN_OPERATION_TIMEOUT
from provider.remote.psrp.faults import WSMAN_SHELL_NOT_FOUND as WSMAN_SHELL_NOT_FOUND
from provider.remote.psrp.logs import TRANSPORT_LOGGERS as TRANSPORT_LOGGERS
from provider.remote.psrp.logs import quiet_transport_loggers as quiet_transport_loggers
from provider.remote.psrp.pool import POOL_IDLE_TIMEOUT_S as POOL_IDLE_TIMEOUT_S
from provider.remote.psrp.pool import _quiet_wsman as _quiet_wsman
from provider.remote.psrp.pool import close_pools as close_pools
from provider.remote.psrp.pool import node_lock as node_lock
from provider.remote.psrp.pool import open_pool_count as open_pool_count
from provider.remote.psrp.remote import PsrpRemote as PsrpRemote
from provider.remote.psrp.sizing import chunk_bytes_for as chunk_bytes_for
from provider.remote.psrp.sizing import script_text as script_text
from provider.remote.psrp.wire import normalise_result as normalise_result
from provider.remote.psrp.wire import to_plain as to_plain

quiet_transport_loggers()  # on import too: a DEBUG root logger never sees a token, even before a session
