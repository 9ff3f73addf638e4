"""A replay harness: recorded responses of real Windows WinRM servers served to the unmodified pypsrp client.

Why: the loopback endpoint is this project's own; the recordings (tests/data/winrm/, from pypsrp's test suite,
MIT, LICENSE-pypsrp beside them: Server 2016, 2019 and a 2025 preview) are what Windows really sends. A
``ReplayServer`` listens on 127.0.0.1 over HTTPS (Basic, a local account), answers each request of
``PsrpRemote`` with the next step of a scenario and rewrites only the ids that tie a response to its request
(RelatesTo, ShellId, CommandId). A step built from a recording with a stated edit is ``derived`` and says so.

The PSRP helpers decode a response's ``rsp:Stream`` fragments into messages (MS-PSRP 2.2.4, 2.2.1) and build
new ones, for derived steps: a contract result in PowerShell's CLIXML between the real first-use progress
record and the real PIPELINE_STATE, an edited error text, or an ENCRYPTED_SESSION_KEY for the client's key.
"""

from __future__ import annotations

import base64
import http.server
import os
import re
import struct
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parents[1] / "data" / "winrm"
RSP = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": RSP,
}
BOM = b"\xef\xbb\xbf"

SESSION_CAPABILITY = 0x00010002
ENCRYPTED_SESSION_KEY = 0x00010006
PUBLIC_KEY = 0x00010005
PIPELINE_OUTPUT = 0x00041004
ERROR_RECORD = 0x00041005
PIPELINE_STATE = 0x00041006
PROGRESS_RECORD = 0x00041010


# ------------------------------------------------------------------------------------ recordings


@cache
def recording(name: str) -> tuple[dict[str, Any], ...]:
    """The exchanges of ``tests/data/winrm/<name>.yml``: each has ``request`` and ``response`` (SOAP text)."""
    document = yaml.safe_load((DATA / f"{name}.yml").read_text(encoding="utf-8"))
    return tuple(document["messages"])


def response(name: str, index: int) -> str:
    return str(recording(name)[index]["response"])


def action_of(soap: str) -> str:
    match = re.search(r"<(?:\w+:)?Action[^>]*>([^<]+)</", soap)
    return match.group(1).rsplit("/", 1)[-1] if match else ""


# ---------------------------------------------------------------------------------- PSRP messages


@dataclass
class Message:
    """One PSRP message (MS-PSRP 2.2.1): destination, type, runspace pool id, pipeline id, data (CLIXML)."""

    destination: int
    kind: int
    rpid: uuid.UUID
    pid: uuid.UUID
    data: bytes

    def pack(self) -> bytes:
        head = struct.pack("<iI", self.destination, self.kind) + self.rpid.bytes_le + self.pid.bytes_le
        return head + self.data

    @classmethod
    def unpack(cls, raw: bytes) -> Message:
        destination, kind = struct.unpack("<iI", raw[:8])
        return cls(destination, kind, uuid.UUID(bytes_le=raw[8:24]), uuid.UUID(bytes_le=raw[24:40]), raw[40:])


def messages_of(fragments: list[bytes]) -> list[Message]:
    """Reassemble PSRP fragments (object id, fragment id, start/end flags, length, data) into messages."""
    partial: dict[int, bytes] = {}
    out: list[Message] = []
    for payload in fragments:
        at = 0
        while at < len(payload):
            object_id, _fid, flags, length = struct.unpack(">QQBI", payload[at : at + 21])
            partial[object_id] = partial.get(object_id, b"") + payload[at + 21 : at + 21 + length]
            at += 21 + length
            if flags & 0x2:
                out.append(Message.unpack(partial.pop(object_id)))
    return out


def fragments_of(messages: list[Message], *, first_object_id: int = 100, size: int = 32_768) -> list[bytes]:
    """Messages -> PSRP fragments of at most ``size`` bytes each (Windows: 32 KiB), one per rsp:Stream."""
    out: list[bytes] = []
    for n, message in enumerate(messages):
        raw = message.pack()
        chunks = [raw[i : i + size - 21] for i in range(0, len(raw), size - 21)] or [b""]
        for fid, chunk in enumerate(chunks):
            flags = (0x1 if fid == 0 else 0) | (0x2 if fid == len(chunks) - 1 else 0)
            out.append(struct.pack(">QQBI", first_object_id + n, fid, flags, len(chunk)) + chunk)
    return out


