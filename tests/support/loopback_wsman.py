"""The WS-Management layer of one loopback node: Create / Command / Send / Receive / Signal / Delete / Get.

Why it answers as Windows does (recordings in tests/data/winrm/): an idle Receive blocks for the request's
OperationTimeout and then faults w:TimedOut, for as long as the script runs; a Receive names an unknown
CommandId with w:InvalidSelectors; while a command runs no CommandState is sent, and Done carries ExitCode 0;
a request over MaxEnvelopeSize is answered HTTP 413 with no body; a ReceiveResponse holds one ``rsp:Stream``
per PSRP fragment and stays inside the client's envelope.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import TYPE_CHECKING

import psrpcore
from psrpcore.types import PSInvocationState

from tests.support.loopback_pipeline import Shell, run_pipeline
from tests.support.loopback_recorder import Exchange
from tests.support.loopback_wire import (
    FAULT_ACCESS_DENIED_HRESULT,
    FAULT_INVALID_RESOURCE,
    FAULT_OPERATION_TIMEOUT,
    FAULT_SHELL_NOT_FOUND,
    FAULT_UNSUPPORTED,
    NS,
    SHELL,
    STATE_DONE,
    TIMED_OUT_TEXT,
    TRANSFER,
    XML_LANG,
    HttpError,
    WSManFaultError,
    duration,
    fault_envelope,
    q,
    xml_bytes,
)

if TYPE_CHECKING:
    from tests.support.loopback import Loopback

_RECEIVE_SKELETON = 2048  # bytes of a ReceiveResponse envelope around its streams
_STREAM_OVERHEAD = 160  # one <rsp:Stream Name="stdout" CommandId="..."> element around its base64 text

Action = Callable[[Shell, ET.Element, ET.Element, str, Exchange], bytes]


class WSManService:
    """The SOAP + PSRP layer of one node."""

    def __init__(self, loopback: Loopback, node: str) -> None:
        self.loopback = loopback
        self.node = node
        self.shells: dict[str, Shell] = {}
        self.lock = threading.Lock()

    # -- SOAP helpers ---------------------------------------------------------------------------
    @staticmethod
    def _envelope(action: str, relates_to: str) -> tuple[ET.Element, ET.Element]:
        env = ET.Element(q("s", "Envelope"), {XML_LANG: "en-US"})
        hdr = ET.SubElement(env, q("s", "Header"))
        ET.SubElement(hdr, q("wsa", "Action")).text = action
        ET.SubElement(hdr, q("wsa", "MessageID")).text = f"uuid:{str(uuid.uuid4()).upper()}"
        ET.SubElement(hdr, q("wsa", "To")).text = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
        ET.SubElement(hdr, q("wsa", "RelatesTo")).text = relates_to
        return env, ET.SubElement(env, q("s", "Body"))

    def fault(self, relates_to: str, code: int, reason: str, subcode: str | None = None) -> bytes:
        return fault_envelope(relates_to, code, reason, self.node, subcode)

    # -- dispatch ----------------------------------------------------------------------------------
    def handle(self, soap: bytes, identity: str, record: Exchange) -> tuple[int, bytes]:
        req = ET.fromstring(soap)  # noqa: S314 - the test client's own requests, on 127.0.0.1
        action = req.findtext("s:Header/wsa:Action", namespaces=NS) or ""
        msg_id = req.findtext("s:Header/wsa:MessageID", namespaces=NS) or ""
        record.action = action.rsplit("/", 1)[-1]
        record.max_envelope = int(req.findtext("s:Header/wsman:MaxEnvelopeSize", namespaces=NS) or 0)
        if len(soap) > self.loopback.max_envelope_size:
            raise HttpError(413)  # the WinRM service refuses it before reading it: no SOAP fault
        try:
            self.loopback.transport_fault(self.node, None)
            body = req.find("s:Body", NS)
            if body is None:
                raise WSManFaultError(FAULT_UNSUPPORTED, "No SOAP body")
            if action == TRANSFER + "Create":
                return 200, self._create(req, body, msg_id, identity, record)
            shell_id = ""
            for sel in req.findall("s:Header/wsman:SelectorSet/wsman:Selector", NS):
                if sel.attrib.get("Name") == "ShellId":
                    shell_id = (sel.text or "").upper()
            with self.lock:
                shell = self.shells.get(shell_id)
            if shell is None:
                raise WSManFaultError(
                    FAULT_SHELL_NOT_FOUND,
                    "The request for the Windows Remote Shell with ShellId "
                    f"{shell_id} failed because the shell was not found on the server. Possible causes are: the "
                    "specified ShellId is incorrect or the shell no longer exists on the server. Provide the correct "
                    "ShellId or create a new shell and retry the operation.",
                )
            if shell.identity.lower() != identity.lower():
                raise WSManFaultError(FAULT_ACCESS_DENIED_HRESULT, "Access is denied.")
            handlers: dict[str, Action] = {
                SHELL + "Command": self._command,
                SHELL + "Send": self._send,
                SHELL + "Receive": self._receive,
                SHELL + "Signal": self._signal,
                TRANSFER + "Delete": self._delete,
                TRANSFER + "Get": self._get,
            }
            fn = handlers.get(action)
            if fn is None:
                raise WSManFaultError(FAULT_UNSUPPORTED, f"Unsupported action {action}")
            with shell.lock:
                return 200, fn(shell, req, body, msg_id, record)
        except WSManFaultError as f:
            return 500, self.fault(msg_id, f.code, f.reason, f.subcode)

    def _feed(self, shell: Shell, data: bytes, command_id: str | None, record: Exchange) -> None:
        record.psrp_in += data
        pid = uuid.UUID(command_id) if command_id else None
        shell.pool.receive_data(psrpcore.PSRPPayload(data, psrpcore.StreamType.default, pid))
        while True:
            event = shell.pool.next_event()
            if event is None:
                break
            if isinstance(event, psrpcore.CreatePipelineEvent):
                run_pipeline(self.loopback, self.node, shell, event, record)
        shell.flush()

    # -- actions -----------------------------------------------------------------------------------
    def _create(self, req: ET.Element, body: ET.Element, msg_id: str, identity: str, record: Exchange) -> bytes:
        shell_el = body.find("rsp:Shell", NS)
        resource_uri = req.findtext("s:Header/wsman:ResourceURI", namespaces=NS) or ""
        if shell_el is None or not resource_uri.startswith("http://schemas.microsoft.com/powershell/"):
            raise WSManFaultError(FAULT_INVALID_RESOURCE, "Only PowerShell shells are supported by the loopback.")
        shell_id = (shell_el.attrib.get("ShellId") or str(uuid.uuid4())).upper()
        shell = Shell(shell_id, self.node, identity)
        self.loopback.backend.logon(self.node, identity)  # a new shell is a new logon session
        with self.lock:
            self.shells[shell_id] = shell
        creation = shell_el.find("pwsh:creationXml", NS)
        with shell.lock:
            self._feed(shell, base64.b64decode(creation.text or "") if creation is not None else b"", None, record)
        env, rbody = self._envelope(TRANSFER + "CreateResponse", msg_id)
        rc = ET.SubElement(rbody, q("wst", "ResourceCreated"))
        ET.SubElement(rc, q("wsa", "Address")).text = f"http://{self.node}/wsman"
        rp = ET.SubElement(rc, q("wsa", "ReferenceParameters"))
        ET.SubElement(rp, q("wsman", "ResourceURI")).text = resource_uri
        ss = ET.SubElement(rp, q("wsman", "SelectorSet"))
        ET.SubElement(ss, q("wsman", "Selector"), Name="ShellId").text = shell_id
        sh = ET.SubElement(rbody, q("rsp", "Shell"))
        ET.SubElement(sh, q("rsp", "ShellId")).text = shell_id
        ET.SubElement(sh, q("rsp", "ResourceUri")).text = resource_uri
        ET.SubElement(sh, q("rsp", "Owner")).text = identity
        ET.SubElement(sh, q("rsp", "InputStreams")).text = "stdin pr"
        ET.SubElement(sh, q("rsp", "OutputStreams")).text = "stdout"
        return xml_bytes(env)

    def _command(self, shell: Shell, req: ET.Element, body: ET.Element, msg_id: str, record: Exchange) -> bytes:
        cl = body.find("rsp:CommandLine", NS)
        if cl is None:
            raise WSManFaultError(FAULT_UNSUPPORTED, "No CommandLine")
        cmd_id = (cl.attrib.get("CommandId") or str(uuid.uuid4())).upper()
        psrpcore.ServerPipeline(shell.pool, uuid.UUID(cmd_id))
        shell.out[cmd_id] = []
        shell.done.discard(cmd_id)
        self._feed(shell, base64.b64decode(cl.findtext("rsp:Arguments", namespaces=NS) or ""), cmd_id, record)
        env, rbody = self._envelope(SHELL + "CommandResponse", msg_id)
        ET.SubElement(ET.SubElement(rbody, q("rsp", "CommandResponse")), q("rsp", "CommandId")).text = cmd_id
        return xml_bytes(env)

    def _send(self, shell: Shell, req: ET.Element, body: ET.Element, msg_id: str, record: Exchange) -> bytes:
        for stream in body.findall("rsp:Send/rsp:Stream", NS):
            cmd_id = stream.attrib.get("CommandId")
            self._feed(shell, base64.b64decode(stream.text or ""), cmd_id.upper() if cmd_id else None, record)
        env, rbody = self._envelope(SHELL + "SendResponse", msg_id)
        ET.SubElement(rbody, q("rsp", "SendResponse"))
        return xml_bytes(env)

    def _receive(self, shell: Shell, req: ET.Element, body: ET.Element, msg_id: str, record: Exchange) -> bytes:
        ds = body.find("rsp:Receive/rsp:DesiredStream", NS)
        cmd_id = ds.attrib.get("CommandId") if ds is not None else None
        key = cmd_id.upper() if cmd_id else None
        if key is not None:
            if key not in shell.out:
                raise WSManFaultError(
                    FAULT_SHELL_NOT_FOUND,
                    "The Windows Remote Shell received a request to perform an operation on a command identifier "
                    "that does not exist. Either the command has completed execution or the client specified an "
                    "invalid command identifier.",
                )
            record.script = shell.scripts.get(key)
        timeout = duration(req.findtext("s:Header/wsman:OperationTimeout", namespaces=NS), 60.0)
        queue = shell.out.setdefault(key, [])
        left = shell.ready(key) if key is not None else 0.0
        if not queue and key not in shell.done:
            # WinRM holds an idle Receive for the OperationTimeout, then faults w:TimedOut; the script runs on.
            self.loopback.stopping.wait(min(timeout, left) if left > 0 else timeout)
            if key is not None:
                shell.ready(key)
            if not queue and key not in shell.done:
                raise WSManFaultError(FAULT_OPERATION_TIMEOUT, TIMED_OUT_TEXT)
        envelope = min(record.max_envelope or self.loopback.max_envelope_size, self.loopback.max_envelope_size)
        budget = envelope - _RECEIVE_SKELETON
        streams: list[bytes] = []
        used = 0
        while queue and (not streams or used + _STREAM_OVERHEAD + len(queue[0]) * 4 // 3 + 4 <= budget):
            fragment = queue.pop(0)
            streams.append(fragment)
            used += _STREAM_OVERHEAD + len(fragment) * 4 // 3 + 4
        finished = key is not None and key in shell.done and not queue
        record.psrp_out += b"".join(streams)
        env, rbody = self._envelope(SHELL + "ReceiveResponse", msg_id)
        rr = ET.SubElement(rbody, q("rsp", "ReceiveResponse"))
        attrs = {"Name": "stdout"}
        if key:
            attrs["CommandId"] = key
        for fragment in streams:
            ET.SubElement(rr, q("rsp", "Stream"), attrs).text = base64.b64encode(fragment).decode()
        if key is not None and finished:
            state = ET.SubElement(rr, q("rsp", "CommandState"), CommandId=key, State=STATE_DONE)
            ET.SubElement(state, q("rsp", "ExitCode")).text = "0"
            op = shell.operations.get(key)
            if op is not None:
                op.ended = time.monotonic()
        return xml_bytes(env)

    def _signal(self, shell: Shell, req: ET.Element, body: ET.Element, msg_id: str, record: Exchange) -> bytes:
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
        ET.SubElement(rbody, q("rsp", "SignalResponse"))
        return xml_bytes(env)

    def _get(self, shell: Shell, req: ET.Element, body: ET.Element, msg_id: str, record: Exchange) -> bytes:
        env, rbody = self._envelope(TRANSFER + "GetResponse", msg_id)
        sh = ET.SubElement(rbody, q("rsp", "Shell"))
        ET.SubElement(sh, q("rsp", "ShellId")).text = shell.id
        ET.SubElement(sh, q("rsp", "State")).text = "Connected"
        return xml_bytes(env)

    def _delete(self, shell: Shell, req: ET.Element, body: ET.Element, msg_id: str, record: Exchange) -> bytes:
        with self.lock:
            self.shells.pop(shell.id, None)
        env, _ = self._envelope(TRANSFER + "DeleteResponse", msg_id)
        return xml_bytes(env)
