"""The engine's ``Engine`` gRPC service as the harness serves it: it records every ``Log`` request.

Why: the real engine passes its own address as the last argument of every provider plugin, and a provider can
call ``Log`` there with a resource's URN and ``ephemeral=True`` to show a status line on that resource while
it runs (``provider/operate/progress.py``). This service stands in for the engine's, on a loopback port, so a
test can read exactly what the provider sent: ``ProviderHost.start(..., engine_address=service.address)``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import engine_pb2_grpc

__all__ = ["LogRecord", "RecordingEngine"]


@dataclass(frozen=True)
class LogRecord:
    severity: int
    message: str
    urn: str
    ephemeral: bool


@dataclass
class RecordingEngine(engine_pb2_grpc.EngineServicer):
    """Records each ``Log`` call; the other Engine RPCs are not used by providers and stay unimplemented."""

    address: str = ""
    records: list[LogRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def Log(self, request: Any, context: Any) -> Any:
        with self.lock:
            self.records.append(LogRecord(request.severity, request.message, request.urn, request.ephemeral))
        return empty_pb2.Empty()

    def for_urn(self, urn: str) -> list[str]:
        with self.lock:
            return [r.message for r in self.records if r.urn == urn]

    @classmethod
    @contextlib.contextmanager
    def serve(cls) -> Iterator[RecordingEngine]:
        service = cls()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        engine_pb2_grpc.add_EngineServicer_to_server(service, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        service.address = f"127.0.0.1:{port}"
        try:
            yield service
        finally:
            server.stop(None)
