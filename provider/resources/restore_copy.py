"""Seed step 4 of a restore: the escrowed backup copied into a per-run protected folder on the node, and that
folder swept or removed when a restore did not finish.

Why a module of its own: the folder's name, its making and its removal are one concern (the copy must never
outlive the restore: docs/security.md, issue 13), apart from the order of the restore's steps and its failover
proof (master_secret_restore.py).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Protocol

from provider import contracts
from provider.errors import EssoError
from provider.remote.base import Remote
from provider.resources.base import Steps


class RestoreInputs(Protocol):
    """What the copy needs of a restore's inputs (master_secret_restore.RestoreInputs has it): helpers never
    import a resource module."""

    @property
    def node(self) -> str: ...
    @property
    def server(self) -> str: ...
    @property
    def database(self) -> str: ...
    @property
    def service_account(self) -> str: ...


BACKUP_NAME = "SSOSecret.bak"


def run_id(inputs: RestoreInputs, msid: str) -> str:
    """The restore's folder id: the same for every attempt of this node's restore of this secret, so a later
    run finds a folder an interrupted one left (issue 14), and never the same for two systems or nodes."""
    key = "\n".join([inputs.server, inputs.database, inputs.node, msid]).lower()
    return "restore-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def make_folder(remote: Remote, inputs: RestoreInputs, msid: str) -> contracts.ChangeResult[contracts.PathState]:
    """New-ProtectedTempDir with this restore's id: the folder, made now or left by an earlier attempt."""
    # ENTSSO's service account may read the copy; nobody else but SYSTEM and Administrators (issue 9 A12)
    made = contracts.TempDirParams(run_id=run_id(inputs, msid), reader=inputs.service_account)
    return remote.run(inputs.node, contracts.NEW_PROTECTED_TEMP_DIR, made)


def copy_backup(remote: Remote, inputs: RestoreInputs, msid: str, data: bytes) -> str:
    """Seed step 4: the backup copied into this restore's protected folder; returns the folder.

    A backup is a few KB: one Write-FileChunk -RunId call makes the folder (as New-ProtectedTempDir does) and
    writes the copy (issue 15); a larger one goes into a folder made first, in chunks (``send_file``). Either
    way the node checks the copy's SHA-256, and so does this."""
    if len(data) > remote.chunk_bytes:
        folder = make_folder(remote, inputs, msid).after.path
        remote.send_file(inputs.node, f"{folder}\\{BACKUP_NAME}", data)
        return folder
    digest = hashlib.sha256(data).hexdigest()
    chunk = contracts.WriteFileChunkParams(
        path=BACKUP_NAME,
        data_base64=base64.b64encode(data).decode("ascii"),
        offset=0,
        final=True,
        expected_sha256=digest,
        run_id=run_id(inputs, msid),
        reader=inputs.service_account,
    )
    written = remote.run(inputs.node, contracts.WRITE_FILE_CHUNK, chunk)
    folder, _, name = written.path.rpartition("\\")
    if name.lower() != BACKUP_NAME.lower() or written.size != len(data) or written.sha256 != digest:
        raise EssoError(
            "ESSO-022",
            f"{written.path} holds {written.size} bytes with SHA-256 {written.sha256}, expected {BACKUP_NAME} "
            f"with {len(data)} bytes and {digest}.",
            node=inputs.node,
            step="copy-backup",
        )
    return folder


def sweep(remote: Remote, inputs: RestoreInputs, msid: str, steps: Steps) -> None:
    """Remove the folder (and the backup copy in it) an interrupted attempt of this restore may have left.

    Its path comes from New-ProtectedTempDir (the node decides %windir%), so the sweep makes it when absent;
    either way it is removed, and the step says whether an earlier attempt had left it."""
    folder = make_folder(remote, inputs, msid)
    remote.run(inputs.node, contracts.REMOVE_PROTECTED_PATH, contracts.PathParams(path=folder.after.path))
    left = not folder.changed
    steps.add(inputs.node, "sweep-restore-folder", left, "left by an earlier attempt" if left else "none left")


def remove_folder(remote: Remote, node: str, folder: str, steps: Steps) -> None:
    """Remove-ProtectedPath on this restore's folder and the backup copy in it."""
    removed = remote.run(node, contracts.REMOVE_PROTECTED_PATH, contracts.PathParams(path=folder))
    steps.add(node, contracts.REMOVE_PROTECTED_PATH.name, removed.changed)
