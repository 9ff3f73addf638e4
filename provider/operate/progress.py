"""Live progress on the resource's status line while a provider works (issue 18, point 5).

Why a channel of our own: the SDK's dynamic provider host drops the engine address it is started with (the
engine passes it as the plugin's last argument, ``sys.argv[-1]``), so ``pulumi.log`` inside a provider only
reaches stderr, and the CLI shows a resource's steps only after it completes. The engine's ``Log`` RPC with the
resource's URN and ``ephemeral=True`` puts a message on that resource's status line while it runs and leaves it
out of the final diagnostics (``sdk/proto/engine.proto``: "ephemeral: whether this is a status message").

The URN is on every gRPC request, but the SDK's ``ResourceProvider`` API does not pass it on, so it is rebuilt
from the quiet input ``essoRun`` the component adds (``RunContext``): the stack, the project, the parent's type
chain, the resource's type and name, in the engine's format (``resource.NewURN`` in pulumi/pulumi
``sdk/go/common/resource/urn.go``: ``urn:pulumi:<stack>::<project>::<parent type chain>$<type>::<name>``).
The stderr lines ``Steps.add`` prints stay as the fallback: without an address, or when the engine does not
answer, nothing fails.
"""

from __future__ import annotations

import re
import sys
import threading
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

QUIET_KEY = "essoRun"  # the input every ESSO resource carries for progress and the record; never diffed

_ADDRESS = re.compile(r"^(?:127\.0\.0\.1|localhost|\[::1\]|[A-Za-z0-9.-]+):\d{1,5}$")


class RunContext(BaseModel):
    """Where a resource sits in the stack: enough to rebuild its URN and name its log file."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    stack: str
    project: str
    parent_type: str  # the parent's type chain ("esso:index:ClusteredMasterSecret"); "" for a root resource
    type: str  # the resource's own type ("pulumi-python:dynamic/esso:SsoSystem")
    name: str

    @property
    def urn(self) -> str:
        chain = f"{self.parent_type}${self.type}" if self.parent_type else self.type
        return f"urn:pulumi:{self.stack}::{self.project}::{chain}::{self.name}"

    @classmethod
    def from_props(cls, props: Any) -> RunContext | None:
        """The context a resource's inputs or state carry; None when absent or not one (older state)."""
        raw = props.get(QUIET_KEY) if isinstance(props, dict) else None
        if not isinstance(raw, dict):
            return None
        try:
            return cls.model_validate(raw)
        except ValueError:
            return None


def engine_address(argv: list[str] | None = None) -> str | None:
    """The engine's address: the plugin's last argument when it looks like host:port (the SDK host ignores it)."""
    args = sys.argv if argv is None else argv
    last = args[-1] if len(args) > 1 else ""
    return last if _ADDRESS.match(last) else None


class EngineLog:
    """A channel to the engine's ``Log`` service; each message goes on one resource's status line."""

    _lock = threading.Lock()
    _channels: dict[str, Any] = {}

    def __init__(self, address: str, urn: str) -> None:
        self.address = address
        self.urn = urn
        self.failed = False

    def _stub(self) -> Any:
        import grpc
        from pulumi.runtime.proto import engine_pb2_grpc

        with self._lock:
            channel = self._channels.get(self.address)
            if channel is None:
                channel = self._channels[self.address] = grpc.insecure_channel(self.address)
        return engine_pb2_grpc.EngineStub(channel)

    def status(self, message: str) -> None:
        """Show ``message`` on the resource's status line (ephemeral); a failing engine turns this off."""
        if self.failed:
            return
        try:
            from pulumi.runtime.proto import engine_pb2

            request = engine_pb2.LogRequest(severity=engine_pb2.INFO, message=message, urn=self.urn, ephemeral=True)
            self._stub().Log(request, timeout=5)
        except Exception:
            self.failed = True  # stderr keeps every line (Steps.add); progress is never worth a failed step


def live_log(context: RunContext | None, argv: list[str] | None = None) -> EngineLog | None:
    """An ``EngineLog`` for the resource, or None when the URN or the engine's address is unknown."""
    address = engine_address(argv)
    if context is None or address is None:
        return None
    return EngineLog(address, context.urn)