def streams_of(soap: str) -> list[bytes]:
    """The decoded ``rsp:Stream`` texts of a ReceiveResponse (or a Send request)."""
    body = ET.fromstring(soap)  # noqa: S314 - recorded or client-sent test data
    return [base64.b64decode(s.text or "") for s in body.iter(f"{{{RSP}}}Stream")]


def receive_response(
    template: str, fragments: list[bytes], *, command_id: str | None, done: bool, per_receive: int | None = None
) -> list[str]:
    """ReceiveResponses in the shape of a recorded one (``template``), carrying ``fragments``, one per Stream.

    ``per_receive`` splits them over several responses (Windows fills a response up to the envelope); only the
    last carries CommandState Done (with ExitCode 0) when ``done``."""
    head = template[: template.index("<s:Body>")]
    size = per_receive or max(1, len(fragments))
    groups = [fragments[i : i + size] for i in range(0, len(fragments), size)] or [[]]
    out = []
    for n, group in enumerate(groups):
        attr = f' CommandId="{command_id}"' if command_id else ""
        streams = "".join(f'<rsp:Stream Name="stdout"{attr}>{base64.b64encode(f).decode()}</rsp:Stream>' for f in group)
        state = ""
        if done and n == len(groups) - 1 and command_id:
            state = (
                f'<rsp:CommandState CommandId="{command_id}" State="{RSP}/CommandState/Done">'
                "<rsp:ExitCode>0</rsp:ExitCode></rsp:CommandState>"
            )
        body = f"<s:Body><rsp:ReceiveResponse>{streams}{state}</rsp:ReceiveResponse></s:Body></s:Envelope>"
        out.append(head + body)
    return out


def command_id_of(soap: str) -> str | None:
    match = re.search(r'CommandId="([0-9A-Fa-f-]{36})"', soap)
    return match.group(1).upper() if match else None


def shell_id_of(soap: str) -> str | None:
    match = re.search(r'<(?:\w+:)?Selector Name="ShellId">([0-9A-Fa-f-]{36})<', soap) or re.search(
        r'<(?:\w+:)?Shell ShellId="([0-9A-Fa-f-]{36})"', soap
    )
    if match is None:
        match = re.search(r"<(?:\w+:)?ShellId>([0-9A-Fa-f-]{36})<", soap)
    return match.group(1).upper() if match else None


def message_id_of(soap: str) -> str:
    match = re.search(r"<(?:\w+:)?MessageID>([^<]+)<", soap)
    return match.group(1) if match else ""


def relates_to_of(soap: str) -> str:
    match = re.search(r"<(?:\w+:)?RelatesTo>([^<]+)<", soap)
    return match.group(1) if match else ""


# ------------------------------------------------------------------------------------------ steps


@dataclass
class Step:
    """One request the client is expected to send, and the answer: a recorded response, or a derived one.

    ``source`` names the recording and exchange (``test_x[4]``); a derived step says what was changed."""

    action: str  # Create, Receive, Command, Send, Signal, Delete
    body: str = ""
    source: str = ""
    status: int = 200
    derived: str | None = None  # the stated edit, when the response is not the recording's own
    build: Callable[[str, ReplayServer], str] | None = None  # a response that needs the request (key exchange)
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a real w:TimedOut comes after the OperationTimeout)


def recorded(name: str, index: int, *, times: int = 1) -> Step:
    """The recorded response of exchange ``index`` of ``name``, unchanged (the ids aside)."""
    exchange = recording(name)[index]
    status = int((exchange.get("transport_error") or {}).get("code", 200))
    if "<s:Fault>" in str(exchange["response"]) and status == 200:
        status = 500  # a WS-Man fault travels with HTTP 500
    return Step(action_of(str(exchange["request"])), str(exchange["response"]), f"{name}[{index}]", status, times=times)


