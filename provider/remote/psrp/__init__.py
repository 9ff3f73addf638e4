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

from provider.remote.psrp.config import (
    DEFAULT_MAX_ENVELOPE_SIZE,
    Endpoint,
    Resolver,
    check_host,
    default_port,
    dns_resolver,
    kerberos_available,
    validate_transport,
    warn_weaker_transport,
    wsman_kwargs,
)
from provider.remote.psrp.deadlines import default_deadline
from provider.remote.psrp.faults import (
    ERROR_CATEGORIES,
    TRANSIENT_HTTP_STATUS,
    WSMAN_ACCESS_DENIED,
    WSMAN_OPERATION_TIMEOUT,
    WSMAN_SHELL_NOT_FOUND,
)
from provider.remote.psrp.logs import TRANSPORT_LOGGERS, quiet_transport_loggers
from provider.remote.psrp.pool import POOL_IDLE_TIMEOUT_S, _quiet_wsman, close_pools, node_lock, open_pool_count
from provider.remote.psrp.remote import PsrpRemote
from provider.remote.psrp.sizing import chunk_bytes_for, script_text
from provider.remote.psrp.wire import normalise_result, to_plain

quiet_transport_loggers()  # on import too: a DEBUG root logger never sees a token, even before a session

__all__ = [
    "DEFAULT_MAX_ENVELOPE_SIZE",
    "ERROR_CATEGORIES",
    "POOL_IDLE_TIMEOUT_S",
    "TRANSIENT_HTTP_STATUS",
    "TRANSPORT_LOGGERS",
    "WSMAN_ACCESS_DENIED",
    "WSMAN_OPERATION_TIMEOUT",
    "WSMAN_SHELL_NOT_FOUND",
    "Endpoint",
    "PsrpRemote",
    "Resolver",
    "_quiet_wsman",
    "check_host",
    "chunk_bytes_for",
    "close_pools",
    "default_deadline",
    "default_port",
    "dns_resolver",
    "kerberos_available",
    "node_lock",
    "normalise_result",
    "open_pool_count",
    "quiet_transport_loggers",
    "script_text",
    "to_plain",
    "validate_transport",
    "warn_weaker_transport",
    "wsman_kwargs",
]
