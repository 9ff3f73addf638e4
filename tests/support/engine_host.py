"""The SDK's own dynamic provider host (``pulumi/dynamic/__main__.py``), started as the engine starts it.

Two modes:

* ``subprocess``: ``python -u -m pulumi.dynamic`` with cwd = the project directory and
  ``PULUMI_PROJECT``/``PULUMI_CONFIG`` set, as the ``pulumi-resource-pulumi-python`` shim runs it for the
  engine (``pkg/resource/plugin/plugin.go``: the plugin's cwd is the project or ``main`` directory, so the
  provider modules are importable by reference). The port is the first line of its stdout; its stderr
  (where providers print their steps) is kept in a file.
* ``in-process``: the same servicer class, loaded from the SDK's module source without the trailing
  ``main()`` (which would block), served on a loopback port. Faster; the providers are the modules
  already imported by the test process. ``PULUMI_PROJECT`` is set for the life of the host, and stderr
  is teed so the host's output can be inspected as in the subprocess mode.

Every call goes through ``RecordingStub``, which keeps the raw request and response (or error details)
of each RPC, so a test can scan exactly what crossed the wire.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

import grpc
from pulumi.runtime import settings
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2_grpc

HostMode = Literal["in-process", "subprocess"]

__all__ = ["GrpcCall", "HostMode", "ProviderHost", "RecordingStub"]


@dataclass
class GrpcCall:
    """One RPC as it crossed the wire: serialized request, response or error, and the resource it was for."""

    method: str
    resource: str
    request: Any
    response: Any = None
    code: grpc.StatusCode | None = None
    details: str = ""

    def request_bytes(self) -> bytes:
        data: bytes = self.request.SerializeToString()
        return data

    def response_bytes(self) -> bytes:
        """The response as bytes on the wire, or the error's details when the call failed."""
        if self.response is None:
            return self.details.encode("utf-8")
        data: bytes = self.response.SerializeToString()
        return data


@dataclass
class RecordingStub:
    """Calls the host and records every RPC (``calls``); ``before`` runs first (tests watch the world)."""

    stub: Any
    calls: list[GrpcCall] = field(default_factory=list)
    before: Callable[[str, str], None] | None = None

    def call(self, method: str, request: Any, resource: str = "") -> Any:
        if self.before is not None and resource:
            self.before(method, resource)
        record = GrpcCall(method, resource, request)
        self.calls.append(record)
        try:
            record.response = getattr(self.stub, method)(request, timeout=300)
        except grpc.RpcError as exc:
            record.code = exc.code()
            record.details = exc.details() or ""
            raise
        return record.response


def _load_servicer_module() -> types.ModuleType:
    """The SDK host module without its unconditional trailing ``main()``."""
    spec = importlib.util.find_spec("pulumi.dynamic.__main__")
    assert spec is not None and spec.origin is not None
    source = Path(spec.origin).read_text(encoding="utf-8").rstrip()
    if not source.endswith("main()"):
        raise RuntimeError("the SDK's pulumi/dynamic/__main__.py no longer ends with main(): update the harness")
    module = types.ModuleType("pulumi_dynamic_host")
    module.__file__ = spec.origin
    exec(compile(source[: -len("main()")], spec.origin, "exec"), module.__dict__)  # noqa: S102 - the SDK's own code
    return module


