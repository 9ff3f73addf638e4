"""A loopback WinRM endpoint: WS-Management + PSRP on 127.0.0.1, serving contract scripts from a backend.

Why: the real pypsrp client (unmodified, over a real socket) must be proven without Windows. Each node
gets its own HTTP or HTTPS listener; a request goes through the layers a Windows node has:

* **HTTP**: Basic or NTLM (pyspnego acceptor; WinRM message encryption over HTTP with pypsrp's own
  ``WinRMEncryption``), keep-alive because NTLM authenticates the connection.
* **WS-Management**: Create / Command / Send / Receive / Signal / Delete / Get, ``MaxEnvelopeSize``
  enforced on requests (fault 0x80338111, as Windows) and honoured in Receive responses, an idle Receive
  answered with the OperationTimeout fault 0x80338029 as WinRM does.
* **PSRP**: psrpcore's ``ServerRunspacePool`` / ``ServerPipeline`` (key exchange included). A pipeline's
  script is identified by its exact text (the client sends ``provider/scripts/<Name>.ps1`` with its
  ``#esso:include`` fragments spliced in, ``provider.remote.script_source.assembled``),
  SecureString parameters are decrypted, and the backend (the simulator) runs it. A backend error whose
  message starts with ``ESSO-NNN`` becomes a terminating error with that message, as the scripts throw.

A new shell is a new logon session: the backend's ``logon`` is called for (node, identity) on Create.

For tests it also injects faults (drop the connection before or after running a script, never answer,
503, a WS-Man fault, a terminating or non-terminating PowerShell error) and records every request and
response: the bytes on the wire, the SOAP after decryption, and the PSRP payloads decoded from base64
(what a secret scan needs), with timestamps per node and per pipeline (what overlap detection needs).

It cannot do Kerberos, CredSSP or certificate authentication, WinRS (cmd) shells, disconnect/reconnect,
or host calls.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import itertools
import os
import re
import socket
import ssl
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import psrpcore
import spnego
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PSInvocationState,
    PSSecureString,
)
from pypsrp.encryption import WinRMEncryption

from provider import contracts as c
from provider.errors import EssoError
from provider.remote.script_source import SCRIPTS_DIR, assembled

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

TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
STATE_DONE = SHELL + "CommandState/Done"
STATE_RUNNING = SHELL + "CommandState/Running"

FAULT_OPERATION_TIMEOUT = 0x80338029
FAULT_SHELL_NOT_FOUND = 0x8033805B
FAULT_MAX_ENVELOPE = 0x80338111  # "the request size exceeded the configured MaxEnvelopeSize quota"
FAULT_ACCESS_DENIED = 0x80070005
FAULT_UNSUPPORTED = 0x803381A6

_RECEIVE_SKELETON = 2048  # bytes of a ReceiveResponse envelope around its base64 stream


def _xml(element: ET.Element) -> bytes:
    return bytes(ET.tostring(element, encoding="utf-8"))


def _q(prefix: str, tag: str) -> str:
    return f"{{{NS[prefix]}}}{tag}"


# ------------------------------------------------------------------------------------------ backend


class Backend(Protocol):
    """What runs the scripts behind the endpoint (the simulator, or a fake in unit tests)."""

    def logon(self, node: str, identity: str) -> None: ...

    def run(self, node: str, script: str, params: dict[str, Any], identity: str) -> dict[str, Any]: ...


@dataclass
class FakeBackend:
    """A backend for transport tests: answers every script with ``answer(node, script, params)``."""

    answer: Callable[[str, str, dict[str, Any]], dict[str, Any]] = lambda node, script, params: {"ok": True}
    calls: dict[str, int] = field(default_factory=dict)
    logons: list[tuple[str, str]] = field(default_factory=list)
    seen: list[tuple[str, str, dict[str, Any], str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def logon(self, node: str, identity: str) -> None:
        with self.lock:
            self.logons.append((node, identity))

    def run(self, node: str, script: str, params: dict[str, Any], identity: str) -> dict[str, Any]:
        with self.lock:
            key = f"{node}/{script}"
            self.calls[key] = self.calls.get(key, 0) + 1
            self.seen.append((node, script, params, identity))
        return self.answer(node, script, params)


class SimulatorBackend:
    """The simulator behind the endpoint: each script runs on the world in ``state`` under the simulator's lock.

    It does what ``SimulatorRemote._invoke`` does around ``handle``, in the same order, so a procedure
    driven through the endpoint leaves the same world (calls, clock, tokens) as one driven in process:
    count the call and tick the clock, refuse an unreachable node, sleep the world's latency, take the
    world's injected faults (``error`` -> ESSO-041, ``drop_before``/``drop_after``/``hang`` -> the
    connection), run ``handle`` on a copy and keep it only if the script succeeded.

    Logon sessions (rule 13): a new shell is a new logon session. When the identity already holds a token
    on the node, the new one is issued at Create (``SimulatorRemote.renew_logon`` issues it then too);
    otherwise ``handle`` issues it at the first script, after the call is counted, as a first use does.
    """

    def __init__(self, state: Path) -> None:
        from provider.remote.simulator import Simulator

        self.sim = Simulator(state)

    def logon(self, node: str, identity: str) -> None:
        from provider.remote.sim_model import find_node, issue_token

        with self.sim.locked():
            world = self.sim.read_unlocked()
            target = find_node(world, node)
            if target is None or not target.reachable:
                raise DropConnectionError()
            if identity in target.tokens:
                issue_token(world, target, identity)
                self.sim.write_unlocked(world)

    def run(self, node: str, script: str, params: dict[str, Any], identity: str) -> dict[str, Any]:
        from provider.remote.sim_model import find_node
        from provider.remote.simulator import _take_fault, handle

        with self.sim.locked():
            world = self.sim.read_unlocked()
            target = find_node(world, node)
            name = target.name if target is not None else node
            key = f"{name}/{script}"
            world.calls[key] = world.calls.get(key, 0) + 1
            world.clock += 1
            if target is None or not target.reachable:
                self.sim.write_unlocked(world)
                raise DropConnectionError()
            if world.latency_ms > 0:
                time.sleep(world.latency_ms / 1000)
            fault = _take_fault(world, name, script)
            if fault is not None and fault.kind != "drop_after":
                self.sim.write_unlocked(world)
                if fault.kind == "error":
                    raise EssoError("ESSO-041", f"injected failure of {script}.", node=name, step=script)
                raise DropConnectionError() if fault.kind == "drop_before" else NeverAnswerError()
            work = world.model_copy(deep=True)
            try:
                raw = handle(work, name, script, params, identity=identity)
            except BaseException:
                self.sim.write_unlocked(world)  # the call counts; a failed script changes nothing
                raise
            self.sim.write_unlocked(work)
        if fault is not None:
            raise DropConnectionError()  # drop_after: it ran, the answer is lost
        return raw


# ------------------------------------------------------------------------------------------- faults

FaultKind = Literal[
    "drop_before",  # close the connection without running the script or answering
    "drop_after",  # run the script, then close the connection without answering
    "hang",  # never answer (until the endpoint stops)
    "http_503",  # answer 503 Service Unavailable without running
    "wsman_fault",  # answer a WS-Man fault (code, reason) without running
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
    message: str = "Injected error"
    category: ErrorCategory = ErrorCategory.InvalidOperation
    target: str = "injected-target"
    errors: int = 1  # how many non-terminating errors to write


class DropConnectionError(Exception):
    """Raised by the endpoint or a backend: close the connection without an answer."""


class NeverAnswerError(Exception):
    """Raised by the endpoint or a backend: keep the connection open and never answer."""


class _HttpError(Exception):
    def __init__(self, status: int, body: bytes = b"") -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class _WSManFaultError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


# ------------------------------------------------------------------------------------------ records


@dataclass
class Exchange:
    """One HTTP request and its answer, as recorded by the endpoint."""

    node: str
    started: float
    ended: float = 0.0
    action: str = ""
    script: str | None = None  # the contract script whose pipeline this request created
    status: int = 0
    wire_request: bytes = b""  # as on the socket (TLS plaintext on HTTPS); encrypted parts stay encrypted
    wire_response: bytes = b""
    soap_request: bytes = b""  # after WinRM message decryption
    soap_response: bytes = b""
    psrp_in: bytes = b""  # PSRP fragments decoded from base64
    psrp_out: bytes = b""
    encrypted: bool = False
    dropped: bool = False
    max_envelope: int = 0  # the client's MaxEnvelopeSize header


@dataclass
class Operation:
    """One pipeline: from the request that created it to its Signal (or last Receive)."""

    node: str
    script: str
    started: float
    ended: float | None = None


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.exchanges: list[Exchange] = []
        self.operations: list[Operation] = []
        self.decrypted_secrets: list[str] = []  # SecureString values the endpoint decrypted (for the scan)

    def add(self, exchange: Exchange) -> None:
        with self.lock:
            self.exchanges.append(exchange)

    def wire_bytes(self) -> bytes:
        with self.lock:
            return b"\n".join(e.wire_request + b"\n" + e.wire_response for e in self.exchanges)

    def decrypted_bytes(self) -> bytes:
        """Everything the endpoint saw in clear: SOAP after decryption and the decoded PSRP payloads."""
        with self.lock:
            return b"\n".join(
                b"\n".join((e.soap_request, e.soap_response, e.psrp_in, e.psrp_out)) for e in self.exchanges
            )

    def requests(
        self, *, node: str | None = None, script: str | None = None, action: str | None = None
    ) -> list[Exchange]:
        with self.lock:
            return [
                e
                for e in self.exchanges
                if (node is None or e.node == node)
                and (script is None or e.script == script)
                and (action is None or e.action == action)
            ]

    def clear(self) -> None:
        with self.lock:
            self.exchanges.clear()
            self.operations.clear()
            self.decrypted_secrets.clear()

    def overlaps(self, node: str) -> list[tuple[Operation, Operation]]:
        """Pairs of operations on ``node`` that ran at the same time (there must be none)."""
        with self.lock:
            ops = sorted((o for o in self.operations if o.node == node), key=lambda o: o.started)
        found = []
        for a, b in itertools.pairwise(ops):
            if a.ended is None or b.started < a.ended:
                found.append((a, b))
        return found


# ------------------------------------------------------------------------------------------- shells


class _Shell:
    """One WS-Man shell = one PSRP runspace pool = one logon session."""

    def __init__(self, shell_id: str, node: str, identity: str, fragment_budget: int) -> None:
        self.id = shell_id
        self.node = node
        self.identity = identity
        self.pool = psrpcore.ServerRunspacePool()
        self.fragment_budget = fragment_budget
        self.out: dict[str | None, list[bytes]] = {}  # None = pool, else COMMANDID (upper case)
        self.done: set[str] = set()
        self.scripts: dict[str, str] = {}  # COMMANDID -> script name
        self.operations: dict[str, Operation] = {}
        self.lock = threading.Lock()

    def flush(self) -> None:
        while True:
            payload = self.pool.data_to_send(self.fragment_budget)
            if payload is None:
                return
            key = str(payload.pipeline_id).upper() if payload.pipeline_id else None
            self.out.setdefault(key, []).append(payload.data)


def _plain(value: Any) -> Any:
    """psrpcore's deserialized values -> plain Python (SecureString decrypted), for the backend."""
    if isinstance(value, PSSecureString):
        return value.decrypt()
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def _duration(text: str | None, default: float) -> float:
    match = re.fullmatch(r"PT(\d+(?:\.\d+)?)S", (text or "").strip())
    return float(match.group(1)) if match else default


