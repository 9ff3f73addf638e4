"""The PSRP side of the loopback endpoint: one shell = one runspace pool; a pipeline runs a contract script.

Why it looks like Windows where the recordings of real servers show how (tests/data/winrm/):

* Each CLIXML message body starts with a UTF-8 BOM, as PowerShell's serializer writes it.
* Output is cut into PSRP fragments of at most 32 KiB, each sent in its own ``rsp:Stream``.
* A pipeline starts with the PROGRESS_RECORD "Preparing modules for first use." and sends no
  PIPELINE_STATE Running (test_psrp_* recordings, Server 2016 and 2019).
* A ``throw "text"`` fills the message, the target object and the error id with the same text, category
  OperationStopped, reason RuntimeException (test_client_fetch_file_fail_missing, Server 2019).
"""

from __future__ import annotations

import struct
import threading
import time
import typing
import uuid
from typing import Any

import psrpcore
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    ProgressRecordType,
    PSInvocationState,
)

from tests.support.loopback_recorder import Operation
from tests.support.loopback_wire import WINDOWS_FRAGMENT

UTF8_BOM = b"\xef\xbb\xbf"
_MESSAGE_HEADER = 40  # destination, message type, runspace pool id, pipeline id
FIRST_USE_PROGRESS = "Preparing modules for first use."


class WindowsRunspacePool(psrpcore.ServerRunspacePool):
    """psrpcore's server pool, writing each message's CLIXML after a UTF-8 BOM as PowerShell does."""

    def prepare_message(
        self,
        message: typing.Any,
        message_type: typing.Any = None,
        pipeline_id: uuid.UUID | None = None,
        stream_type: psrpcore.StreamType = psrpcore.StreamType.default,
    ) -> None:
        super().prepare_message(message, message_type, pipeline_id, stream_type)
        queued = self._send_buffer[-1]
        data = queued._data
        if len(data) > _MESSAGE_HEADER and not data[_MESSAGE_HEADER:].startswith(UTF8_BOM):
            data[_MESSAGE_HEADER:_MESSAGE_HEADER] = UTF8_BOM


def split_fragments(payload: bytes) -> list[bytes]:
    """A PSRP payload (several fragments back to back) -> one bytes object per fragment (MS-PSRP 2.2.4)."""
    out: list[bytes] = []
    at = 0
    while at < len(payload):
        (length,) = struct.unpack(">I", payload[at + 17 : at + 21])
        out.append(payload[at : at + 21 + length])
        at += 21 + length
    return out


class Shell:
    """One WS-Man shell = one PSRP runspace pool = one logon session."""

    def __init__(self, shell_id: str, node: str, identity: str) -> None:
        self.id = shell_id
        self.node = node
        self.identity = identity
        self.pool = WindowsRunspacePool()
        self.out: dict[str | None, list[bytes]] = {}  # None = pool, else COMMANDID (upper case); one fragment each
        self.done: set[str] = set()
        self.scripts: dict[str, str] = {}  # COMMANDID -> script name
        self.operations: dict[str, Operation] = {}
        self.pending: dict[str, tuple[float, typing.Callable[[], None]]] = {}  # runs_long: (ready at, finish)
        self.lock = threading.Lock()

    def flush(self) -> None:
        while True:
            payload = self.pool.data_to_send(WINDOWS_FRAGMENT)
            if payload is None:
                return
            key = str(payload.pipeline_id).upper() if payload.pipeline_id else None
            self.out.setdefault(key, []).extend(split_fragments(payload.data))

    def ready(self, cmd_id: str) -> float:
        """Seconds until a long-running pipeline has its result (0 when it has it, or runs no longer)."""
        entry = self.pending.get(cmd_id)
        if entry is None:
            return 0.0
        left = entry[0] - time.monotonic()
        if left > 0:
            return left
        del self.pending[cmd_id]
        entry[1]()
        self.flush()
        return 0.0


def start(pipe: psrpcore.ServerPipeline) -> None:
    """Start as Windows does: a first-use progress record, no PIPELINE_STATE Running."""
    pipe._change_state(PSInvocationState.Running, emit=False)
    pipe.write_progress(
        FIRST_USE_PROGRESS, 0, " ", parent_activity_id=-1, percent_complete=-1, record_type=ProgressRecordType.Completed
    )


