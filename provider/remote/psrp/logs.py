"""Keep the WinRM client's libraries from logging authentication tokens and message bodies at DEBUG.

Why: with the root logger at DEBUG (a user's ``logging.basicConfig(level=DEBUG)``, or a library that turns it on),
pyspnego logs every NTLM token it sends and receives (``spnego/_ntlm.py``: "NTLM step input/output", base64), so
the NetNTLMv2 response lands in the log and the password can be guessed offline (review L1, reproduced);
pypsrp logs each WS-Man message (``pypsrp/wsman.py``: "Sending message", "Received message"), requests_credssp
its CredSSP/TLS tokens, urllib3 and requests the requests they make. One place lowers all of them: each named
logger (and so every child logger that has no level of its own, e.g. ``spnego._ntlm``) is held at INFO or above.
A level an operator set higher (WARNING, ERROR) is kept. The tool's own loggers are not touched.
"""

from __future__ import annotations

import logging

# The libraries under pypsrp that can log a token, a header or a message body at DEBUG.
TRANSPORT_LOGGERS: tuple[str, ...] = ("pypsrp", "spnego", "requests_credssp", "urllib3", "requests", "krb5", "gssapi")
FLOOR = logging.INFO


def quiet_transport_loggers() -> None:
    """Hold every transport library's logger at INFO or above (idempotent; called on import and per session)."""
    for name in TRANSPORT_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < FLOOR:  # NOTSET (inherits the root's DEBUG) or DEBUG
            logger.setLevel(FLOOR)


__all__ = ["FLOOR", "TRANSPORT_LOGGERS", "quiet_transport_loggers"]
