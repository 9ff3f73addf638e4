"""Where the master secret backup is kept ("escrow"): a local folder, or an S3 bucket with SSE-KMS.

Why this matters: the backup file taken on the first node is the only way to restore the master secret
on another node (or after node 1 is lost). Losing it makes every SSO secret unrecoverable, so:

* every read verifies the SHA-256 recorded at store time (ESSO-022); a mismatch returns nothing;
* nothing here deletes a backup: a different backup of the same MSID gets its own file/key (and a
  warning), and a corrupted copy is kept aside (local) or left as an older version (S3);
* a local escrow refuses temporary or relative folders (ESSO-023) unless the caller says the escrow is
  ephemeral (the simulator/demo target);
* an S3 escrow refuses, before any write, a bucket without versioning or without all four
  PublicAccessBlock flags (ESSO-024);
* clients (boto3) are created inside methods, never held: escrows are built inside provider methods and
  must stay picklable; importing this module has no side effects.

The backup password is never handled here except by :func:`backup_password_from_secrets_manager`,
which returns a ``SecretStr`` and never logs, warns or raises with the value.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from provider.errors import EssoError
from provider.spec import EscrowSection

log = logging.getLogger(__name__)

# Where an ephemeral (simulator/demo) local escrow goes when escrow.path is not set: relative to the
# working directory of the process (the project folder under Pulumi), ignored by git.
DEFAULT_EPHEMERAL_PATH = ".state/escrow"
PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
DIR_MODE = 0o700
FILE_MODE = 0o600
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_MSID_RE = re.compile(r"^\{?[A-Za-z0-9_-]{1,64}\}?$")  # a GUID, with or without braces
_MAX_VERSIONS_CHECKED = 10


class EscrowWarning(UserWarning):
    """Something a person should know about the escrow that does not stop the run."""


class EscrowRecord(BaseModel):
    """One escrowed backup: what it is (MSID, SHA-256, size), where it is, and when it was stored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    msid: str
    sha256: str
    location: str  # local: the file path; S3: s3://bucket/key?versionId=...
    size: int
    stored_at: str  # ISO 8601, UTC


class _Sidecar(EscrowRecord):
    """The JSON kept next to a local backup file: its record plus the cluster it belongs to."""

    cluster: str


