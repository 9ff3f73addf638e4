"""A local escrow: backups in a folder of the machine that runs pulumi, private to its user.

Layout: ``<path>/<domain>/<network name>/<msid>/<sha256>.bak`` (0600) with a ``<sha256>.json`` sidecar
(its record and namespace); every folder 0700. Why so strict (security review L5): the folder holds the only
copy of the master secret backup, so

* every folder of the escrow is made 0700 whatever it was, and must belong to the user running pulumi (as
  ssh refuses a key folder others can write);
* no symbolic link is followed below ``path`` (and ``path`` itself may not be one): a link planted in place
  of an MSID folder would otherwise receive the backup and have its target's mode changed. On POSIX every
  folder is opened with ``O_NOFOLLOW | O_DIRECTORY`` and its children are reached through that descriptor
  (``dir_fd``), so a link swapped in between a check and a write is refused too. Elsewhere (Windows) mode
  bits do not apply; the same refusals are made by path, and the folder's ACL is the operator's to set;
* a temporary or relative folder is refused (ESSO-023) unless the caller says the escrow is ephemeral
  (the simulator/demo target).

Backups kept before namespaces existed (``<path>/<msid>/<sha256>.bak``) are read only by the exact SHA-256
that state recorded, and only when their sidecar (if any) names this stack's cluster; ``find`` copies such a
backup into the namespace and leaves the old file in place.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr, ValidationError

from provider.errors import EssoError
from provider.escrow.base import (
    MANIFEST,
    Escrow,
    EscrowNotWritableError,
    EscrowRecord,
    check_sha256,
    integrity_error,
    is_sha256,
    log,
    missing_error,
    msid_segment,
    namespace_segment,
    now,
    reason,
    sha256_hex,
    warn,
)
from provider.escrow.folder import Folder


class _Sidecar(EscrowRecord):
    """The JSON kept next to a local backup file: its record plus the namespace (cluster) it belongs to."""

    cluster: str


# ------------------------------------------------------------------------------------------ the root


def _temp_roots() -> list[Path]:
    candidates = {tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"}  # noqa: S108 - refused, not used
    candidates.update(v for k in ("TMPDIR", "TEMP", "TMP") if (v := os.environ.get(k)))
    return [Path(os.path.realpath(c)) for c in sorted(candidates)]


def _under_temp(path: str) -> Path | None:
    """The temporary folder ``path`` resolves into (links followed, TMPDIR included), or None.

    The spec refuses temporary folders by name; this also catches a link or a TMPDIR it cannot know.
    """
    real = Path(os.path.realpath(path))
    for root in _temp_roots():
        if real == root or real.is_relative_to(root):
            return root
    return None


def _local_root(path: str, allow_ephemeral: bool, project_dir: str | None) -> str:
    raw = path.strip()
    if not raw:
        raise EssoError("ESSO-023", "escrow.path is empty.", step="escrow")
    expanded = os.path.expanduser(raw)
    if not os.path.isabs(expanded):
        if project_dir is not None:
            expanded = os.path.join(project_dir, expanded)
        elif not allow_ephemeral:
            raise EssoError(
                "ESSO-023",
                f"escrow.path {raw!r} is relative: it would depend on the folder pulumi runs in; use an absolute path.",
                step="escrow",
            )
    absolute = os.path.abspath(expanded)
    if not allow_ephemeral:
        temp = _under_temp(absolute)
        if temp is not None:
            raise EssoError(
                "ESSO-023",
                f"escrow.path {absolute!r} is inside the temporary folder {str(temp)!r}, which the system may "
                "clean at any time.",
                step="escrow",
            )
    return absolute


# ------------------------------------------------------------------------------------------ the escrow


class LocalEscrow(Escrow):
    """Backups as ``<path>/<namespace>/<msid>/<sha256>.bak`` with a sidecar; see the module docstring."""

    def __init__(
        self, path: str, *, namespace: str, allow_ephemeral: bool = False, project_dir: str | None = None
    ) -> None:
        """``path`` must be absolute and outside temporary folders (ESSO-023), unless ``allow_ephemeral``
        (simulator/demo: a relative path then resolves against the working directory). With ``project_dir``,
        a relative path resolves against it instead (the temporary-folder rule still applies). The absolute
        result is kept, so pickling keeps its meaning. Nothing touches the disk here.
        """
        self.allow_ephemeral = allow_ephemeral
        self.path = _local_root(path, allow_ephemeral, project_dir)
        self.namespace = namespace

    def describe(self) -> str:
        kind = "ephemeral local escrow (simulator/demo only)" if self.allow_ephemeral else "local escrow"
        return f"{kind} in folder {self.path}, namespace {self.namespace}"

    def _open(self, msid: str, create: bool) -> Folder | None:
        """The MSID's folder in this namespace, opened safely (None when absent and not created)."""
        return self._walk([*self.namespace.split("/"), msid_segment(msid)], create)

    def probe_writable(self, record: EscrowRecord, password: SecretStr) -> str:
        """Write (through the same temporary-file-and-rename as a backup, 0600, flushed) and delete a probe file in
        the namespace folder, where a new MSID's folder and backup are created: proves the folder takes new
        entries for the user running pulumi and the disk takes a write. Nothing else is touched."""
        name = f".write-probe-{secrets.token_hex(8)}"
        where = Path(self.path, *self.namespace.split("/"))
        try:
            folder = self._walk(self.namespace.split("/"), create=True)
            assert folder is not None  # created
            with folder:
                folder.write(name, b"esso-cluster escrow write probe\n")
                folder.remove(name)
        except (OSError, EssoError) as exc:
            raise EscrowNotWritableError(f"{where}: {reason(exc)}") from None
        return f"wrote and deleted a probe file in {where}"

    def _walk(self, segments: list[str], create: bool) -> Folder | None:
        """The folder ``segments`` below the root, each opened safely (None when absent and not created)."""
        current = Folder.root(Path(self.path), create)
        for name in segments:
            if current is None:
                return None
            with current:
                current = current.child(name, create)
        return current

    def _read_manifest(self, msid: str) -> bytes | None:
        folder = self._open(msid, create=False)
        if folder is None:
            return None
        with folder:
            return folder.read(MANIFEST)

    def _write_manifest(self, msid: str, data: bytes) -> None:
        folder = self._open(msid, create=True)
        assert folder is not None  # created
        with folder:
            folder.write(MANIFEST, data)

    def _sidecar(self, folder: Folder, msid: str, sha256: str) -> _Sidecar | None:
        try:
            raw = folder.read(f"{sha256}.json")
            sidecar = _Sidecar.model_validate_json(raw) if raw is not None else None
        except ValidationError:
            return None
        if sidecar is None or msid_segment(sidecar.msid) != msid_segment(msid) or sidecar.sha256 != sha256:
            return None
        return sidecar

    def _record(self, folder: Folder, msid: str, sha256: str, size: int) -> EscrowRecord:
        sidecar = self._sidecar(folder, msid, sha256)
        location = str(folder.path / f"{sha256}.bak")
        stored_at = sidecar.stored_at if sidecar is not None else now()
        return EscrowRecord(msid=msid, sha256=sha256, location=location, size=size, stored_at=stored_at)

    def store(self, msid: str, data: bytes) -> EscrowRecord:
        sha = sha256_hex(data)
        name = f"{sha}.bak"
        folder = self._open(msid, create=True)
        assert folder is not None  # created
        with folder:
            existing = folder.read(name)
            if existing is not None:
                if sha256_hex(existing) == sha:
                    record = self._record(folder, msid, sha, len(data))
                    if self._sidecar(folder, msid, sha) is None:
                        self._write(folder, data, record)
                    log.info("escrow: backup %s of MSID %s is already kept at %s", sha, msid, record.location)
                    return record
                kept = f"{name}.corrupt-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"
                folder.rename(name, kept)
                warn(
                    f"Escrowed file {folder.path / name} did not match its SHA-256; kept it as {kept} for "
                    "inspection and wrote the backup again."
                )
            others = [n[: -len(".bak")] for n in folder.names() if n.endswith(".bak") and is_sha256(n[:-4])]
            others = [o for o in others if o != sha]
            if others:
                warn(
                    f"MSID {msid} already has {len(others)} other escrowed backup(s) ({', '.join(others)}); keeping "
                    f"them and storing this one as {name}. Each backup restores only with the password it was "
                    "taken with."
                )
            record = EscrowRecord(
                msid=msid, sha256=sha, location=str(folder.path / name), size=len(data), stored_at=now()
            )
            self._write(folder, data, record)
        log.info("escrow: stored backup %s of MSID %s at %s", sha, msid, record.location)
        return record

    def _write(self, folder: Folder, data: bytes, record: EscrowRecord) -> None:
        folder.write(f"{record.sha256}.bak", data)
        sidecar = _Sidecar(**record.model_dump(), cluster=self.namespace)
        folder.write(f"{record.sha256}.json", sidecar.model_dump_json(indent=2).encode("utf-8"))

    def _legacy(self, msid: str, sha256: str) -> tuple[Path, bytes] | None:
        """A backup kept before namespaces (``<path>/<msid>/<sha>.bak``), if its sidecar does not name
        another cluster. Read by the exact SHA-256 state recorded only, never listed."""
        root = Folder.root(Path(self.path), create=False)
        if root is None:
            return None
        with root:
            folder = root.child(msid_segment(msid), create=False)
        if folder is None:
            return None
        with folder:
            data = folder.read(f"{sha256}.bak")
            if data is None:
                return None
            try:
                raw = folder.read(f"{sha256}.json")
                owner = _Sidecar.model_validate_json(raw).cluster if raw is not None else None
            except ValidationError:
                owner = None
            path = folder.path / f"{sha256}.bak"
        if owner is not None and namespace_segment(owner) != self.namespace.rsplit("/", 1)[-1]:
            log.warning("escrow: %s belongs to cluster %s, not to %s; not used", path, owner, self.namespace)
            return None
        return path, data

    def find(self, msid: str, sha256: str, location: str | None = None) -> EscrowRecord | None:
        sha = check_sha256(sha256)
        folder = self._open(msid, create=False)
        if folder is not None:
            with folder:
                data = folder.read(f"{sha}.bak")
                if data is not None and sha256_hex(data) == sha:
                    return self._record(folder, msid, sha, len(data))
        legacy = self._legacy(msid, sha)
        if legacy is None or sha256_hex(legacy[1]) != sha:
            return None
        record = self.store(msid, legacy[1])
        warn(
            f"Copied the backup {legacy[0]} (kept before escrows had namespaces) to {record.location}; the old "
            "file is kept: remove it once every stack sharing this escrow has run up."
        )
        return record

    def fetch(self, msid: str, sha256: str, location: str | None = None) -> bytes:
        sha = check_sha256(sha256)
        path = Path(self.path, *self.namespace.split("/"), msid_segment(msid), f"{sha}.bak")
        folder = self._open(msid, create=False)
        data: bytes | None = None
        if folder is not None:
            with folder:
                data = folder.read(f"{sha}.bak")
        if data is None:
            legacy = self._legacy(msid, sha)
            if legacy is None:
                raise missing_error(str(path), msid, sha)
            path, data = legacy
        actual = sha256_hex(data)
        if actual != sha:
            raise integrity_error(f"escrowed file {path}", msid, sha, actual)
        return data