def fail(pipe: psrpcore.ServerPipeline, message: str, category: ErrorCategory, target: str, fq: str) -> None:
    """End the pipeline with a terminating error (psrpcore 0.3.1 has no public fail())."""
    record = ErrorRecord(
        Exception=NETException(Message=message),
        CategoryInfo=ErrorCategoryInfo(Category=category, Reason=fq.split(",")[0], TargetName=target),
        TargetObject=target,
        FullyQualifiedErrorId=fq,
    )
    pipe._change_state(PSInvocationState.Failed, error=record)


def throw(pipe: psrpcore.ServerPipeline, text: str) -> None:
    """What a script's ``throw "text"`` sends: the text as message, target object and error id."""
    exception = NETException(Message=text)
    exception.PSObject.type_names = [
        "System.Management.Automation.RuntimeException",
        "System.SystemException",
        *exception.PSTypeNames,
    ]
    record = ErrorRecord(
        Exception=exception,
        CategoryInfo=ErrorCategoryInfo(Category=ErrorCategory.OperationStopped, Reason="RuntimeException"),
        TargetObject=text,
        FullyQualifiedErrorId=text,
    )
    pipe._change_state(PSInvocationState.Failed, error=record)


class Endpoint(typing.Protocol):
    """What a pipeline needs from the loopback (``tests.support.loopback.Loopback``)."""

    scripts: typing.Any  # ScriptIndex
    recorder: typing.Any  # Recorder
    backend: typing.Any  # Backend
    script_delay: float

    def take_fault(self, node: str, script: str | None) -> typing.Any: ...

    def raise_transport(self, fault: typing.Any) -> None: ...


def run_pipeline(lb: Endpoint, node: str, shell: Shell, event: psrpcore.CreatePipelineEvent, record: Any) -> None:
    """Run the contract script a CreatePipeline names, through the backend, with the faults injected for it."""
    from psrpcore.types import PSSecureString

    from provider.errors import EssoError
    from tests.support.loopback_backend import plain
    from tests.support.loopback_wire import DropConnectionError, NeverAnswerError

    cmd_id = str(event.pipeline_id).upper()
    pipe = shell.pool.pipeline_table[event.pipeline_id]
    commands = event.pipeline.commands
    text = str(commands[0].command_text) if commands else ""
    script = lb.scripts.name(text) if commands and commands[0].is_script else None
    name = script or (text.splitlines()[0][:60] if text else "?")
    record.script = name
    shell.scripts[cmd_id] = name
    op = Operation(node, name, record.started, local_scope=bool(commands and commands[0].use_local_scope))
    shell.operations[cmd_id] = op
    with lb.recorder.lock:
        lb.recorder.operations.append(op)

    fault = lb.take_fault(node, name)
    if fault is not None and fault.kind in ("drop_before", "hang", "http_503", "wsman_fault"):
        op.ended = time.monotonic()
        lb.raise_transport(fault)
    params = {str(k): plain(v) for k, v in (commands[0].parameters if commands else [])}
    secure = [str(k) for k, v in (commands[0].parameters if commands else []) if isinstance(v, PSSecureString)]
    with lb.recorder.lock:
        lb.recorder.decrypted_secrets.extend(str(params[k]) for k in secure)

    start(pipe)

    def finish() -> None:
        if fault is not None and fault.kind == "terminating":
            fail(pipe, fault.message, fault.category, fault.target, "Injected.Terminating")
        else:
            try:
                if script is None:
                    raise RuntimeError(f"The term '{name}' is not a contract script known to this endpoint.")
                if lb.script_delay:
                    time.sleep(lb.script_delay)
                result = lb.backend.run(node, script, params, shell.identity)
            except (DropConnectionError, NeverAnswerError):
                op.ended = time.monotonic()
                raise
            except EssoError as exc:  # a script refuses with `throw 'ESSO-NNN ...'`
                throw(pipe, f"{exc.code} {exc.detail}")
            except Exception as exc:  # anything else the backend raised: a terminating error, as a throw would be
                throw(pipe, str(exc))
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

    if fault is not None and fault.kind == "runs_long":
        shell.pending[cmd_id] = (time.monotonic() + fault.seconds, finish)
        return
    finish()
    if fault is not None and fault.kind == "drop_after":
        shell.flush()
        op.ended = time.monotonic()
        raise DropConnectionError()
