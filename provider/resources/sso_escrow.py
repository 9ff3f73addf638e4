"""SsoSystem's backup and escrow flow: a master secret backup taken on a node is fetched, escrowed, the escrowed copy
read back, and only then is the file removed from the node (issue 13 M4, docs/security.md).

Why in this order: until the escrow gives the bytes back with the SHA-256 they were stored under, the file on the
node is the only copy of that backup, so it stays; once it does, restores copy from the escrow only (never from a
node's file), and the file on the node would only be a master secret at rest outside the escrow. A fault anywhere
in between leaves the file where the next run finds it: that run escrows the same bytes again (``find`` adopts
them) and removes it. The removal also sweeps the copies Backup-MasterSecret and New-MasterSecret move aside.
"""

from __future__ import annotations

from pydantic import SecretStr

from provider import contracts
from provider.errors import EssoError
from provider.escrow import Escrow, EscrowRecord, sha256_hex
from provider.remote.base import Remote
from provider.resources.base import Steps

__all__ = ["clear_from_node", "escrow_from_node", "keep", "recorded_backup", "take_backup"]


def recorded_backup(escrow: Escrow, msid: str, password: SecretStr) -> EscrowRecord | None:
    """The backup this stack's escrow records for ``msid`` (the record restores copy, authenticated with the backup
    password and the namespace, so never one planted or another stack's: M1, M2), if the escrow still holds it;
    None otherwise. What a run reuses where it once read the backup file on the node (M4)."""
    try:
        found = escrow.recorded(msid, password)
        return escrow.find(msid, found.sha256, found.location)
    except (EssoError, ValueError):
        return None


def take_backup(
    remote: Remote, node: str, path: str, password: SecretStr, reminder: str, overwrite: bool, steps: Steps
) -> contracts.ChangeResult[contracts.BackupState]:
    """Backup-MasterSecret on ``node`` (where the clustered ENTSSO runs) into ``path``."""
    backup = remote.run(
        node,
        contracts.BACKUP_MASTER_SECRET,
        contracts.BackupParams(backup_file=path, backup_password=password, reminder=reminder, overwrite=overwrite),
    )
    steps.add(node, contracts.BACKUP_MASTER_SECRET.name, backup.changed)
    return backup


def fetch(remote: Remote, node: str, path: str, steps: Steps, expected_sha256: str | None = None) -> bytes:
    """The backup file's bytes; ESSO-022 when they are not what the script that wrote them reported."""
    data = remote.fetch_file(node, path)
    steps.add(node, "fetch-backup", False)
    if expected_sha256 is not None and sha256_hex(data) != expected_sha256.lower():
        raise EssoError("ESSO-022", f"the backup fetched from {node} is not the file that was written.", step="fetch")
    return data


def keep(escrow: Escrow, msid: str, data: bytes, where: str, steps: Steps, note: str = "") -> EscrowRecord:
    """Escrow ``data`` for ``msid``; the same bytes escrowed by an earlier, interrupted run are adopted, never
    whatever else the escrow holds for the MSID (M1)."""
    kept = escrow.find(msid, sha256_hex(data))
    record = kept if kept is not None else escrow.store(msid, data)
    steps.add(where, "escrow-backup", kept is None, f"{note}{escrow.describe()}")
    return record


def clear_from_node(remote: Remote, escrow: Escrow, record: EscrowRecord, node: str, path: str, steps: Steps) -> None:
    """Read the escrowed copy back (``fetch`` verifies its SHA-256: ESSO-022/025 otherwise, and the file stays), then
    remove ``path`` and its aside copies from ``node``. Idempotent: the sweep of every later run."""
    escrow.fetch(record.msid, record.sha256, record.location)
    removed = remote.run(node, contracts.REMOVE_MASTER_SECRET_BACKUP, contracts.PathParams(path=path))
    steps.add(
        node,
        contracts.REMOVE_MASTER_SECRET_BACKUP.name,
        removed.changed,
        f"escrowed copy read back (SHA-256 {record.sha256[:12]}...): no backup file stays on {node}",
    )


def escrow_from_node(
    remote: Remote,
    escrow: Escrow,
    node: str,
    path: str,
    msid: str,
    steps: Steps,
    *,
    password: SecretStr,
    expected_sha256: str | None = None,
    note: str = "",
) -> EscrowRecord:
    """Fetch the backup at ``path`` on ``node``, escrow it, record it as the one restores copy (so a run that
    stops before the removal finds it again by the escrow's record), read it back, and remove it from the node."""
    data = fetch(remote, node, path, steps, expected_sha256)
    record = keep(escrow, msid, data, node, steps, note)
    escrow.record_in_use(record, password)
    clear_from_node(remote, escrow, record, node, path, steps)
    return record
