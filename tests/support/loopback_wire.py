"""The loopback endpoint's SOAP vocabulary: namespaces, Windows-shaped faults, and the faults a test injects.

Why: the transport is proven against this endpoint, so it answers as a real Windows WinRM service does where
the recordings of real servers (tests/data/winrm/, from pypsrp's test suite) show how: a fault carries
``s:Subcode`` (``w:TimedOut``, ``w:InvalidSelectors``, ``w:AccessDenied`` ...), ``s:Sender`` for the client's
mistakes, ``xml:lang="en-US"`` and the ``a:``/``w:``/``f:``/``p:`` prefixes, and a request over the envelope
quota is answered HTTP 413 with no SOAP body (ansible.windows#391, #620).
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

from psrpcore.types import ErrorCategory

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "wsmanfault": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "wst": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "pwsh": "http://schemas.microsoft.com/powershell",
}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
STATE_DONE = SHELL + "CommandState/Done"
STATE_RUNNING = SHELL + "CommandState/Running"

FAULT_OPERATION_TIMEOUT = 0x80338029  # w:TimedOut
FAULT_SHELL_NOT_FOUND = 0x8033805B  # w:InvalidSelectors: an unknown ShellId or CommandId
FAULT_ACCESS_DENIED = 5  # w:AccessDenied (s:Sender): the account may not use the endpoint
FAULT_ACCESS_DENIED_HRESULT = 0x80070005  # the same, as w:InternalError
FAULT_UNSUPPORTED = 0x803381A6
FAULT_INVALID_RESOURCE = 0x8033805A

TIMED_OUT_TEXT = (
    "The WS-Management service cannot complete the operation within the time specified in OperationTimeout."
)
ACCESS_DENIED_TEXT = "Access is denied."

# (subcode, sender?) per WSManFault code, as the recordings show them; anything else is w:InternalError.
_SUBCODES: dict[int, tuple[str, bool]] = {
    FAULT_OPERATION_TIMEOUT: ("w:TimedOut", False),
    FAULT_SHELL_NOT_FOUND: ("w:InvalidSelectors", True),
    FAULT_ACCESS_DENIED: ("w:AccessDenied", True),
    FAULT_UNSUPPORTED: ("a:ActionNotSupported", True),
    FAULT_INVALID_RESOURCE: ("w:InvalidResourceURI", True),
}

WINDOWS_FRAGMENT = 32_768  # a Windows server's PSRP fragments: 21-byte header + at most 32,747 bytes of data


def xml_bytes(element: ET.Element) -> bytes:
    return bytes(ET.tostring(element, encoding="utf-8"))


def q(prefix: str, tag: str) -> str:
    return f"{{{NS[prefix]}}}{tag}"


def fault_envelope(relates_to: str, code: int, reason: str, machine: str, subcode: str | None = None) -> bytes:
    """A WS-Man fault as Windows writes it (the shape of the recorded w:TimedOut and w:InvalidSelectors faults).

    Written as text: ElementTree's namespace prefixes are process-wide, and the client's own must not change."""
    sub, sender = _SUBCODES.get(code, ("w:InternalError", False))
    sub = subcode or sub
    text = escape(reason.rstrip() + "  ")  # Windows ends its reason texts in spaces
    return (
        '<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
        "<s:Header><a:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        f"<p:ActivityId>{str(uuid.uuid4()).upper()}</p:ActivityId>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header>"
        f"<s:Body><s:Fault><s:Code><s:Value>{'s:Sender' if sender else 's:Receiver'}</s:Value>"
        f"<s:Subcode><s:Value>{sub}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{text}</s:Text></s:Reason>'
        '<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
        f"Code={quoteattr(str(code))} Machine={quoteattr(machine)}><f:Message>{text}</f:Message>"
        "</f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>"
    ).encode()


# ------------------------------------------------------------------------------------------- faults

FaultKind = Literal[
    "drop_before",  # close the connection without running the script or answering
    "drop_after",  # run the script, then close the connection without answering
    "hang",  # never answer the request (a silent network, until the endpoint stops)
    "runs_long",  # the script runs ``seconds`` (inf: for ever); every Receive meanwhile faults w:TimedOut
    "http_503",  # answer 503 Service Unavailable without running
    "wsman_fault",  # answer a WS-Man fault (code, reason, subcode) without running
    "terminating",  # the script fails with a terminating error (message, category, target)
    "non_terminating",  # the script runs, and also writes non-terminating errors
]


@dataclass
class Fault:
    """An injected failure. ``script=None`` applies to every request the node receives (Create included)."""

    kind: FaultKind
    node: str | None = None
    script: str | None = None
    remaining: int = 1
    code: int = FAULT_UNSUPPORTED
    reason: str = "Injected WS-Management fault"
    subcode: str | None = None  # None: the subcode Windows sends with ``code``
    message: str = "Injected error"
    category: ErrorCategory = ErrorCategory.InvalidOperation
    target: str = "injected-target"
    errors: int = 1  # how many non-terminating errors to write
    seconds: float = float("inf")  # runs_long: how long the script runs


def access_denied(node: str | None = None, *, hresult: bool = False, remaining: int = 1) -> Fault:
    """What a node answers an account that authenticated but may not use the endpoint, on Create (derived from
    the recorded w:InternalError fault; codes from pywinrm#336 and wazuh-ansible#581)."""
    code = FAULT_ACCESS_DENIED_HRESULT if hresult else FAULT_ACCESS_DENIED
    return Fault("wsman_fault", node=node, code=code, reason=ACCESS_DENIED_TEXT, remaining=remaining)


class DropConnectionError(Exception):
    """Raised by the endpoint or a backend: close the connection without an answer."""


class NeverAnswerError(Exception):
    """Raised by the endpoint or a backend: keep the connection open and never answer."""


class HttpError(Exception):
    def __init__(self, status: int, body: bytes = b"") -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class WSManFaultError(Exception):
    def __init__(self, code: int, reason: str, subcode: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.subcode = subcode


def duration(text: str | None, default: float) -> float:
    """Seconds of an ``xs:duration`` such as ``PT60S`` or ``PT0.500S``."""
    import re

    match = re.fullmatch(r"PT(\d+(?:\.\d+)?)S", (text or "").strip())
    return float(match.group(1)) if match else default
