"""Kerberos from Linux or macOS: refuse ``auth: kerberos`` early when this machine cannot do it.

Why: pypsrp authenticates Kerberos through pyspnego, which on anything but Windows needs the Python
``gssapi`` and ``krb5`` packages (the ``pypsrp[kerberos]`` extra) and the MIT Kerberos libraries they
load. Without them the failure surfaces deep in the first WinRM connection as pyspnego's
``ImportError: GSSAPIProxy requires the Python gssapi library``, after the run has started. This
check turns it into an ESSO-040 naming ``transport.auth`` and the install command, before any node
is contacted. Sources: pypsrp's README ("pip install pypsrp[kerberos]"), pyspnego's README (the
``kerberos`` extra: gssapi and krb5, not on Windows), python-gssapi's install notes (it builds against
the system's krb5 development files: Debian/Ubuntu ``libkrb5-dev``, RHEL ``krb5-devel``).

The transport (``provider.remote.psrp.config.validate_transport``) asks ``kerberos_available`` and raises
``kerberos_error``; ``require_kerberos_support`` is the same check in one call.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Protocol

from provider.errors import EssoError

# The Python modules pyspnego imports for Kerberos (spnego/_gss.py): both must import.
MODULES = ("gssapi", "krb5")

INSTALL_HINT = (
    "Install them with 'make kerberos' (it runs: apt-get install libkrb5-dev krb5-user gcc python3-dev, then "
    "venv/bin/pip install -r requirements-kerberos.txt; on RHEL install krb5-devel krb5-workstation gcc "
    "python3-devel instead), describe the domain's realm in /etc/krb5.conf and get a ticket with kinit, "
    "or use transport.auth: credssp"
)


class KerberosSettings(Protocol):
    """The two transport settings that decide whether Kerberos is needed (``TransportSection`` has them)."""

    @property
    def auth(self) -> str: ...

    @property
    def second_hop(self) -> str | None: ...


Importer = Callable[[str], ModuleType]


def needs_kerberos(transport: KerberosSettings) -> bool:
    """Kerberos is needed for ``auth: kerberos`` and for ``secondHop: kerberos-delegation``."""
    return transport.auth == "kerberos" or transport.second_hop == "kerberos-delegation"


def missing_modules(importer: Importer = importlib.import_module) -> list[str]:
    """The Kerberos modules that fail to import here, each with the reason (a missing module or library)."""
    missing: list[str] = []
    for name in MODULES:
        try:
            importer(name)
        except (ImportError, OSError) as exc:
            missing.append(f"{name} ({exc})")
    return missing


def kerberos_available(*, platform: str = sys.platform, importer: Importer = importlib.import_module) -> bool:
    """True when pyspnego can do Kerberos here: Windows (SSPI), or both Python modules load."""
    return platform == "win32" or not missing_modules(importer)


def kerberos_error(transport: KerberosSettings, missing: list[str]) -> EssoError:
    """ESSO-040 naming the key that asked for Kerberos (auth, else secondHop) and the install command."""
    key, value = ("auth", transport.auth) if transport.auth == "kerberos" else ("secondHop", transport.second_hop)
    loads = f"these Python packages do not load: {', '.join(missing)}" if missing else "gssapi and krb5 do not load"
    return EssoError(
        "ESSO-040",
        f"transport.{key}: {value} needs Kerberos on this machine (auth {transport.auth}, secondHop "
        f"{transport.second_hop}), and {loads}; without them Negotiate can only pick NTLM, which never delegates. "
        f"{INSTALL_HINT}.",
        step="transport",
    )


def require_kerberos_support(
    transport: KerberosSettings, *, platform: str = sys.platform, importer: Importer = importlib.import_module
) -> None:
    """Raise ESSO-040 naming the key and the install command when Kerberos cannot work on this machine."""
    if not needs_kerberos(transport) or platform == "win32":  # Windows uses SSPI, which needs nothing more
        return
    missing = missing_modules(importer)
    if missing:
        raise kerberos_error(transport, missing)