class ScriptIndex:
    """Exact script text as the client sends it (assembled) -> contract name, with a header fallback."""

    _HEADER = re.compile(r"^\s*#\s*(?:Script:\s*)?([A-Z][A-Za-z]*-[A-Za-z]+)(?:\.ps1)?\b", re.MULTILINE)

    def __init__(self, folder: Path = SCRIPTS_DIR) -> None:
        self.folder = folder
        self._by_text: dict[str, str] = {}
        self._lock = threading.Lock()

    def _load(self) -> None:
        self._by_text = {}
        for name in c.SCRIPTS:
            if (self.folder / f"{name}.ps1").is_file():
                self._by_text[assembled(name, self.folder)] = name

    def name(self, text: str) -> str | None:
        with self._lock:
            if text not in self._by_text:
                self._load()
            found = self._by_text.get(text)
        if found is not None:
            return found
        for match in self._HEADER.finditer(text[:2000]):
            if match.group(1) in c.SCRIPTS:
                return match.group(1)
        return None


# ------------------------------------------------------------------------------------ WS-Man service


class WSManService:
    """The SOAP + PSRP layer of one node."""

    def __init__(self, loopback: Loopback, node: str) -> None:
        self.loopback = loopback
        self.node = node
        self.shells: dict[str, _Shell] = {}
        self.lock = threading.Lock()

    # -- SOAP helpers ---------------------------------------------------------------------------
    @staticmethod
    def _envelope(action: str, relates_to: str) -> tuple[ET.Element, ET.Element]:
        env = ET.Element(_q("s", "Envelope"))
        hdr = ET.SubElement(env, _q("s", "Header"))
        ET.SubElement(hdr, _q("wsa", "Action")).text = action
        ET.SubElement(hdr, _q("wsa", "MessageID")).text = f"uuid:{str(uuid.uuid4()).upper()}"
        ET.SubElement(hdr, _q("wsa", "RelatesTo")).text = relates_to
        ET.SubElement(hdr, _q("wsa", "To")).text = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
        return env, ET.SubElement(env, _q("s", "Body"))

    def fault(self, relates_to: str, code: int, reason: str) -> bytes:
        env, body = self._envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to)
        f = ET.SubElement(body, _q("s", "Fault"))
        code_el = ET.SubElement(f, _q("s", "Code"))
        ET.SubElement(code_el, _q("s", "Value")).text = "s:Receiver"
        ET.SubElement(ET.SubElement(f, _q("s", "Reason")), _q("s", "Text")).text = reason
        detail = ET.SubElement(f, _q("s", "Detail"))
        wf = ET.SubElement(detail, _q("wsmanfault", "WSManFault"), Code=str(code), Machine=self.node)
        ET.SubElement(wf, _q("wsmanfault", "Message")).text = reason
        return _xml(env)

    # -- dispatch ----------------------------------------------------------------------------------
    def handle(self, soap: bytes, identity: str, record: Exchange) -> tuple[int, bytes]:
        req = ET.fromstring(soap)  # noqa: S314 - the test client's own requests, on 127.0.0.1
        action = req.findtext("s:Header/wsa:Action", namespaces=NS) or ""
        msg_id = req.findtext("s:Header/wsa:MessageID", namespaces=NS) or ""
        record.action = action.rsplit("/", 1)[-1]
        record.max_envelope = int(req.findtext("s:Header/wsman:MaxEnvelopeSize", namespaces=NS) or 0)
        try:
            if len(soap) > self.loopback.max_envelope_size:
                raise _WSManFaultError(
                    FAULT_MAX_ENVELOPE,
                    f"The WinRM client sent a request to the remote WS-Management service and was notified that "
                    f"the request size ({len(soap)}) exceeded the configured MaxEnvelopeSize quota "
                    f"({self.loopback.max_envelope_size}).",
                )
            self.loopback.transport_fault(self.node, None)
            body = req.find("s:Body", NS)
            if body is None:
                raise _WSManFaultError(FAULT_UNSUPPORTED, "No SOAP body")
            if action == TRANSFER + "Create":
                return 200, self._create(req, body, msg_id, identity, record)
            shell_id = ""
            for sel in req.findall("s:Header/wsman:SelectorSet/wsman:Selector", NS):
                if sel.attrib.get("Name") == "ShellId":
                    shell_id = (sel.text or "").upper()
            with self.lock:
                shell = self.shells.get(shell_id)
            if shell is None:
                raise _WSManFaultError(
                    FAULT_SHELL_NOT_FOUND,
                    f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell "
                    "was not found on the server.",
                )
            if shell.identity.lower() != identity.lower():
                raise _WSManFaultError(FAULT_ACCESS_DENIED, "Access is denied: the shell belongs to another user.")
            handlers: dict[str, Callable[[_Shell, ET.Element, ET.Element, str, Exchange], bytes]] = {
                SHELL + "Command": self._command,
                SHELL + "Send": self._send,
                SHELL + "Receive": self._receive,
                SHELL + "Signal": self._signal,
                TRANSFER + "Delete": self._delete,
                TRANSFER + "Get": self._get,
            }
            fn = handlers.get(action)
            if fn is None:
                raise _WSManFaultError(FAULT_UNSUPPORTED, f"Unsupported action {action}")
            with shell.lock:
                return 200, fn(shell, req, body, msg_id, record)
        except _WSManFaultError as f:
            return 500, self.fault(msg_id, f.code, f.reason)

    def _feed(self, shell: _Shell, data: bytes, command_id: str | None, record: Exchange) -> None:
        record.psrp_in += data
        pid = uuid.UUID(command_id) if command_id else None
        shell.pool.receive_data(psrpcore.PSRPPayload(data, psrpcore.StreamType.default, pid))
        while True:
            event = shell.pool.next_event()
            if event is None:
                break
            if isinstance(event, psrpcore.CreatePipelineEvent):
                self._run_pipeline(shell, event, record)
        shell.flush()

    def _run_pipeline(self, shell: _Shell, event: psrpcore.CreatePipelineEvent, record: Exchange) -> None:
        cmd_id = str(event.pipeline_id).upper()
        pipe = shell.pool.pipeline_table[event.pipeline_id]
        commands = event.pipeline.commands
        text = str(commands[0].command_text) if commands else ""
        script = self.loopback.scripts.name(text) if commands and commands[0].is_script else None
        name = script or (text.splitlines()[0][:60] if text else "?")
        record.script = name
        shell.scripts[cmd_id] = name
        op = Operation(self.node, name, record.started)
        shell.operations[cmd_id] = op
        with self.loopback.recorder.lock:
            self.loopback.recorder.operations.append(op)

        fault = self.loopback.take_fault(self.node, name)
        if fault is not None and fault.kind in ("drop_before", "hang", "http_503", "wsman_fault"):
            op.ended = time.monotonic()
            self.loopback.raise_transport(fault)
        params = {str(k): _plain(v) for k, v in (commands[0].parameters if commands else [])}
        secure = [str(k) for k, v in (commands[0].parameters if commands else []) if isinstance(v, PSSecureString)]
        with self.loopback.recorder.lock:
            self.loopback.recorder.decrypted_secrets.extend(str(params[k]) for k in secure)

        pipe.start()
        if fault is not None and fault.kind == "terminating":
            _fail(pipe, fault.message, fault.category, fault.target, "Injected.Terminating")
        else:
            try:
                if script is None:
                    raise RuntimeError(f"The term '{name}' is not a contract script known to this endpoint.")
                if self.loopback.script_delay:
                    time.sleep(self.loopback.script_delay)
                result = self.loopback.backend.run(self.node, script, params, shell.identity)
            except (DropConnectionError, NeverAnswerError):
                op.ended = time.monotonic()
                raise
            except EssoError as exc:
                _fail(pipe, f"{exc.code} {exc.detail}", ErrorCategory.OperationStopped, self.node, "RuntimeException")
            except Exception as exc:  # anything else the backend raised: a terminating error, as a throw would be
                _fail(pipe, str(exc), ErrorCategory.NotSpecified, self.node, type(exc).__name__)
            else:
                pipe.write_output(result)
                if fault is not None and fault.kind == "non_terminating":
                    for i in range(fault.errors):
                        pipe.write_error(
                            NETException(Message=f"{fault.message} #{i + 1}"),
                            ErrorCategoryInfo(
                                Category=fault.category, Reason="WriteErrorException", TargetName=fault.target
                            ),
                            target_object=fault.target,
                            fully_qualified_error_id="Injected.NonTerminating",
                        )
                pipe.complete()
        shell.done.add(cmd_id)
        if fault is not None and fault.kind == "drop_after":
            shell.flush()
            op.ended = time.monotonic()
            raise DropConnectionError()

    # -- actions -----------------------------------------------------------------------------------
    def _create(self, req: ET.Element, body: ET.Element, msg_id: str, identity: str, record: Exchange) -> bytes:
        shell_el = body.find("rsp:Shell", NS)
        resource_uri = req.findtext("s:Header/wsman:ResourceURI", namespaces=NS) or ""
        if shell_el is None or not resource_uri.startswith("http://schemas.microsoft.com/powershell/"):
            raise _WSManFaultError(0x8033805A, "Only PowerShell shells are supported by the loopback endpoint.")
        shell_id = (shell_el.attrib.get("ShellId") or str(uuid.uuid4())).upper()
        envelope = min(record.max_envelope or self.loopback.max_envelope_size, self.loopback.max_envelope_size)
        shell = _Shell(shell_id, self.node, identity, max(64, (envelope - _RECEIVE_SKELETON) * 3 // 4))
        self.loopback.backend.logon(self.node, identity)  # a new shell is a new logon session
        with self.lock:
            self.shells[shell_id] = shell
        creation = shell_el.find("pwsh:creationXml", NS)
        with shell.lock:
            self._feed(shell, base64.b64decode(creation.text or "") if creation is not None else b"", None, record)
        env, rbody = self._envelope(TRANSFER + "CreateResponse", msg_id)
        rc = ET.SubElement(rbody, _q("wst", "ResourceCreated"))
        ET.SubElement(rc, _q("wsa", "Address")).text = f"http://{self.node}/wsman"
        rp = ET.SubElement(rc, _q("wsa", "ReferenceParameters"))
        ET.SubElement(rp, _q("wsman", "ResourceURI")).text = resource_uri
        ss = ET.SubElement(rp, _q("wsman", "SelectorSet"))
        ET.SubElement(ss, _q("wsman", "Selector"), Name="ShellId").text = shell_id
        sh = ET.SubElement(rbody, _q("rsp", "Shell"))
        ET.SubElement(sh, _q("rsp", "ShellId")).text = shell_id
        ET.SubElement(sh, _q("rsp", "ResourceUri")).text = resource_uri
        ET.SubElement(sh, _q("rsp", "Owner")).text = identity
        ET.SubElement(sh, _q("rsp", "InputStreams")).text = "stdin pr"
        ET.SubElement(sh, _q("rsp", "OutputStreams")).text = "stdout"
        return _xml(env)

    def _command(self, shell: _Shell, req: ET.Element, body: ET.Element, msg_id: str, record: Exchange) -> bytes:
        cl = body.find("rsp:CommandLine", NS)
        if cl is None:
            raise _WSManFaultError(FAULT_UNSUPPORTED, "No CommandLine")
        cmd_id = (cl.attrib.get("CommandId") or str(uuid.uuid4())).upper()
        psrpcore.ServerPipeline(shell.pool, uuid.UUID(cmd_id))
        shell.out[cmd_id] = []
        shell.done.discard(cmd_id)
        self._feed(shell, base64.b64decode(cl.findtext("rsp:Arguments", namespaces=NS) or ""), cmd_id, record)
        env, rbody = self._envelope(SHELL + "CommandResponse", msg_id)
        ET.SubElement(ET.SubElement(rbody, _q("rsp", "CommandResponse")), _q("rsp", "CommandId")).text = cmd_id
        return _xml(env)

    def _send(self, shell: _Shell, req: ET.Element, body: ET.Element, msg_id: str, record: Exchange) -> bytes:
        for stream in body.findall("rsp:Send/rsp:Stream", NS):
            cmd_id = stream.attrib.get("CommandId")
            self._feed(shell, base64.b64decode(stream.text or ""), cmd_id.upper() if cmd_id else None, record)
        env, rbody = self._envelope(SHELL + "SendResponse", msg_id)
        ET.SubElement(rbody, _q("rsp", "SendResponse"))
        return _xml(env)

    def _receive(self, shell: _Shell, req: ET.Element, body: ET.Element, msg_id: str, record: Exchange) -> bytes:
        ds = body.find("rsp:Receive/rsp:DesiredStream", NS)
        cmd_id = ds.attrib.get("CommandId") if ds is not None else None
        key = cmd_id.upper() if cmd_id else None
        if key is not None:
            record.script = shell.scripts.get(key)
        queue = shell.out.setdefault(key, [])
        envelope = min(record.max_envelope or self.loopback.max_envelope_size, self.loopback.max_envelope_size)
        budget = (envelope - _RECEIVE_SKELETON) * 3 // 4
        data = bytearray()
        while queue and (not data or len(data) + len(queue[0]) <= budget):
            data += queue.pop(0)
        finished = key is not None and key in shell.done and not queue
        if not data and not finished:
            # WinRM blocks for the OperationTimeout, then faults; nothing arrives later here, so answer soon.
            time.sleep(min(0.05, _duration(req.findtext("s:Header/wsman:OperationTimeout", namespaces=NS), 1.0)))
            raise _WSManFaultError(
                FAULT_OPERATION_TIMEOUT,
                "The WS-Management service cannot complete the operation within the time specified in "
                "OperationTimeout.",
            )
        record.psrp_out += bytes(data)
        env, rbody = self._envelope(SHELL + "ReceiveResponse", msg_id)
        rr = ET.SubElement(rbody, _q("rsp", "ReceiveResponse"))
        attrs = {"Name": "stdout"}
        if key:
            attrs["CommandId"] = key
        if data:
            ET.SubElement(rr, _q("rsp", "Stream"), attrs).text = base64.b64encode(bytes(data)).decode()
        if key is not None:
            ET.SubElement(rr, _q("rsp", "CommandState"), CommandId=key, State=STATE_DONE if finished else STATE_RUNNING)
            op = shell.operations.get(key)
            if finished and op is not None:
                op.ended = time.monotonic()
        return _xml(env)

    def _signal(self, shell: _Shell, req: ET.Element, body: ET.Element, msg_id: str, record: Exchange) -> bytes:
        sig = body.find("rsp:Signal", NS)
        cmd_id = (sig.attrib.get("CommandId") or "").upper() if sig is not None else ""
        record.script = shell.scripts.get(cmd_id)
        pipe = shell.pool.pipeline_table.get(uuid.UUID(cmd_id)) if cmd_id else None
        if pipe is not None:
            code = sig.findtext("rsp:Code", namespaces=NS) or "" if sig is not None else ""
            if code.endswith("ctrl_c") and pipe.state == PSInvocationState.Running:
                pipe.stop()
                shell.flush()
            elif pipe.state != PSInvocationState.Running:
                pipe.close()
        op = shell.operations.get(cmd_id)
        if op is not None:
            op.ended = time.monotonic()
        env, rbody = self._envelope(SHELL + "SignalResponse", msg_id)
        ET.SubElement(rbody, _q("rsp", "SignalResponse"))
        return _xml(env)

    def _get(self, shell: _Shell, req: ET.Element, body: ET.Element, msg_id: str, record: Exchange) -> bytes:
        env, rbody = self._envelope(TRANSFER + "GetResponse", msg_id)
        sh = ET.SubElement(rbody, _q("rsp", "Shell"))
        ET.SubElement(sh, _q("rsp", "ShellId")).text = shell.id
        ET.SubElement(sh, _q("rsp", "State")).text = "Connected"
        return _xml(env)

    def _delete(self, shell: _Shell, req: ET.Element, body: ET.Element, msg_id: str, record: Exchange) -> bytes:
        with self.lock:
            self.shells.pop(shell.id, None)
        env, _ = self._envelope(TRANSFER + "DeleteResponse", msg_id)
        return _xml(env)


def _fail(pipe: psrpcore.ServerPipeline, message: str, category: ErrorCategory, target: str, fq: str) -> None:
    """End the pipeline with a terminating error (psrpcore 0.3.1 has no public fail())."""
    record = ErrorRecord(
        Exception=NETException(Message=message),
        CategoryInfo=ErrorCategoryInfo(Category=category, Reason=fq.split(",")[0], TargetName=target),
        TargetObject=target,
        FullyQualifiedErrorId=fq,
    )
    pipe._change_state(PSInvocationState.Failed, error=record)


# ------------------------------------------------------------------------------------ NTLM accounts

_NTLM_LOCK = threading.Lock()
_NTLM_FILE: Path | None = None


def _register_ntlm_user(identity: str, password: str) -> None:
    """pyspnego's NTLM acceptor reads DOMAIN:USER:PASSWORD lines from the file NTLM_USER_FILE names."""
    global _NTLM_FILE
    domain, _, user = identity.rpartition("\\")
    with _NTLM_LOCK:
        if _NTLM_FILE is None:
            fd, name = tempfile.mkstemp(prefix="loopback-ntlm-", suffix=".txt")
            os.close(fd)
            _NTLM_FILE = Path(name)
        os.environ["NTLM_USER_FILE"] = str(_NTLM_FILE)
        lines = _NTLM_FILE.read_text().splitlines()
        entry = f"{domain}:{user}:{password}"
        if entry not in lines:
            with _NTLM_FILE.open("a") as fh:
                fh.write(entry + "\n")


# ------------------------------------------------------------------------------------------- HTTP


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    service: WSManService
    loopback: Loopback


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: NTLM authenticates the connection
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall
    server: _Server
    _ctx: Any = None
    _enc: WinRMEncryption | None = None
    _ntlm_identity: str | None = None

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, record: Exchange, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        head = [f"{self.protocol_version} {status} {self.responses.get(status, ('',))[0]}"]
        head += [f"{key}: {value}" for key, value in (headers or {}).items()]
        # Recorded before the client can read it: a test looks at the record as soon as its call returns.
        record.status = status
        record.wire_response = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        record.ended = time.monotonic()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drop(self, record: Exchange) -> None:
        record.dropped = True
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _authenticate(self, record: Exchange) -> str | None:
        """The identity of this request, or None after answering 401."""
        lb = self.server.loopback
        authz = self.headers.get("Authorization", "")
        if authz.startswith("Basic ") and "basic" in lb.auth:
            try:
                user, _, password = base64.b64decode(authz[6:]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                user, password = "", ""
            expected = lb.users.get(user.lower())
            domain, sep, _ = user.partition("\\")
            local = (domain == ".") if sep else "@" not in user  # WinRM's Basic takes local accounts only
            if local and expected is not None and expected == password:
                return user
            self._send(record, 401, headers={"WWW-Authenticate": 'Basic realm="WSMAN"'})
            return None
        match = re.match(r"(Negotiate|NTLM)\s+(\S+)", authz, re.IGNORECASE)
        if match and "ntlm" in lb.auth:
            if self._ctx is None or self._ctx.complete:
                self._ctx = spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.wrapping_winrm)
                self._enc = None
                self._ntlm_identity = None
            try:
                token = self._ctx.step(base64.b64decode(match.group(2)))
            except Exception:
                self._ctx = None
                self._send(record, 401, headers={"WWW-Authenticate": "Negotiate"})
                return None
            if not self._ctx.complete:
                out = base64.b64encode(token or b"").decode()
                self._send(record, 401, headers={"WWW-Authenticate": f"{match.group(1)} {out}"})
                return None
            self._enc = WinRMEncryption(self._ctx, WinRMEncryption.SPNEGO)
            self._ntlm_identity = str(self._ctx.client_principal)
            return self._ntlm_identity
        if self._ntlm_identity is not None and not authz:
            return self._ntlm_identity  # the connection is authenticated (NTLM)
        offers = {"WWW-Authenticate": "Negotiate" if "ntlm" in lb.auth else 'Basic realm="WSMAN"'}
        self._send(record, 401, headers=offers)
        return None

    def do_POST(self) -> None:
        lb = self.server.loopback
        record = Exchange(node=self.server.service.node, started=time.monotonic())
        lb.recorder.add(record)  # visible while in flight (a hung request too)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        record.wire_request = (self.requestline + "\r\n" + str(self.headers)).encode() + b"\r\n" + raw
        try:
            if self.path != "/wsman":
                self._send(record, 404)
                return
            identity = self._authenticate(record)
            if identity is None:
                return
            ctype = self.headers.get("Content-Type", "")
            record.encrypted = ctype.startswith("multipart/encrypted")
            soap = raw
            if record.encrypted:
                boundary = re.search(r'boundary="([^"]+)"', ctype)
                if self._enc is None or boundary is None:
                    self._send(record, 400)
                    return
                soap = self._enc.unwrap_message(raw, boundary.group(1))
            elif soap and lb.require_encryption and not isinstance(self.connection, ssl.SSLSocket):
                self._send(record, 401, headers={"WWW-Authenticate": "Negotiate"})  # AllowUnencrypted=false
                return
            record.soap_request = soap
            if not soap:  # pypsrp's empty POST that sets up the security context
                self._send(record, 200)
                return
            status, answer = self.server.service.handle(soap, identity, record)
            record.soap_response = answer
            if record.encrypted and self._enc is not None:
                ctype_out, payload = self._enc.wrap_message(answer)
                protocol = WinRMEncryption.SPNEGO
                self._send(
                    record,
                    status,
                    payload,
                    {"Content-Type": f'{ctype_out};protocol="{protocol}";boundary="Encrypted Boundary"'},
                )
            else:
                self._send(record, status, answer, {"Content-Type": "application/soap+xml;charset=UTF-8"})
        except DropConnectionError:
            self._drop(record)
        except NeverAnswerError:
            lb.stopping.wait(lb.hang_seconds)
            self._drop(record)
        except _HttpError as err:
            self._send(record, err.status, err.body, {"Content-Type": "text/plain"})
        finally:
            record.ended = time.monotonic()


# ----------------------------------------------------------------------------------------- loopback


@dataclass
class NodeServer:
    node: str
    server: _Server
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])