class Escrow(ABC):
    """Keeps master secret backups by MSID and SHA-256; never deletes one."""

    @abstractmethod
    def store(self, msid: str, data: bytes, *, cluster: str) -> EscrowRecord:
        """Keep ``data`` (the backup file) for ``msid``; idempotent for the same bytes."""

    @abstractmethod
    def fetch(self, msid: str, sha256: str) -> bytes:
        """The backup with this SHA-256, verified (ESSO-022 on mismatch, ESSO-025 when absent)."""

    @abstractmethod
    def latest(self, msid: str) -> EscrowRecord | None:
        """The newest backup recorded for ``msid`` (metadata only: ``fetch`` verifies the content)."""

    @abstractmethod
    def describe(self) -> str:
        """A one-line description for logs and steps; never contains a secret."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.describe()}>"


# ------------------------------------------------------------------------------------------ helpers


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _sort_key(record: EscrowRecord) -> tuple[datetime, str]:
    try:
        moment = datetime.fromisoformat(record.stored_at)
    except ValueError:
        moment = datetime.min.replace(tzinfo=UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment, record.sha256)


def msid_segment(msid: str) -> str:
    """The MSID as a folder or key segment: a GUID without braces, lower case (GUIDs ignore case).

    S3 tags refuse braces and S3 advises against them in keys; one form also keeps ``{ABC..}`` and ``abc..``
    (the same GUID, as different tools print it) in one place.
    """
    if not _MSID_RE.match(msid):
        raise ValueError(f"{msid!r} is not a master secret id (MSID, a GUID)")
    return msid.strip("{}").lower()


def _check_sha256(sha256: str) -> str:
    value = sha256.strip().lower()
    if not _SHA256_RE.match(value):
        raise ValueError(f"{sha256!r} is not a SHA-256 hex digest")
    return value


def _warn(message: str) -> None:
    log.warning("%s", message)
    warnings.warn(message, EscrowWarning, stacklevel=3)


def _integrity_error(where: str, msid: str, expected: str, actual: str, hint: str = "") -> EssoError:
    return EssoError(
        "ESSO-022",
        f"{where} (MSID {msid}) hashes to SHA-256 {actual}, but {expected} was recorded; nothing was returned.{hint}",
        step="escrow-fetch",
    )


# -------------------------------------------------------------------------------------------- local


def _temp_roots() -> list[Path]:
    candidates = {tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"}  # noqa: S108 - refused, not used
    candidates.update(v for k in ("TMPDIR", "TEMP", "TMP") if (v := os.environ.get(k)))
    return [Path(os.path.realpath(c)) for c in sorted(candidates)]


def _under_temp(path: str) -> Path | None:
    real = Path(os.path.realpath(path))
    for root in _temp_roots():
        if real == root or real.is_relative_to(root):
            return root
    return None


def _local_root(path: str | None, allow_ephemeral: bool, project_dir: str | None) -> str:
    raw = (path or "").strip()
    if not raw:
        if not allow_ephemeral:
            raise EssoError("ESSO-023", "escrow.path is empty.", step="escrow")
        raw = DEFAULT_EPHEMERAL_PATH
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


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` (mode 0600) through a fresh temporary file in the same folder."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


class LocalEscrow(Escrow):
    """Backups as ``<path>/<msid>/<sha256>.bak`` (0600) with a ``<sha256>.json`` sidecar, folders 0700.

    ``<msid>`` is :func:`msid_segment` (no braces, lower case); records keep the MSID as given.
    """

    def __init__(self, path: str, *, allow_ephemeral: bool = False, project_dir: str | None = None) -> None:
        """``path`` must be absolute and outside temporary folders (ESSO-023), unless ``allow_ephemeral``
        (simulator/demo: relative paths then resolve against the working directory, and an empty one means
        :data:`DEFAULT_EPHEMERAL_PATH`). With ``project_dir``, a relative path resolves against it instead
        (the temporary-folder rule still applies). The absolute result is kept, so pickling keeps its meaning.
        """
        self.allow_ephemeral = allow_ephemeral
        self.path = _local_root(path, allow_ephemeral, project_dir)

    def describe(self) -> str:
        kind = "ephemeral local escrow (simulator/demo only)" if self.allow_ephemeral else "local escrow"
        return f"{kind} in folder {self.path}"

    def _folder(self, msid: str) -> Path:
        return Path(self.path) / msid_segment(msid)

    def _ensure_folders(self, folder: Path) -> None:
        root = Path(self.path)
        if not root.exists():
            root.mkdir(mode=DIR_MODE, parents=True)
            os.chmod(root, DIR_MODE)
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(folder, DIR_MODE)

    def _read_sidecar(self, msid: str, sha256: str, backup: Path) -> EscrowRecord | None:
        try:
            sidecar = _Sidecar.model_validate_json(backup.with_suffix(".json").read_bytes())
        except (OSError, ValidationError):
            return None
        if msid_segment(sidecar.msid) != msid_segment(msid) or sidecar.sha256 != sha256:
            return None
        return EscrowRecord(
            msid=msid, sha256=sha256, location=str(backup), size=sidecar.size, stored_at=sidecar.stored_at
        )

    def _record_from_file(self, msid: str, sha256: str, backup: Path) -> EscrowRecord:
        found = self._read_sidecar(msid, sha256, backup)
        if found is not None:
            return found
        stat = backup.stat()
        return EscrowRecord(
            msid=msid,
            sha256=sha256,
            location=str(backup),
            size=stat.st_size,
            stored_at=_iso(datetime.fromtimestamp(stat.st_mtime, UTC)),
        )

    def _write(self, backup: Path, data: bytes, record: EscrowRecord, cluster: str) -> None:
        _atomic_write(backup, data)
        sidecar = _Sidecar(**record.model_dump(), cluster=cluster)
        _atomic_write(backup.with_suffix(".json"), sidecar.model_dump_json(indent=2).encode("utf-8"))

    def _backups(self, folder: Path) -> list[Path]:
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob("*.bak") if _SHA256_RE.match(p.stem))

    def store(self, msid: str, data: bytes, *, cluster: str) -> EscrowRecord:
        folder = self._folder(msid)
        sha = sha256_hex(data)
        self._ensure_folders(folder)
        backup = folder / f"{sha}.bak"
        if backup.exists():
            if sha256_hex(backup.read_bytes()) == sha:
                record = self._read_sidecar(msid, sha, backup)
                if record is None:
                    record = EscrowRecord(msid=msid, sha256=sha, location=str(backup), size=len(data), stored_at=_now())
                    self._write(backup, data, record, cluster)
                log.info("escrow: backup %s of MSID %s is already kept at %s", sha, msid, backup)
                return record
            kept = backup.with_name(f"{backup.name}.corrupt-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}")
            os.replace(backup, kept)
            _warn(
                f"Escrowed file {backup} did not match its SHA-256; kept it as {kept.name} for inspection and "
                "wrote the backup again."
            )
        others = [p.stem for p in self._backups(folder) if p.stem != sha]
        if others:
            _warn(
                f"MSID {msid} already has {len(others)} other escrowed backup(s) ({', '.join(others)}); keeping them "
                f"and storing this one as {backup.name}. Each backup restores only with the password it was "
                "taken with."
            )
        record = EscrowRecord(msid=msid, sha256=sha, location=str(backup), size=len(data), stored_at=_now())
        self._write(backup, data, record, cluster)
        log.info("escrow: stored backup %s of MSID %s at %s", sha, msid, backup)
        return record

    def fetch(self, msid: str, sha256: str) -> bytes:
        sha = _check_sha256(sha256)
        backup = self._folder(msid) / f"{sha}.bak"
        try:
            data = backup.read_bytes()
        except FileNotFoundError:
            raise EssoError("ESSO-025", f"no escrowed backup {backup} for MSID {msid}.", step="escrow-fetch") from None
        actual = sha256_hex(data)
        if actual != sha:
            raise _integrity_error(f"escrowed file {backup}", msid, sha, actual)
        return data

    def latest(self, msid: str) -> EscrowRecord | None:
        folder = self._folder(msid)
        records = [self._record_from_file(msid, p.stem, p) for p in self._backups(folder)]
        return max(records, key=_sort_key) if records else None


# ----------------------------------------------------------------------------------------------- S3


def _error_code(exc: Any) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "") or type(exc).__name__)


def _error_message(exc: Any) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Message", ""))


class S3Escrow(Escrow):
    """Backups as ``s3://<bucket>/<prefix>/<msid>/<sha256>.bak``: versioned, SSE-KMS, public access blocked.

    ``<msid>`` is :func:`msid_segment` (no braces, lower case); records keep the MSID as given.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "esso",
        kms_key_id: str | None = None,
        region: str | None = None,
    ) -> None:
        if not bucket or not bucket.strip():
            raise EssoError("ESSO-040", "escrow.bucket is required when escrow.kind is s3.", step="escrow")
        self.bucket = bucket.strip()
        self.prefix = (prefix or "").strip("/")
        self.kms_key_id = kms_key_id or None
        self.region = region or None

    def describe(self) -> str:
        key = self.kms_key_id or "the AWS managed key aws/s3"
        where = f"s3://{self.bucket}/{self.prefix + '/' if self.prefix else ''}"
        return f"S3 escrow {where} (region {self.region or 'default'}, SSE-KMS with {key})"

    def _client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client("s3", region_name=self.region, config=Config(retries={"mode": "standard"}))

    def _folder(self, msid: str) -> str:
        segment = msid_segment(msid)
        return f"{self.prefix}/{segment}/" if self.prefix else f"{segment}/"

    def _key(self, msid: str, sha256: str) -> str:
        return f"{self._folder(msid)}{sha256}.bak"

    def _location(self, key: str, version_id: str | None) -> str:
        base = f"s3://{self.bucket}/{key}"
        return f"{base}?versionId={quote(version_id, safe='')}" if version_id else base

    def verify_bucket(self, client: Any | None = None) -> None:
        """ESSO-024 unless the bucket has versioning Enabled and all four PublicAccessBlock flags true."""
        from botocore.exceptions import ClientError

        s3 = client if client is not None else self._client()
        problems: list[str] = []
        try:
            status = s3.get_bucket_versioning(Bucket=self.bucket).get("Status")
        except ClientError as exc:
            if _error_code(exc) == "NoSuchBucket":
                raise EssoError(
                    "ESSO-024", f"bucket {self.bucket} does not exist; nothing was written.", step="escrow-store"
                ) from None
            problems.append(f"its versioning could not be read ({_error_code(exc)}: grant s3:GetBucketVersioning)")
        else:
            if status != "Enabled":
                problems.append(f"versioning is {str(status).lower() if status else 'not enabled'} (needs Enabled)")
        try:
            config: dict[str, Any] = s3.get_public_access_block(Bucket=self.bucket)["PublicAccessBlockConfiguration"]
        except ClientError as exc:
            if _error_code(exc) == "NoSuchPublicAccessBlockConfiguration":
                problems.append("it has no PublicAccessBlock configuration")
            else:
                problems.append(
                    f"its PublicAccessBlock could not be read ({_error_code(exc)}: grant s3:GetBucketPublicAccessBlock)"
                )
        else:
            off = [flag for flag in PUBLIC_ACCESS_FLAGS if config.get(flag) is not True]
            if off:
                problems.append(f"PublicAccessBlock flag(s) not true: {', '.join(off)}")
        if problems:
            raise EssoError(
                "ESSO-024", f"bucket {self.bucket}: {'; '.join(problems)}; nothing was written.", step="escrow-store"
            )

    def _get(self, s3: Any, key: str, version_id: str | None = None) -> tuple[bytes, dict[str, Any]] | None:
        from botocore.exceptions import ClientError

        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        try:
            response: dict[str, Any] = s3.get_object(**args)
        except ClientError as exc:
            if _error_code(exc) in {"NoSuchKey", "404", "NotFound"}:
                return None
            raise
        body: bytes = response["Body"].read()
        return body, response

    def _stored_at(self, response: dict[str, Any]) -> str:
        metadata: dict[str, str] = response.get("Metadata") or {}
        stamp = metadata.get("stored-at")
        if stamp:
            with contextlib.suppress(ValueError):
                return _iso(datetime.fromisoformat(stamp))
        modified = response.get("LastModified")
        return _iso(modified) if isinstance(modified, datetime) else _now()

    def _siblings(self, s3: Any, msid: str) -> list[str]:
        folder = self._folder(msid)
        keys: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder):
            for item in page.get("Contents", []):
                key = str(item["Key"])
                name = key[len(folder) :]
                if name.endswith(".bak") and _SHA256_RE.match(name[: -len(".bak")]):
                    keys.append(key)
        return sorted(keys)

    def store(self, msid: str, data: bytes, *, cluster: str) -> EscrowRecord:
        sha = sha256_hex(data)
        key = self._key(msid, sha)
        s3 = self._client()
        self.verify_bucket(s3)
        existing = self._get(s3, key)
        if existing is not None:
            body, response = existing
            if sha256_hex(body) == sha:
                log.info("escrow: backup %s of MSID %s is already kept at s3://%s/%s", sha, msid, self.bucket, key)
                return EscrowRecord(
                    msid=msid,
                    sha256=sha,
                    location=self._location(key, response.get("VersionId")),
                    size=len(body),
                    stored_at=self._stored_at(response),
                )
            _warn(
                f"s3://{self.bucket}/{key} did not match its SHA-256; writing the backup again as a new version "
                "(the mismatching version is kept for inspection)."
            )
        others = [k for k in self._siblings(s3, msid) if k != key]
        if others:
            _warn(
                f"MSID {msid} already has {len(others)} other escrowed backup(s) in s3://{self.bucket} "
                f"({', '.join(others)}); keeping them and storing this one as {key}. Each backup restores only "
                "with the password it was taken with."
            )
        stored_at = _now()
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": data,
            "ContentType": "application/octet-stream",
            # S3 verifies this on upload (moto does not); fetch() verifies again on every read.
            "ChecksumSHA256": base64.b64encode(hashlib.sha256(data).digest()).decode("ascii"),
            "ServerSideEncryption": "aws:kms",
            "Metadata": {"sha256": sha, "msid": msid, "stored-at": stored_at},
            "Tagging": urlencode({"cluster": cluster, "sha256": sha, "msid": msid_segment(msid)}),
        }
        if self.kms_key_id:
            args["SSEKMSKeyId"] = self.kms_key_id
        put: dict[str, Any] = s3.put_object(**args)
        version = put.get("VersionId")
        record = EscrowRecord(
            msid=msid,
            sha256=sha,
            location=self._location(key, str(version) if version else None),
            size=len(data),
            stored_at=stored_at,
        )
        log.info("escrow: stored backup %s of MSID %s at %s", sha, msid, record.location)
        return record

    def _intact_versions_hint(self, s3: Any, key: str, sha256: str) -> str:
        """Name earlier versions of ``key`` that still hold the recorded bytes (best effort, never raises)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            listing = s3.list_object_versions(Bucket=self.bucket, Prefix=key)
            versions = [
                str(v["VersionId"])
                for v in listing.get("Versions", [])
                if v.get("Key") == key and not v.get("IsLatest")
            ][:_MAX_VERSIONS_CHECKED]
            intact: list[str] = []
            for version in versions:
                found = self._get(s3, key, version)
                if found is not None and sha256_hex(found[0]) == sha256:
                    intact.append(version)
        except (ClientError, BotoCoreError):
            return ""
        if not intact:
            return " No earlier version of the object holds the recorded bytes."
        kms = f" --ssekms-key-id {self.kms_key_id}" if self.kms_key_id else ""
        return (
            f" Earlier version(s) {', '.join(intact)} hold the recorded bytes; restore one with "
            f"`aws s3api copy-object --bucket {self.bucket} --key {key} "
            f"--copy-source '{self.bucket}/{key}?versionId={intact[0]}' --server-side-encryption aws:kms{kms}` "
            "and run again."
        )

    def fetch(self, msid: str, sha256: str) -> bytes:
        sha = _check_sha256(sha256)
        key = self._key(msid, sha)
        s3 = self._client()
        found = self._get(s3, key)
        if found is None:
            raise EssoError(
                "ESSO-025", f"no escrowed backup s3://{self.bucket}/{key} for MSID {msid}.", step="escrow-fetch"
            )
        data, _ = found
        actual = sha256_hex(data)
        if actual != sha:
            hint = self._intact_versions_hint(s3, key, sha)
            raise _integrity_error(f"s3://{self.bucket}/{key}", msid, sha, actual, hint)
        return data

    def latest(self, msid: str) -> EscrowRecord | None:
        s3 = self._client()
        folder = self._folder(msid)
        records: list[EscrowRecord] = []
        for key in self._siblings(s3, msid):
            head: dict[str, Any] = s3.head_object(Bucket=self.bucket, Key=key)
            version = head.get("VersionId")
            records.append(
                EscrowRecord(
                    msid=msid,
                    sha256=key[len(folder) : -len(".bak")],
                    location=self._location(key, str(version) if version else None),
                    size=int(head.get("ContentLength", 0)),
                    stored_at=self._stored_at(head),
                )
            )
        return max(records, key=_sort_key) if records else None


# ---------------------------------------------------------------------------------- Secrets Manager


class _DropThreadRecords(logging.Filter):
    """Drops the records one thread logs (botocore's DEBUG dump of a response body holds the secret)."""

    def __init__(self, thread: int) -> None:
        super().__init__()
        self.thread = thread

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread


@contextlib.contextmanager
def _no_response_bodies() -> Iterator[None]:
    quiet = _DropThreadRecords(threading.get_ident())
    loggers = [logging.getLogger(name) for name in ("botocore.parsers", "botocore.endpoint", "botocore.hooks")]
    for logger in loggers:
        logger.addFilter(quiet)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)


