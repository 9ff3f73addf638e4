"""The record of every remote call: a redacted, machine-readable line per call, per stack (issue 18, point 6).

Why: a change board wants evidence after a window, and an operator wants to see where a long run spent its
time. Every call passes ``Remote.run``, which tells the ``Recorder`` it holds when a script starts and how it
ended. A record holds the time, the node, the script, whether it changed anything, how long it took and the
ESSO id of a failure: never a parameter, a result value or an error's text, so no secret can reach it.

``FileRecorder`` appends JSON lines to ``.esso/logs/<stack>.jsonl`` under the project directory (git-ignored;
``ESSO_LOG_DIR`` names another folder);
``esso log --stack NAME`` prints the last run. A run is one process's calls for one operation (the engine starts
the provider host once per ``up``/``refresh``/``destroy``; ``esso plan`` is a run of its own).
"""

from __future__ import annotations

import fcntl
import os
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

LOG_DIR = Path(".esso") / "logs"


def new_run() -> str:
    """A run id: when, which process, and a random tail (two runs in one second of one process differ)."""
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


# One id per process: every provider call the engine makes in one `pulumi up` goes to the same host process.
_PROCESS_RUN = new_run()

_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")

Operation = Literal["create", "update", "read", "delete", "plan", "other"]


class CallRecord(BaseModel):
    """One remote call as it is kept: names and figures only, never values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time: str  # ISO 8601 UTC, when the call started
    run: str  # the run it belongs to
    operation: Operation  # the provider call that made it (create/update = up, read = refresh, ...)
    resource: str  # the ESSO resource, or "" outside a provider
    node: str
    script: str
    changes: bool  # the script is a change script (its contract says so)
    changed: bool | None  # what it reported; None for a read or a failure
    duration_ms: int
    error: str | None = None  # the ESSO id of a failure, never its text


def stack_log(project_dir: Path, stack: str) -> Path:
    """The per-stack log file: ``.esso/logs/<stack>.jsonl`` under the project, or under ``$ESSO_LOG_DIR`` (the
    test suite points it at a temporary folder); a stack name that could leave the folder is refused."""
    if not _STACK_NAME.match(stack):
        raise ValueError(f"stack name {stack!r} is not a Pulumi stack name (letters, digits, '-', '_', '.')")
    folder = os.environ.get("ESSO_LOG_DIR")
    return (Path(folder) if folder else project_dir / LOG_DIR) / f"{stack}.jsonl"


class Recorder:
    """What ``Remote.run`` calls around every script: ``begin`` before it is sent, ``end`` after.

    The base keeps the records in memory (tests, ``esso plan``'s twin); ``listeners`` hear ``begin`` (live
    progress shows a step while it runs).
    """

    def __init__(self, *, run: str | None = None, operation: Operation = "other", resource: str = "") -> None:
        self.run = run or _PROCESS_RUN
        self.operation: Operation = operation
        self.resource = resource
        self.records: list[CallRecord] = []
        self.listeners: list[Callable[[str, str], None]] = []

    def begin(self, node: str, script: str) -> float:
        """A script is about to be sent; returns the start time to pass to ``end``."""
        for listen in self.listeners:
            try:
                listen(node, script)
            except Exception:  # noqa: S112 - progress is best effort: it never fails a call
                continue
        return time.monotonic()

    def end(
        self, node: str, script: str, started: float, *, changes: bool, changed: bool | None, error: str | None
    ) -> CallRecord:
        elapsed = time.monotonic() - started
        record = CallRecord(
            time=datetime.fromtimestamp(time.time() - elapsed, UTC).isoformat(timespec="milliseconds"),
            run=self.run,
            operation=self.operation,
            resource=self.resource,
            node=node,
            script=script,
            changes=changes,
            changed=changed,
            duration_ms=round(elapsed * 1000),
            error=error,
        )
        self.records.append(record)
        self.keep(record)
        return record

    def keep(self, record: CallRecord) -> None:
        """Where a record goes besides memory; the base keeps it only in memory."""


class FileRecorder(Recorder):
    """Appends each record as one JSON line to the stack's log, under an exclusive lock."""

    def __init__(
        self, path: Path, *, run: str | None = None, operation: Operation = "other", resource: str = ""
    ) -> None:
        super().__init__(run=run, operation=operation, resource=resource)
        self.path = path

    def keep(self, record: CallRecord) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as out:
                fcntl.flock(out, fcntl.LOCK_EX)
                try:
                    out.write(record.model_dump_json() + "\n")
                finally:
                    fcntl.flock(out, fcntl.LOCK_UN)
        except OSError:
            pass  # the record is evidence, not a precondition: a read-only project must not fail a run


def read_log(path: Path) -> list[CallRecord]:
    """Every record of a log; lines that are not records (a torn write) are skipped."""
    if not path.exists():
        return []
    records: list[CallRecord] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(CallRecord.model_validate_json(line))
        except ValueError:
            continue
    return records


def last_run(records: list[CallRecord]) -> list[CallRecord]:
    """The records of the run that wrote last."""
    if not records:
        return []
    run = records[-1].run
    return [r for r in records if r.run == run]
