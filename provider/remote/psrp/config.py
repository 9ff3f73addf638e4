"""Where a node is reached and how pypsrp is configured for it (addresses, settings, WSMan arguments).

Why a module of its own: the transport's settings are checked twice, offline by ``provider.spec`` and here
before the first connection; the rules both apply live in ``provider.remote.transport_rules``, and this module
keeps only what needs the machine (a CA file that exists) and the mapping to ``pypsrp.wsman.WSMan``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

from provider.errors import EssoError
from provider.remote import kerberos
from provider.remote.psrp.logs import quiet_transport_loggers
from provider.remote.transport_rules import account_problems, host_problem, transport_problems, weakening_warning
from provider.spec import TransportSection

# 150 KiB: the WinRM default up to Server 2008 R2 and the floor of every later version (500 KiB).
# pypsrp raises the envelope it announces to 512000 once the server reports protocol 2.2 or later; a server
# clamps it to its own MaxEnvelopeSizekb (MS-WSMV 3.1.4.1.7). File chunks stay sized for this floor.
DEFAULT_MAX_ENVELOPE_SIZE = 153_600

# ---------------------------------------------------------------------------------------- addresses


@dataclass(frozen=True)
class Endpoint:
    """Where a node's WinRM listener is reached."""

    scheme: Literal["http", "https"]
    host: str
    port: int

    @property
    def key(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.key}/wsman"


Resolver = Callable[[str], tuple[str, int]]


def default_port(transport: TransportSection) -> int:
    return transport.port if transport.port is not None else (5986 if transport.ssl else 5985)


def dns_resolver(dns_suffix: str | None, port: int) -> Resolver:
    """Node name -> (FQDN, port): the suffix is appended to short names (no dot)."""

    def resolve(node: str) -> tuple[str, int]:
        host = f"{node}.{dns_suffix.strip('.')}" if dns_suffix and "." not in node else node
        return check_host(host, node), port

    return resolve


# ------------------------------------------------------------------------------------ configuration


def _config_error(key: str, detail: str) -> EssoError:
    return EssoError("ESSO-040", f"transport.{key}: {detail}", step="transport")


def kerberos_available() -> bool:
    """True when pyspnego can do Kerberos here (one home: ``provider.remote.kerberos``)."""
    return kerberos.kerberos_available()


def validate_transport(transport: TransportSection, *, password: SecretStr | None, username: str | None = None) -> None:
    """Refuse settings that would weaken the connection or that pypsrp would reject later (ESSO-040).

    The rules are the offline check's (``transport_rules``); only what needs this machine is added here."""
    t = transport
    problems = transport_problems(t) + account_problems(t, username)
    if problems:
        key, why = problems[0]
        more = "; ".join(f"transport.{k}: {w}" for k, w in problems[1:])
        raise _config_error(key, why + (f" (also {more})" if more else "") + ".")
    if t.auth in ("basic", "ntlm", "credssp") and password is None:
        raise _config_error("auth", f"{t.auth} needs the configuring account's password (winrmPassword).")
    if kerberos.needs_kerberos(t) and not kerberos_available():
        raise kerberos.kerberos_error(t, kerberos.missing_modules())
    if t.ca_bundle and not Path(t.ca_bundle).is_file():
        raise _config_error("caBundle", f"{t.ca_bundle} is not a file.")
    warn_weaker_transport(t)


_WARNED: set[str] = set()
_WARNED_LOCK = threading.Lock()


def warn_weaker_transport(transport: TransportSection) -> bool:
    """Print the weakened-transport warning on stderr, once per process and settings (the engine shows a
    provider's stderr on every run; the program warns through ``pulumi.log.warn`` too). True when printed."""
    text = weakening_warning(transport)
    if text is None:
        return False
    with _WARNED_LOCK:
        if text in _WARNED:
            return False
        _WARNED.add(text)
    print(f"warning: ESSO transport: {text}", file=sys.stderr, flush=True)
    return True


def check_host(host: str, node: str) -> str:
    """``host`` unchanged, or ESSO-040 when it cannot be a URL's host (``@ : / # ?``, spaces, control chars)."""
    why = host_problem(host)
    if why:
        raise EssoError(
            "ESSO-040",
            f"the WinRM address of node {node!r} {why}: fix cluster.nodes or cluster.dnsSuffix.",
            node=node,
            step="transport",
        )
    return host


def wsman_kwargs(
    transport: TransportSection,
    *,
    username: str | None,
    password: SecretStr | None,
    port: int,
    max_envelope_size: int = DEFAULT_MAX_ENVELOPE_SIZE,
) -> dict[str, Any]:
    """The keyword arguments of ``pypsrp.wsman.WSMan`` for these settings (the password in clear: keep local)."""
    validate_transport(transport, password=password, username=username)
    quiet_transport_loggers()  # before every session: no NTLM/Kerberos token or message body at DEBUG (review L1)
    t = transport
    kwargs: dict[str, Any] = {
        "port": port,
        "ssl": t.ssl,
        "auth": t.auth,
        "encryption": t.encryption,
        "cert_validation": (t.ca_bundle or True) if t.cert_validation else False,
        "connection_timeout": t.connect_timeout,
        "read_timeout": t.read_timeout,
        "operation_timeout": t.operation_timeout,
        "max_envelope_size": max_envelope_size,
        # Retries are Remote.run's business (reads only); pypsrp's would re-send silently.
        "reconnection_retries": 0,
        "reconnection_backoff": 0.0,
        "no_proxy": True,
    }
    if t.auth == "certificate":
        kwargs["certificate_pem"] = t.certificate_pem
        kwargs["certificate_key_pem"] = t.certificate_key_pem
    else:
        kwargs["username"] = username
        kwargs["password"] = password.get_secret_value() if password is not None else None
    if t.auth == "credssp":
        kwargs["credssp_auth_mechanism"] = "auto"
    if t.auth in ("negotiate", "kerberos", "ntlm"):
        kwargs["negotiate_send_cbt"] = True  # channel binding over HTTPS
    if t.second_hop == "kerberos-delegation":
        kwargs["negotiate_delegate"] = True
    return kwargs