def _password_from_response(response: dict[str, Any]) -> tuple[str, str | None]:
    """``(password, None)`` or ``("", what is wrong)``; the problem text never quotes the secret.

    A plain SecretString is the password; a JSON object gives its "password" key.
    """
    raw = response.get("SecretString")
    if not isinstance(raw, str):
        return "", (
            "holds no SecretString (binary secrets are not supported); store the password as text or as "
            'JSON {"password": "..."}.'
        )
    password: object = raw
    if raw.lstrip().startswith("{"):
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None  # a plain password that happens to start with "{"
        if isinstance(parsed, dict):
            password = parsed.get("password")
    if not isinstance(password, str):
        return "", 'is a JSON object without a string "password" key.'
    if not password:
        return "", "holds an empty password."
    return password, None


def backup_password_from_secrets_manager(secret_id: str, region: str | None) -> SecretStr:
    """The master secret backup password from Secrets Manager (plain SecretString or JSON ``{"password": ...}``).

    Errors (ESSO-040) name the secret id and what to fix, never the value; botocore's DEBUG dump of the
    response is suppressed for this call.
    """
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"escrow.passwordSecretId {secret_id!r}"
    if not secret_id or not secret_id.strip():
        raise EssoError("ESSO-040", "escrow.passwordSecretId is empty.", step="backup-password")
    try:
        client = boto3.client("secretsmanager", region_name=region)
        with _no_response_bodies():
            response: dict[str, Any] = client.get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        raise EssoError(
            "ESSO-040",
            f"{where} could not be read from Secrets Manager ({_error_code(exc)}: {_error_message(exc)}); check the "
            "name or ARN, escrow.region, and that the program's AWS identity may call secretsmanager:GetSecretValue "
            "(and kms:Decrypt on the secret's key).",
            step="backup-password",
        ) from None
    except BotoCoreError as exc:
        raise EssoError(
            "ESSO-040",
            f"{where} could not be read from Secrets Manager ({type(exc).__name__}); set escrow.region and AWS "
            "credentials for the program.",
            step="backup-password",
        ) from None
    password, problem = _password_from_response(response)
    del response  # keep the value out of this frame's locals (tracebacks with locals, debuggers)
    if problem is not None:
        raise EssoError("ESSO-040", f"{where} {problem}", step="backup-password")
    log.info("escrow: read the backup password from Secrets Manager secret %s", secret_id)
    return SecretStr(password)


# ------------------------------------------------------------------------------------------ factory


def escrow_for(section: EscrowSection, *, allow_ephemeral: bool, project_dir: str | None = None) -> Escrow:
    """The escrow a stack configures. ``allow_ephemeral`` only for the simulator target (demo, tests);
    ``project_dir`` makes a relative ``escrow.path`` mean "under the project" (see :class:`LocalEscrow`)."""
    if section.kind == "s3":
        if not section.bucket:
            raise EssoError("ESSO-040", "escrow.bucket is required when escrow.kind is s3.", step="escrow")
        return S3Escrow(section.bucket, section.prefix, section.kms_key_id, section.region)
    return LocalEscrow(section.path or "", allow_ephemeral=allow_ephemeral, project_dir=project_dir)