def derived(name: str, index: int, edit: str, change: Callable[[str], str], *, status: int | None = None) -> Step:
    """A recorded response with one stated edit."""
    base = recorded(name, index)
    return Step(base.action, change(base.body), base.source, status or base.status, derived=edit)


def edit_messages(name: str, index: int, edit: str, change: Callable[[Message], Message]) -> Step:
    """A recorded ReceiveResponse whose PSRP messages are decoded, changed and fragmented again (derived)."""
    template = response(name, index)
    messages = [change(m) for m in messages_of(streams_of(template))]
    body = receive_response(template, fragments_of(messages), command_id=command_id_of(template), done=True)[0]
    return Step("Receive", body, f"{name}[{index}]", derived=edit)


def session_open() -> list[Step]:
    """Opening a runspace pool on Server 2016: Create, then the two Receives Windows answers it with."""
    return [recorded("test_psrp_open_runspace", i) for i in (0, 1, 2)]


def signal() -> Step:
    return recorded("test_psrp_multiple_invocations", 5)  # a 2025-preview SignalResponse


def delete() -> Step:
    return recorded("test_psrp_open_runspace", 3)


def pipeline_result(result: dict[str, Any], *, per_receive: int | None = None) -> list[Step]:
    """Receives carrying a contract's result hashtable in PowerShell's CLIXML (BOM, 32 KiB fragments), between
    the real first-use PROGRESS_RECORD and the real PIPELINE_STATE Completed of test_psrp_error_failed's pipeline
    neighbours (test_psrp_clear_commands[4], Server 2016)."""
    from psrpcore.types import serialize

    template = response("test_psrp_clear_commands", 4)
    real = messages_of(streams_of(template))
    progress = next(m for m in real if m.kind == PROGRESS_RECORD)
    state = next(m for m in real if m.kind == PIPELINE_STATE)
    clixml = BOM + ET.tostring(serialize(result, None), encoding="utf-8")  # type: ignore[arg-type]  # no SecureString
    output = Message(1, PIPELINE_OUTPUT, progress.rpid, progress.pid, clixml)
    fragments = fragments_of([progress, output, state])
    bodies = receive_response(
        template, fragments, command_id=command_id_of(template), done=True, per_receive=per_receive
    )
    edit = "the script's output replaced by a contract result (PowerShell 5.1 CLIXML, BOM, 32 KiB fragments)"
    return [Step("Receive", body, "test_psrp_clear_commands[4]", derived=edit) for body in bodies]


def key_exchange() -> list[Step]:
    """Send PUBLIC_KEY -> the real SendResponse; Receive -> an ENCRYPTED_SESSION_KEY in the real format (null
    RPID, BOM) built for the client's own RSA key: a recorded one is encrypted to another client's key."""

    def answer(request: str, server: ReplayServer) -> str:
        from psrpcore._crypto import encrypt_session_key

        public = next(m for m in messages_of(streams_of(request)) if m.kind == PUBLIC_KEY)
        found = re.search(rb'<S N="PublicKey">([^<]+)</S>', public.data)
        if found is None:
            raise AssertionError("the client's PUBLIC_KEY message has no PublicKey")
        blob = base64.b64decode(found.group(1))
        encrypted = base64.b64encode(encrypt_session_key(blob, server.session_key)).decode()
        data = BOM + f'<Obj RefId="0"><MS><S N="EncryptedSessionKey">{encrypted}</S></MS></Obj>'.encode()
        nil = uuid.UUID(int=0)
        message = Message(1, ENCRYPTED_SESSION_KEY, nil, nil, data)
        template = response("test_psrp_multiple_commands", 4)
        return receive_response(template, fragments_of([message]), command_id=None, done=False)[0]

    send = recorded("test_psrp_multiple_commands", 3)
    edit = "ENCRYPTED_SESSION_KEY encrypted to this client's public key (the recorded one is another client's)"
    key = Step("Receive", "", "test_psrp_multiple_commands[4]", derived=edit)
    key.build = lambda request, server: server.pending_key_answer
    send.build = lambda request, server: server.remember_key(request, answer)
    return [send, key]