class _QuietUnimplemented(logging.Filter):
    """The in-process server logs each UNIMPLEMENTED answer (Handshake, CheckConfig) as an error; the engine
    expects those answers, so they are not news. Every other servicer error still reaches the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "not implemented" not in record.getMessage().lower()


_QUIET = _QuietUnimplemented()


class _Tee(io.TextIOBase):
    """Writes to the real stderr and keeps a copy (the in-process host's stderr)."""

    def __init__(self, real: TextIO) -> None:
        self.real = real
        self.copy = io.StringIO()
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            self.copy.write(text)
        return self.real.write(text)

    def flush(self) -> None:
        self.real.flush()


class ProviderHost:
    """A running dynamic provider host; ``stub`` is a ``RecordingStub`` on it, ``stderr()`` its output so far."""

    def __init__(self, stub: RecordingStub, stderr: Callable[[], str], mode: HostMode) -> None:
        self.stub = stub
        self._stderr = stderr
        self.mode = mode

    def stderr(self) -> str:
        return self._stderr()

    @classmethod
    @contextlib.contextmanager
    def start(
        cls, mode: HostMode, *, project_dir: Path, project: str, workdir: Path, engine_address: str | None = None
    ) -> Iterator[ProviderHost]:
        """Start a host for one engine operation (the engine starts a fresh plugin per operation).

        ``engine_address``: as the engine does, pass its address as the plugin's last argument (a
        ``tests/support/engine_log.RecordingEngine``); in-process, ``sys.argv`` ends with it for the host's life."""
        if mode == "subprocess":
            with cls._subprocess(
                project_dir=project_dir, project=project, workdir=workdir, engine_address=engine_address
            ) as host:
                yield host
        else:
            saved_argv = list(sys.argv)
            if engine_address is not None:
                sys.argv = [*sys.argv, engine_address]
            try:
                with cls._in_process(project=project) as host:
                    yield host
            finally:
                sys.argv = saved_argv

    @classmethod
    @contextlib.contextmanager
    def _in_process(cls, *, project: str) -> Iterator[ProviderHost]:
        module = _load_servicer_module()
        saved_settings = settings.SETTINGS
        saved_project = os.environ.get("PULUMI_PROJECT")
        os.environ["PULUMI_PROJECT"] = project  # get_provider() reads it at each call
        tee = _Tee(sys.stderr)
        sys.stderr = tee
        grpc_log = logging.getLogger("grpc._server")
        grpc_log.addFilter(_QUIET)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=_GRPC_CHANNEL_OPTIONS)
        provider_pb2_grpc.add_ResourceProviderServicer_to_server(module.DynamicResourceProviderServicer(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_GRPC_CHANNEL_OPTIONS)
        try:
            stub = RecordingStub(provider_pb2_grpc.ResourceProviderStub(channel))
            yield cls(stub, tee.copy.getvalue, "in-process")
        finally:
            channel.close()
            server.stop(None)
            sys.stderr = tee.real
            grpc_log.removeFilter(_QUIET)
            module._PROVIDER_CACHE.clear()
            # get_provider() reconfigures the SDK's global settings in the servicer threads: put them back
            settings.configure(saved_settings)
            if saved_project is None:
                os.environ.pop("PULUMI_PROJECT", None)
            else:
                os.environ["PULUMI_PROJECT"] = saved_project

    @classmethod
    @contextlib.contextmanager
    def _subprocess(
        cls, *, project_dir: Path, project: str, workdir: Path, engine_address: str | None = None
    ) -> Iterator[ProviderHost]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PULUMI_")}
        env.update(
            PULUMI_PROJECT=project,
            PULUMI_CONFIG="{}",  # the plugin's env carries only pulumi-python: keys (pkg/host/host.go)
            PULUMI_RUNTIME_VIRTUALENV="venv",
            PULUMI_RUNTIME_TOOLCHAIN="pip",
        )
        workdir.mkdir(parents=True, exist_ok=True)
        err_path = workdir / f"host-{time.monotonic_ns()}.stderr"
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-u", "-m", "pulumi.dynamic", *([engine_address] if engine_address else [])],
                cwd=project_dir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        try:
            port = _read_port(proc)
            channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_GRPC_CHANNEL_OPTIONS)
            try:
                stub = RecordingStub(provider_pb2_grpc.ResourceProviderStub(channel))
                yield cls(stub, lambda: err_path.read_text(encoding="utf-8", errors="replace"), "subprocess")
            finally:
                channel.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def _read_port(proc: subprocess.Popen[bytes]) -> int:
    """The first stdout line is the port (``main()`` in ``pulumi/dynamic/__main__.py``)."""
    assert proc.stdout is not None
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout=30)
    if not result or not result[0].strip().isdigit():
        proc.kill()
        raise RuntimeError(f"the dynamic provider host did not print its port (exit {proc.poll()})")
    return int(result[0])
