"""A loopback WinRM endpoint: WS-Management + PSRP on 127.0.0.1, serving contract scripts from a backend.

Why: the real pypsrp client (unmodified, over a real socket) must be proven without Windows. Each node gets
its own HTTP or HTTPS listener; a request goes through the layers a Windows node has, one module each:

* ``loopback_http``: Basic (local accounts only) or NTLM (pyspnego acceptor; WinRM message encryption over
  HTTP with pypsrp's own ``WinRMEncryption``), keep-alive because NTLM authenticates the connection.
* ``loopback_wsman``: Create / Command / Send / Receive / Signal / Delete / Get; HTTP 413 for a request over
  ``MaxEnvelopeSize``; Receive responses inside the client's envelope, one ``rsp:Stream`` per fragment; an
  idle Receive held for the OperationTimeout and then faulted w:TimedOut, as WinRM does.
* ``loopback_pipeline``: psrpcore's ``ServerRunspacePool`` / ``ServerPipeline`` (key exchange included) with
  PowerShell's habits (BOM before CLIXML, 32 KiB fragments, a first-use progress record, a throw's record).
  A pipeline's script is identified by its exact text (``provider.remote.script_source.assembled``),
  SecureString parameters are decrypted, and the backend runs it. A backend error whose message starts with
  ``ESSO-NNN`` becomes a terminating error with that message, as the scripts throw.
* ``loopback_wire``: the SOAP vocabulary and Windows-shaped faults (subcodes, xml:lang); injected faults.
* ``loopback_backend``: ``FakeBackend``, or ``SimulatorBackend`` (the simulator's own call path).
* ``loopback_recorder``: every request and response, on the wire, after decryption and as PSRP payloads
  (what a secret scan needs), with timestamps per node and pipeline (what overlap detection needs).

A new shell is a new logon session: the backend's ``logon`` is called for (node, identity) on Create.
It cannot do Kerberos, CredSSP or certificate authentication, WinRS (cmd) shells, disconnect/reconnect,
or host calls. Where it differs from Windows on purpose, the replay tests (tests/transport/test_replay.py)
serve recorded real responses instead.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from provider.remote.script_source import SCRIPTS_DIR
from tests.support.loopback_backend import Backend, FakeBackend, ScriptIndex, SimulatorBackend
from tests.support.loopback_http import Handler, Server, register_ntlm_user
from tests.support.loopback_recorder import Exchange, Operation, Recorder
from tests.support.loopback_wire import (
    FAULT_ACCESS_DENIED,
    FAULT_ACCESS_DENIED_HRESULT,
    FAULT_OPERATION_TIMEOUT,
    FAULT_SHELL_NOT_FOUND,
    FAULT_UNSUPPORTED,
    DropConnectionError,
    Fault,
    FaultKind,
    HttpError,
    NeverAnswerError,
    WSManFaultError,
    access_denied,
)
from tests.support.loopback_wsman import WSManService

__all__ = [
    "FAULT_ACCESS_DENIED",
    "FAULT_ACCESS_DENIED_HRESULT",
    "FAULT_OPERATION_TIMEOUT",
    "FAULT_SHELL_NOT_FOUND",
    "FAULT_UNSUPPORTED",
    "Backend",
    "DropConnectionError",
    "Exchange",
    "FakeBackend",
    "Fault",
    "FaultKind",
    "Loopback",
    "NeverAnswerError",
    "NodeServer",
    "Operation",
    "Recorder",
    "ScriptIndex",
    "SimulatorBackend",
    "access_denied",
    "closed_port",
    "silent_port",
]


# ----------------------------------------------------------------------------------------- loopback


@dataclass
class NodeServer:
    node: str
    server: Server
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
                register_ntlm_user(identity, password)
        for node in nodes:
            self._start(node)

    def _start(self, node: str) -> None:
        server = Server(("127.0.0.1", 0), Handler)
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
            raise HttpError(503, b"Service Unavailable")
        if fault.kind == "wsman_fault":
            raise WSManFaultError(fault.code, fault.reason, fault.subcode)

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
