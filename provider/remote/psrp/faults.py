"""Every failure of a script call, classified into a stable ESSO id that names the node, endpoint and script.

Why: a person reads these; each says what happened and what to check, never shows a secret, and a transient
one says whether the script may have run (``Remote.run`` retries only what provably did not, or reads).

ESSO-030 authentication, 031 unreachable, 032 TLS, 033 timeout of one request, 034 WinRM fault or HTTP error
(413: the request is over the node's MaxEnvelopeSizekb), 035 terminating error (the message once; category,
target and error id only where they add something), 036 non-terminating errors, 037 a result off contract,
060 the call's overall deadline passed (the script may still run on the node), 061 access denied (the account
authenticated but may not use the endpoint). A script that refuses with ``ESSO-NNN ...`` raises that ID.
Sources: the recorded faults in tests/data/winrm (pypsrp's recordings of real servers) and, where none exist,
pywinrm#336 and wazuh-ansible#581 (access denied), ansible.windows#391 and #620 (HTTP 413).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import requests

from provider.errors import CATALOGUE, EssoError, classify_windows_error
from provider.remote.base import TransientRemoteError
from provider.remote.psrp.config import Endpoint
from provider.spec import TransportSection

WSMAN_OPERATION_TIMEOUT = 0x80338029
WSMAN_SHELL_NOT_FOUND = 0x8033805B
TRANSIENT_HTTP_STATUS = frozenset({503})
# "Access is denied." for an account that authenticated but may not use the endpoint: WSManFault 5
# (w:AccessDenied) or 0x80070005 (w:InternalError), HTTP 500 (pywinrm#336, wazuh-ansible#581).
WSMAN_ACCESS_DENIED = frozenset({5, 0x80070005})
# A request over the node's MaxEnvelopeSizekb: the WinRM service answers HTTP 413 with no SOAP fault
# (ansible.windows#391 and #620; 0x80338111 is only the Windows client's name for that answer).
HTTP_REQUEST_TOO_LARGE = 413

# PowerShell's ErrorCategory enum, for messages a person can read.
ERROR_CATEGORIES = (
    "NotSpecified",
    "OpenError",
    "CloseError",
    "DeviceError",
    "DeadlockDetected",
    "InvalidArgument",
    "InvalidData",
    "InvalidOperation",
    "InvalidResult",
    "InvalidType",
    "MetadataError",
    "NotImplemented",
    "NotInstalled",
    "ObjectNotFound",
    "OperationStopped",
    "OperationTimeout",
    "SyntaxError",
    "ParserError",
    "PermissionDenied",
    "ResourceBusy",
    "ResourceExists",
    "ResourceUnavailable",
    "ReadError",
    "WriteError",
    "FromStdErr",
    "SecurityError",
    "ProtocolError",
    "ConnectionError",
    "AuthenticationError",
    "LimitsExceeded",
    "QuotaExceeded",
    "NotEnabled",
)

_ESSO_PREFIX = re.compile(r"^\s*(ESSO-\d{3})\b[\s:.-]*(.*)$", re.DOTALL)

Phase = Literal["connect", "invoke", "receive"]


# --------------------------------------------------------------------------------------- the remote


@dataclass(frozen=True)
class _Call:
    """What every error of one script call names, and the values it must never show."""

    node: str
    endpoint: Endpoint
    script: str
    secrets: tuple[str, ...]

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "********")
        return text

    def error(self, code: str, detail: str) -> EssoError:
        detail = detail if detail.endswith((".", "!", "?")) else detail + "."
        return EssoError(
            code,
            self.scrub(f"{self.script} on {self.node} ({self.endpoint}): {detail}"),
            node=self.node,
            step=self.script,
        )

    def deadline(self, seconds: float, started_output: int) -> EssoError:
        """ESSO-060: the overall deadline passed while the node kept answering "still running" (w:TimedOut)."""
        got = f"; it had sent {started_output} output object(s)" if started_output else ""
        return self.error(
            "ESSO-060",
            f"no result within the deadline of {seconds:g}s for this script{got}; the node kept answering that it "
            "is still running, so it may still be running there (the session was abandoned, not stopped)",
        )

    def transient(self, code: str, detail: str, *, may_have_run: bool) -> TransientRemoteError:
        ran = "the script may have run" if may_have_run else "the script did not run"
        return TransientRemoteError(
            code,
            self.scrub(f"{self.script} on {self.node} ({self.endpoint}): {detail}; {ran}."),
            node=self.node,
            step=self.script,
            may_have_run=may_have_run,
        )


def _shell_gone(exc: BaseException) -> bool:
    from pypsrp.exceptions import WSManFaultError

    return isinstance(exc, WSManFaultError) and exc.code == WSMAN_SHELL_NOT_FOUND


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        nxt = current.__cause__ or current.__context__
        if nxt is None and current.args and isinstance(current.args[0], BaseException):
            nxt = current.args[0]
        reason = getattr(current, "reason", None)
        if nxt is None and isinstance(reason, BaseException):
            nxt = reason
        if nxt is None:
            break
        current = nxt
    return current


def _refused(exc: BaseException) -> bool:
    """True when the request provably never reached the server (no TCP connection was made)."""
    import urllib3.exceptions as u3

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, u3.NewConnectionError | ConnectionRefusedError | u3.ConnectTimeoutError):
            return True
        for nxt in (e.__cause__, e.__context__, getattr(e, "reason", None), *getattr(e, "args", ())):
            if isinstance(nxt, BaseException):
                stack.append(nxt)
    return False


def _transport_error(exc: BaseException, call: _Call, phase: Phase, transport: TransportSection) -> EssoError:
    """Classify a pypsrp/requests failure into a stable ID; transient ones say whether the script may have run."""
    from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

    # Before the pipeline was sent nothing can have run; while it was being sent, only a request that never
    # connected (or a 503, which the node refuses before processing) proves it did not.
    def may_have_run(provably_not_sent: bool) -> bool:
        return phase == "receive" or (phase == "invoke" and not provably_not_sent)

    cause = _root_cause(exc)
    reason = f"{type(cause).__name__}: {cause}" if cause is not exc else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, AuthenticationError):
        return call.error("ESSO-030", f"the node refused the credentials of this identity ({transport.auth}).")
    if isinstance(exc, requests.exceptions.SSLError):
        return call.error(
            "ESSO-032",
            f"TLS verification failed ({reason}); set transport.caBundle to the CA that issued the listener's "
            "certificate.",
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return call.transient("ESSO-031", f"no TCP connection within {transport.connect_timeout}s", may_have_run=False)
    if isinstance(exc, requests.exceptions.ReadTimeout | TimeoutError):
        return call.transient(
            "ESSO-033",
            f"no answer within the read timeout of {transport.read_timeout}s",
            may_have_run=may_have_run(False),
        )
    if isinstance(exc, requests.exceptions.ConnectionError | ConnectionError):
        refused = _refused(exc)
        what = "connection refused" if refused else "connection dropped"
        return call.transient("ESSO-031", f"{what} ({reason})", may_have_run=may_have_run(refused))
    if isinstance(exc, WSManFaultError):
        code = exc.code if isinstance(exc.code, int) else None
        code_text = f"0x{code:08X}" if code is not None else str(exc.code)
        if code in WSMAN_ACCESS_DENIED:
            return call.error(
                "ESSO-061",
                f"WinRM fault {code_text} ({exc.reason or 'Access is denied.'}): the account logged on but may not "
                "use this endpoint",
            )
        if code == WSMAN_OPERATION_TIMEOUT:
            return call.transient(
                "ESSO-033",
                f"WinRM operation timeout {code_text} after {transport.operation_timeout}s",
                may_have_run=may_have_run(False),
            )
        return call.error("ESSO-034", f"WinRM fault {code_text}: {exc.reason or 'no reason given'}")
    if isinstance(exc, WinRMTransportError):
        if exc.code in TRANSIENT_HTTP_STATUS:
            return call.transient(
                "ESSO-031", f"the WinRM service answered HTTP {exc.code}", may_have_run=may_have_run(True)
            )
        if exc.code == HTTP_REQUEST_TOO_LARGE:
            return call.error(
                "ESSO-034",
                "WinRM answered HTTP 413 (the request is larger than the node's MaxEnvelopeSizekb; Windows clients "
                "call this 0x80338111): the request was refused before anything ran; lower the client's max "
                "envelope size or raise winrm/config MaxEnvelopeSizekb on the node",
            )
        body = " ".join(str(exc.response_text or "").split())[:200]
        return call.error("ESSO-034", f"WinRM answered HTTP {exc.code}{': ' + body if body else ''}")
    return call.error("ESSO-034", f"WinRM/PSRP failure ({reason})")


def _record_text(record: Any) -> tuple[str, str, str, str]:
    """(message, category, target, fully qualified error id) of a pypsrp ErrorRecord."""
    message = str(record) if record is not None else ""
    if not message or message == "None":
        exc = getattr(record, "exception", None)
        props: dict[str, Any] = {}
        if exc is not None:
            props = {**getattr(exc, "adapted_properties", {}), **getattr(exc, "extended_properties", {})}
        message = str(props.get("Message") or "unknown error")
    number = getattr(record, "category", None)
    category = ERROR_CATEGORIES[number] if isinstance(number, int) and 0 <= number < len(ERROR_CATEGORIES) else "?"
    if getattr(record, "reason", None):
        category += f" ({record.reason})"
    target_name = getattr(record, "target_name", None)
    target_object = getattr(record, "target_object", None)
    target = str(target_name or (target_object if target_object not in (None, "") else "") or "-")
    return message.strip(), category, target, str(getattr(record, "fq_error", None) or "-")


# What a bare ``throw "text"`` or ``Write-Error`` sets: naming them adds nothing to the message.
_PLAIN_CATEGORIES = frozenset(
    {"?", "NotSpecified", "NotSpecified (WriteErrorException)", "OperationStopped (RuntimeException)"}
)
_PLAIN_IDS = frozenset({"-", "RuntimeException", "Microsoft.PowerShell.Commands.WriteErrorException"})


def _describe(record: Any) -> str:
    """The record's message once, then its category, target and error id only where they add something.

    A real ``throw "text"`` fills the message, the target and the error id with the same text (recording
    test_client_fetch_file_fail_missing, Server 2019); showing all three repeated it three times."""
    message, category, target, fq = _record_text(record)
    extra: list[str] = []
    if category.split(" ", 1)[0] not in _PLAIN_CATEGORIES and category not in _PLAIN_CATEGORIES:
        extra.append(f"category {category}")
    if target.strip() and target != "-" and target.strip() not in message:
        extra.append(f"target {target}")
    if fq.strip() and fq not in _PLAIN_IDS and fq.strip() not in message:
        extra.append(f"id {fq}")
    return message + (f" ({', '.join(extra)})" if extra else "")


def _script_error(record: Any, call: _Call, *, terminating: bool, others: list[Any]) -> EssoError:
    """ESSO-035/036, or the ESSO-NNN a script refused with."""
    records = ([record] if record is not None else []) + list(others)
    for r in records:  # a script's own refusal names its rule: that ID wins
        message = _record_text(r)[0]
        match = _ESSO_PREFIX.match(message)
        if match and match.group(1) in CATALOGUE:
            return EssoError(
                match.group(1),
                call.scrub(f"{match.group(2).strip()} [{call.script} on {call.node} ({call.endpoint})]"),
                node=call.node,
                step=call.script,
            )
    if terminating:
        message = _record_text(record)[0]
        extra = f"; {len(others)} earlier error(s): " + " | ".join(_record_text(o)[0] for o in others) if others else ""
        # a known Windows/ESSO failure gets the seed's advice; the original text stays in the detail
        code = classify_windows_error(message) or "ESSO-035"
        return call.error(code, f"terminating error: {_describe(record)}{extra}")
    listed = "; ".join(f"[{i}] {_describe(o)}" for i, o in enumerate(others, start=1))
    return call.error("ESSO-036", f"{len(others)} non-terminating error(s): {listed}")