class Loopback:
    """Loopback WinRM endpoints, one per node, sharing one backend, fault table and recorder."""

    def __init__(
        self,
        backend: Backend,
        nodes: list[str],
        *,
        users: dict[str, str],
        auth: tuple[str, ...] = ("basic", "ntlm"),
        tls: ssl.SSLContext | None = None,
        max_envelope_size: int = 153_600,
        scripts_dir: Path = SCRIPTS_DIR,
        script_delay: float = 0.0,
        hang_seconds: float = 30.0,
        require_encryption: bool = True,
    ) -> None:
        self.backend = backend
        self.users = {u.lower(): p for u, p in users.items()}
        self.auth = auth
        self.tls = tls
        self.max_envelope_size = max_envelope_size
        self.scripts = ScriptIndex(scripts_dir)
        self.script_delay = script_delay
        self.hang_seconds = hang_seconds
        self.require_encryption = require_encryption
        self.recorder = Recorder()
        self.faults: list[Fault] = []
        self._fault_lock = threading.Lock()
        self.stopping = threading.Event()
        self.servers: dict[str, NodeServer] = {}
        if "ntlm" in auth:
            for identity, password in users.items():
                _register_ntlm_user(identity, password)
        for node in nodes:
            self._start(node)

    def _start(self, node: str) -> None:
        server = _Server(("127.0.0.1", 0), _Handler)
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        server.service = WSManService(self, node)
        server.loopback = self
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"loopback-{node}", daemon=True
        )
        thread.start()
        self.servers[node] = NodeServer(node, server, thread)

    # -- addresses ------------------------------------------------------------------------------
    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    def port(self, node: str) -> int:
        return self.servers[node].port

    def resolver(self, node: str) -> tuple[str, int]:
        """For ``PsrpRemote(resolver=...)``: every node is 127.0.0.1 on its own port."""
        return "127.0.0.1", self.port(node)

    # -- faults ------------------------------------------------------------------------------------
    def inject(self, fault: Fault) -> Fault:
        with self._fault_lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, node: str, script: str | None) -> Fault | None:
        with self._fault_lock:
            for fault in self.faults:
                if fault.remaining > 0 and fault.node in (None, node) and fault.script == script:
                    if script is None and fault.kind not in ("drop_before", "hang", "http_503", "wsman_fault"):
                        continue
                    fault.remaining -= 1
                    return fault
        return None

    def transport_fault(self, node: str, script: str | None) -> None:
        fault = self.take_fault(node, script)
        if fault is not None:
            self.raise_transport(fault)

    @staticmethod
    def raise_transport(fault: Fault) -> None:
        if fault.kind == "drop_before":
            raise DropConnectionError()
        if fault.kind == "hang":
            raise NeverAnswerError()
        if fault.kind == "http_503":
            raise _HttpError(503, b"Service Unavailable")
        if fault.kind == "wsman_fault":
            raise _WSManFaultError(fault.code, fault.reason)

    # -- lifecycle -------------------------------------------------------------------------------
    def stop(self) -> None:
        self.stopping.set()
        for ns in self.servers.values():
            ns.server.shutdown()
            ns.server.server_close()
        for ns in self.servers.values():
            ns.thread.join(timeout=5)

    def __enter__(self) -> Loopback:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------------------------- odd sockets


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) and never answers a byte."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def closed_port() -> int:
    """A port nothing listens on: connecting is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port
