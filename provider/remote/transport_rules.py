"""The one rule set for WinRM transport settings, applied offline (``provider.spec``) and by the transport.

Why one module: the offline check and the transport used to disagree (the shipped prod stack passed the
check and was refused at its first connection). Both now call ``transport_problems`` and
``account_problems``; ``provider.remote.psrp.config.validate_transport`` adds only what needs this machine
(a CA file that exists, the Kerberos library, a password in hand).

Sources for the rules:

* Which authentication carries which account and delegates credentials: PSWSMan's
  ``about_PSWSManAuthentication`` (jborean93, the pypsrp author): Basic takes local accounts only, Negotiate
  is "Kerberos with a fallback of NTLM" and delegates only when Kerberos was picked, CredSSP delegates.
  Microsoft: "Microsoft Negotiate" (learn.microsoft.com/windows/win32/secauthn/microsoft-negotiate).
* WinRM's Basic authentication takes a local account, Negotiate/Kerberos a domain account: Microsoft,
  "ConnectionOptions.UserName property", Remarks (learn.microsoft.com/windows/win32/winrm/connectionoptions-username).
  A local account is written ``user`` or ``.\\user`` here; ``DOMAIN\\user`` and ``user@domain`` are domain accounts.
* HTTP message encryption and OperationTimeout: pypsrp 0.9 ``WSMan`` (``encryption``, ``operation_timeout``).
* Basic and CredSSP hand the password itself to the server (RFC 7617; MS-CSSP 3.1.5, the TSCredentials
  message), so only a validated HTTPS certificate proves which server receives it: Microsoft, "Security
  Considerations for PowerShell Remoting using WinRM" (learn.microsoft.com/powershell/scripting/security/remoting/
  winrm-security) and "Making the second hop in PowerShell Remoting" (CredSSP: "credentials are passed to a remote
  computer"). Without validation or over HTTP, an interceptor receives a reusable password (review M3).

Weakening a default (HTTP, certificate validation off, message encryption off) needs the stack's explicit
acknowledgement ``transport.acceptWeakerTransport`` (review M3: no silent downgrade); the acknowledgement is
also a recorded input of every resource, so ``pulumi preview --diff`` shows it, and each run warns.

Each rule is (key under ``transport``, what is wrong and the fix); a key is a stack-file key (camelCase).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Literal, Protocol

Problem = tuple[str, str]

Weakening = Literal["http", "certValidation", "encryption"]
WEAKENINGS: dict[str, str] = {
    "http": "transport.ssl is false (HTTP: no server certificate, no channel binding)",
    "certValidation": "transport.certValidation is false (any certificate, an interceptor's too, is trusted)",
    "encryption": "transport.encryption is never (no WinRM message encryption)",
}
ACK_KEY = "acceptWeakerTransport"

_URL_HOST_FORBIDDEN = re.compile(r"[@:/#?\s\x00-\x1f\x7f\\\[\]%]")


class TransportSettings(Protocol):
    """The fields of ``provider.spec.TransportSection`` the rules read (structural, so no import cycle)."""

    @property
    def auth(self) -> str: ...
    @property
    def ssl(self) -> bool: ...
    @property
    def port(self) -> int | None: ...
    @property
    def cert_validation(self) -> bool: ...
    @property
    def ca_bundle(self) -> str | None: ...
    @property
    def encryption(self) -> str: ...
    @property
    def second_hop(self) -> str: ...
    @property
    def certificate_pem(self) -> str | None: ...
    @property
    def certificate_key_pem(self) -> str | None: ...
    @property
    def connect_timeout(self) -> float: ...
    @property
    def read_timeout(self) -> float: ...
    @property
    def operation_timeout(self) -> float: ...
    @property
    def retries(self) -> int: ...
    @property
    def backoff(self) -> float: ...
    @property
    def accept_weaker_transport(self) -> Sequence[str]: ...


def weakenings(t: TransportSettings) -> list[str]:
    """Which defaults these settings weaken, in ``WEAKENINGS`` order (what ``acceptWeakerTransport`` must list)."""
    found = {"http": not t.ssl, "certValidation": not t.cert_validation, "encryption": t.encryption == "never"}
    return [name for name in WEAKENINGS if found[name]]


def weakening_warning(t: TransportSettings) -> str | None:
    """The warning every run prints while the transport is weaker than the defaults, or None."""
    weak = weakenings(t)
    if not weak:
        return None
    what = "; ".join(WEAKENINGS[w] for w in weak)
    return (
        f"the WinRM transport is weaker than the defaults, accepted by transport.{ACK_KEY}: {what}. "
        "Return to ssl: true, certValidation: true, encryption: auto when the nodes allow it."
    )


def _downgrade_problems(t: TransportSettings) -> list[Problem]:
    """Review M3: no reusable password without a validated certificate, no silent weakening."""
    p: list[Problem] = []
    if t.auth in ("basic", "credssp") and t.ssl and not t.cert_validation:
        p.append(
            (
                "auth",
                f"{t.auth} hands the password itself to the server, and certValidation is false, so any "
                "interceptor would receive it: set transport.certValidation: true (with caBundle for a private CA) "
                "or use negotiate or kerberos",
            )
        )
    if t.auth == "credssp" and not t.ssl:
        p.append(
            (
                "auth",
                "credssp hands the password itself to the server, and over HTTP nothing proves which server that "
                "is: set transport.ssl: true with certValidation: true, or use negotiate or kerberos",
            )
        )
    weak = weakenings(t)
    accepted = list(t.accept_weaker_transport)
    missing = [w for w in weak if w not in accepted]
    if missing:
        listed = ", ".join(sorted(set(accepted) | set(missing), key=list(WEAKENINGS).index))
        why = "; ".join(WEAKENINGS[w] for w in missing)
        p.append(
            (
                ACK_KEY,
                f"must list {', '.join(missing)}: {why}. Restore the default, or accept the weaker transport "
                f"explicitly with transport.{ACK_KEY}: [{listed}] (every run then warns, and preview shows it)",
            )
        )
    stale = [w for w in accepted if w not in weak]
    if stale:
        p.append(
            (
                ACK_KEY,
                f"lists {', '.join(stale)}, which these settings do not weaken: remove "
                f"{'it' if len(stale) == 1 else 'them'} (the acknowledgement must say what is in effect)",
            )
        )
    if len(set(accepted)) != len(accepted):
        p.append((ACK_KEY, "lists an item twice: list each of http, certValidation, encryption at most once"))
    return p


def transport_problems(t: TransportSettings) -> list[Problem]:
    """Every rule that reads the transport section alone; [] when the settings are consistent and safe."""
    p: list[Problem] = []
    if not t.read_timeout > t.operation_timeout:
        p.append(
            (
                "readTimeout",
                f"is {t.read_timeout:g}s; it must be greater than transport.operationTimeout "
                f"({t.operation_timeout:g}s): "
                "WinRM holds a receive for up to operationTimeout, so a shorter read timeout drops healthy calls; "
                f"e.g. readTimeout: {t.operation_timeout + 30:g}",
            )
        )
    if not t.operation_timeout > 0:
        p.append(("operationTimeout", f"is {t.operation_timeout:g}s: give a positive number of seconds, e.g. 60"))
    if not t.connect_timeout > 0:
        p.append(("connectTimeout", f"is {t.connect_timeout:g}s: give a positive number of seconds, e.g. 30"))
    if t.retries < 0 or t.backoff < 0:
        p.append(("retries", "retries and backoff cannot be negative: give e.g. retries: 2, backoff: 2"))
    if t.auth == "basic" and not t.ssl:
        p.append(
            (
                "auth",
                "basic sends the password in clear text over HTTP: set transport.ssl: true (HTTPS, port 5986) "
                "or use negotiate, kerberos or credssp",
            )
        )
    if t.encryption == "never" and not t.ssl:
        p.append(
            (
                "encryption",
                "never over HTTP leaves WinRM traffic (and SecureStrings) unprotected: set transport.ssl: true "
                "or encryption: auto",
            )
        )
    if t.encryption == "always" and t.auth in ("basic", "certificate"):
        p.append(
            (
                "encryption",
                f"always needs message encryption, which auth {t.auth} cannot provide: use encryption: auto "
                "(HTTPS already encrypts) or auth negotiate, ntlm, kerberos or credssp",
            )
        )
    p += _certificate_problems(t)
    p += _downgrade_problems(t)
    if t.second_hop == "credssp" and t.auth != "credssp":
        p.append(
            (
                "secondHop",
                f"credssp needs transport.auth: credssp (auth is {t.auth}): CredSSP delegation comes from the "
                "CredSSP logon itself",
            )
        )
    if t.second_hop == "kerberos-delegation" and t.auth not in ("kerberos", "negotiate"):
        # Negotiate picks Kerberos when it can and then delegates; the transport refuses it on a machine that
        # has no Kerberos library, where Negotiate could only pick NTLM (which never delegates).
        p.append(
            (
                "secondHop",
                f"kerberos-delegation needs transport.auth: kerberos or negotiate (auth is {t.auth}): only a "
                "Kerberos ticket can be delegated",
            )
        )
    if t.ca_bundle is not None and not (t.ssl and t.cert_validation):
        p.append(
            ("caBundle", "is only used with transport.ssl: true and certValidation: true: remove it or enable both")
        )
    if t.port == 5985 and t.ssl:
        p.append(("port", "5985 is WinRM's HTTP port but transport.ssl is true: use 5986, or set ssl: false"))
    if t.port == 5986 and not t.ssl:
        p.append(("port", "5986 is WinRM's HTTPS port but transport.ssl is false: use 5985, or set ssl: true"))
    return p


def _certificate_problems(t: TransportSettings) -> list[Problem]:
    p: list[Problem] = []
    pems = (("certificatePem", t.certificate_pem), ("certificateKeyPem", t.certificate_key_pem))
    if t.auth == "certificate":
        if not t.ssl:
            p.append(("ssl", "must be true with auth: certificate (WinRM maps client certificates over HTTPS only)"))
        if t.certificate_pem is None:
            p.append(("certificatePem", "is required with auth: certificate: give the client certificate's PEM file"))
        if t.certificate_key_pem is None:
            p.append(("certificateKeyPem", "is required with auth: certificate: give the private key's PEM file"))
    else:
        p += [
            (key, "is only used with auth: certificate: remove it or set auth: certificate")
            for key, value in pems
            if value is not None
        ]
    for key, value in pems:
        if value and value.lstrip().startswith("-----BEGIN"):
            p.append((key, "holds PEM content: give the path of the PEM file instead"))
    return p


def is_local_account(account: str) -> bool:
    r"""True for ``user`` or ``.\user`` (a node's own account); False for ``DOMAIN\user`` and ``user@domain``."""
    domain, sep, _ = account.partition("\\")
    if sep:
        return domain == "."
    return "@" not in account


def account_problems(t: TransportSettings, account: str | None) -> list[Problem]:
    """Rules that read the transport and the WinRM account (``sso.configuringAccount``) together."""
    if t.auth == "basic" and account is not None and not is_local_account(account):
        return [
            (
                "auth",
                f"basic cannot log on {account}: WinRM's Basic authentication accepts only local accounts (and is "
                "off by default); use negotiate or credssp for a domain account",
            )
        ]
    return []


def host_problem(host: str) -> str | None:
    """Why ``host`` cannot be put in a WinRM URL (``https://HOST:PORT/wsman``), or None."""
    if not host:
        return "is empty"
    try:
        ipaddress.IPv6Address(host)
        return None  # an IPv6 literal: bracketed when the URL is built
    except ValueError:
        pass
    bad = sorted(set(_URL_HOST_FORBIDDEN.findall(host)))
    if bad:
        shown = ", ".join(repr(ch) for ch in bad)
        return f"has {shown}, which a URL's host cannot hold (it would change where the request goes)"
    return None


__all__ = [
    "ACK_KEY",
    "WEAKENINGS",
    "Problem",
    "TransportSettings",
    "account_problems",
    "host_problem",
    "is_local_account",
    "transport_problems",
    "weakening_warning",
    "weakenings",
]