# ----------------------------------------------------------------------------------------- server


class ReplayServer:
    """HTTPS on 127.0.0.1: answers each request with the next step; rewrites RelatesTo, ShellId and CommandId."""

    USER = ".\\replay"  # Basic takes a local account

    def __init__(self, steps: list[Step], tls: Any, password: str) -> None:
        self.steps = list(steps)
        self.password = password
        self.served: list[Step] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.shell_id = ""
        self.session_key = os.urandom(32)
        self.pending_key_answer = ""
        self.lock = threading.Lock()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ReplayHandler)
        server.daemon_threads = True
        server.socket = tls.server_context().wrap_socket(server.socket, server_side=True)
        server.replay = self  # type: ignore[attr-defined]
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def resolver(self, node: str) -> tuple[str, int]:
        return "127.0.0.1", self.port

    def remember_key(self, request: str, answer: Callable[[str, ReplayServer], str]) -> str:
        self.pending_key_answer = answer(request, self)
        return response("test_psrp_multiple_commands", 3)

    def secure_strings(self) -> list[str]:
        """Every ``<SS>`` the client sent, decrypted with the session key this server handed out."""
        from psrpcore._crypto import PSRemotingCrypto

        crypto = PSRemotingCrypto()
        crypto.register_key(self.session_key)
        found = []
        for request in self.requests:
            if "CommandLine" not in request:
                continue
            args = re.search(r"<(?:\w+:)?Arguments>([^<]+)<", request)
            for message in messages_of([base64.b64decode(args.group(1))] if args else []):
                found += [crypto.decrypt(v.decode()) for v in re.findall(rb"<SS[^>]*>([^<]+)</SS>", message.data)]
        return found

    def answer(self, request: str) -> tuple[int, str, dict[str, str], float]:
        with self.lock:
            self.requests.append(request)
            action = action_of(request)
            if action == "Create":
                self.shell_id = shell_id_of(request) or ""
            step = self.steps[0] if self.steps else None
            if step is None or step.action != action:
                if action in ("Delete", "Signal"):  # closing what the scenario opened (teardown): always fine
                    step = delete() if action == "Delete" else signal()
                else:
                    self.errors.append(f"request {len(self.requests)}: {action}, expected {step and step.action}")
                    return 500, "", {}, 0.0
            else:
                step.times -= 1
                if step.times <= 0:
                    self.steps.pop(0)
            self.served.append(step)
            body = step.build(request, self) if step.build is not None else step.body
            return step.status, self._rewrite(body, request), step.headers, step.delay

    def _rewrite(self, body: str, request: str) -> str:
        """Only the ids that tie a response to its request: RelatesTo, ShellId and CommandId."""
        if not body:
            return body
        body = re.sub(
            r"(<(?:\w+:)?RelatesTo>)[^<]*(<)", lambda m: m.group(1) + message_id_of(request) + m.group(2), body
        )
        if self.shell_id:
            body = re.sub(
                r'(<(?:\w+:)?ShellId>|Name="ShellId">|ShellId=")[0-9A-Fa-f-]{36}',
                lambda m: m.group(1) + self.shell_id,
                body,
            )
        command = command_id_of(request)
        if command:
            body = re.sub(r'(CommandId="|<(?:\w+:)?CommandId>)[0-9A-Fa-f-]{36}', lambda m: m.group(1) + command, body)
        return body

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _ReplayHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        replay: ReplayServer = self.server.replay
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        expected = "Basic " + base64.b64encode(f"{ReplayServer.USER}:{replay.password}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self._reply(401, b"", {"WWW-Authenticate": 'Basic realm="WSMAN"'})
            return
        if not raw:
            self._reply(200, b"", {})
            return
        status, body, headers, delay = replay.answer(raw.decode("utf-8"))
        if delay:
            time.sleep(delay)
        content = {"Content-Type": "application/soap+xml;charset=UTF-8"} if body else {}
        self._reply(status, body.encode("utf-8"), {**content, **headers})

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
