"""What every escrow shares: the record of one escrowed backup, the stack's namespace, and the checks on names.

Why these rules (issue 13, M1 and M2): a restore must copy exactly the backup the stack recorded in its state,
and two stacks sharing a folder or bucket must never see each other's backups. So an escrow is built for one
namespace (the cluster: NetBIOS domain and Network Name), every object lives under it, and nothing is ever
chosen by "the newest": callers name the MSID *and* the SHA-256 that state recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from provider.errors import EssoError

log = logging.getLogger("provider.escrow")

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_MSID_RE = re.compile(r"^\{?[A-Za-z0-9_-]{1,64}\}?$")  # a GUID, with or without braces
# A namespace segment keeps these as they are; anything else is written as ".xx" (hex). NetBIOS names never
# contain ".", so the escape is unambiguous, and the result is safe as a folder name, an S3 key and a tag value.
_PLAIN_SEGMENT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


class EscrowWarning(UserWarning):
    """Something a person should know about the escrow that does not stop the run."""


class EscrowNotWritableError(Exception):
    """The escrow refused a probe write (:meth:`Escrow.probe_writable`); the text says what failed, never a secret."""


def reason(exc: BaseException) -> str:
    """What a failed write said: an EssoError's detail, an OSError's strerror and path, else the text."""
    if isinstance(exc, EssoError):
        return f"{exc.code}: {exc.detail}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc)


class EscrowRecord(BaseModel):
    """One escrowed backup: what it is (MSID, SHA-256, size), where it is, and when it was stored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    msid: str
    sha256: str
    location: str  # local: the file path; S3: s3://bucket/key?versionId=...
    size: int
    stored_at: str  # ISO 8601, UTC


MANIFEST = "recorded.json"  # beside the backups of one MSID: which of them restores copy
MANIFEST_ROUNDS = 100_000
_MAX_ROUNDS = 1_000_000  # a forged record must not make a restore spin (rounds are read from the record)


class RecordedBackup(BaseModel):
    """The escrow's record of the backup sso-system recorded in its state: the one restores copy.

    Why it exists: a restore (another resource) cannot read sso-system's state, and the design passes no
    output from one resource into another's inputs (previews stay honest; ordering uses ``depends_on``).
    So sso-system writes this record next to the backups, authenticated with a key derived from the backup
    password (PBKDF2-HMAC-SHA256, random salt) over the namespace, MSID, SHA-256 and location. Someone who can
    write to the escrow but does not know the password can neither forge nor move it to another stack.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    namespace: str
    msid: str  # msid_segment form
    sha256: str
    location: str  # on S3 with ?versionId=: the exact object version
    salt: str
    rounds: int
    mac: str


def _mac(password: SecretStr, salt: str, rounds: int, namespace: str, msid: str, sha256: str, location: str) -> str:
    key = hashlib.pbkdf2_hmac("sha256", password.get_secret_value().encode("utf-8"), bytes.fromhex(salt), rounds)
    message = "\n".join(("esso-escrow-record/1", namespace, msid, sha256, location)).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class Escrow(ABC):
    """Keeps master secret backups of one stack (``namespace``) by MSID and SHA-256; never deletes one.

    There is deliberately no "latest": the backup to use is the one whose SHA-256 the state recorded, and
    which :meth:`record_in_use` wrote down for restores (see :class:`RecordedBackup`).
    """

    namespace: str

    @abstractmethod
    def _read_manifest(self, msid: str) -> bytes | None:
        """The raw :data:`MANIFEST` of ``msid`` in this namespace, None when there is none."""

    @abstractmethod
    def _write_manifest(self, msid: str, data: bytes) -> None:
        """Write :data:`MANIFEST` of ``msid`` in this namespace (the previous one kept where versioned)."""

    def _manifest(self, msid: str, password: SecretStr) -> tuple[RecordedBackup | None, str]:
        """The record for ``msid`` if it authenticates, else None and why not."""
        raw = self._read_manifest(msid)
        if raw is None:
            return None, "absent"
        try:
            found = RecordedBackup.model_validate_json(raw)
            if not MANIFEST_ROUNDS <= found.rounds <= _MAX_ROUNDS or len(found.salt) != 32:
                return None, "is not a record this tool wrote"
            expected = _mac(
                password, found.salt, found.rounds, self.namespace, msid_segment(msid), found.sha256, found.location
            )
        except (ValidationError, ValueError):
            return None, "is not a record this tool wrote"
        if not hmac.compare_digest(expected, found.mac) or found.namespace != self.namespace:
            return None, "does not authenticate"
        if found.msid != msid_segment(msid) or not is_sha256(found.sha256):
            return None, "does not authenticate"
        return found, "ok"

    def _record_bytes(self, record: EscrowRecord, password: SecretStr) -> bytes:
        """The authenticated :class:`RecordedBackup` naming ``record`` (a fresh salt every time)."""
        salt = secrets.token_hex(16)
        segment = msid_segment(record.msid)
        manifest = RecordedBackup(
            namespace=self.namespace,
            msid=segment,
            sha256=record.sha256,
            location=record.location,
            salt=salt,
            rounds=MANIFEST_ROUNDS,
            mac=_mac(password, salt, MANIFEST_ROUNDS, self.namespace, segment, record.sha256, record.location),
        )
        return manifest.model_dump_json(indent=2).encode("utf-8")

    def record_in_use(self, record: EscrowRecord, password: SecretStr) -> bool:
        """Write the record that ``record`` is the backup restores copy; True when it was (re)written."""
        current, _ = self._manifest(record.msid, password)
        if current is not None and (current.sha256, current.location) == (record.sha256, record.location):
            return False
        self._write_manifest(record.msid, self._record_bytes(record, password))
        log.info("escrow: recorded backup %s of MSID %s as the one restores copy", record.sha256, record.msid)
        return True

    def probe_writable(self, record: EscrowRecord, password: SecretStr) -> str:
        """Prove, before a change that must escrow a new backup (a rotation), that this escrow takes a write in
        the stack's namespace; returns what was proved, raises :class:`EscrowNotWritableError` naming what failed.

        Default: the record of ``record`` (the backup restores copy today) is written again. Its meaning is
        unchanged, nothing is deleted, so it works where deletes are refused (Object Lock). Overridden where a
        closer proof exists (local: write and delete a probe file in the namespace folder).
        """
        try:
            self._write_manifest(record.msid, self._record_bytes(record, password))
        except (OSError, EssoError) as exc:
            raise EscrowNotWritableError(reason(exc)) from None
        return f"wrote the record of MSID {record.msid} again in namespace {self.namespace}"

    def recorded(self, msid: str, password: SecretStr) -> RecordedBackup:
        """The backup sso-system recorded for ``msid`` in this namespace, authenticated (ESSO-025, ESSO-022)."""
        found, why = self._manifest(msid, password)
        if found is not None:
            return found
        if why == "absent":
            raise EssoError(
                "ESSO-025",
                f"the escrow ({self.describe()}) holds no record of the backup sso-system escrowed for MSID {msid}: "
                "run `pulumi up --refresh` with a node that holds the master secret reachable, so sso-system records "
                "it (a stack whose escrow predates namespaces does this once).",
                step="escrow-fetch",
            )
        raise EssoError(  # the backup password is the key: a wrong password and a forged record look the same
            "ESSO-012",
            f"the escrow's record of the backup for MSID {msid} ({self.describe()}) {why} with this stack's backup "
            "password and namespace: it was altered, copied from another stack, or written with an earlier backup "
            "password; nothing was restored. Run `pulumi up --refresh` so sso-system takes and records a backup "
            "with the current password.",
            step="escrow-fetch",
        )

    @abstractmethod
    def store(self, msid: str, data: bytes) -> EscrowRecord:
        """Keep ``data`` (the backup file) for ``msid``; idempotent for the same bytes."""

    @abstractmethod
    def find(self, msid: str, sha256: str, location: str | None = None) -> EscrowRecord | None:
        """The escrowed backup with exactly this SHA-256, verified, or None when this escrow does not hold it.

        ``location`` is the one state recorded (on S3 it pins the object version). A backup kept before
        namespaces existed is found by its exact SHA-256 only and copied into the namespace (never moved).
        """

    @abstractmethod
    def fetch(self, msid: str, sha256: str, location: str | None = None) -> bytes:
        """The backup with this SHA-256, verified (ESSO-022 on mismatch, ESSO-025 when absent)."""

    @abstractmethod
    def describe(self) -> str:
        """A one-line description for logs and steps; never contains a secret."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.describe()}>"


# ------------------------------------------------------------------------------------------ helpers


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def msid_segment(msid: str) -> str:
    """The MSID as a folder or key segment: a GUID without braces, lower case (GUIDs ignore case).

    S3 tags refuse braces and S3 advises against them in keys; one form also keeps ``{ABC..}`` and ``abc..``
    (the same GUID, as different tools print it) in one place.
    """
    if not _MSID_RE.match(msid):
        raise ValueError(f"{msid!r} is not a master secret id (MSID, a GUID)")
    return msid.strip("{}").lower()


def same_msid(a: str | None, b: str | None) -> bool:
    """Whether two MSIDs name the same GUID (case and braces aside); False when either is missing."""
    return bool(a) and bool(b) and str(a).strip("{}").lower() == str(b).strip("{}").lower()


def holds_msid(held: Iterable[str], msid: str | None) -> bool:
    """Whether a node's SSOSS MSIDs (``held``) include ``msid``, compared as ``same_msid`` does."""
    return any(same_msid(m, msid) for m in held)


def check_sha256(sha256: str) -> str:
    value = sha256.strip().lower()
    if not _SHA256_RE.match(value):
        raise ValueError(f"{sha256!r} is not a SHA-256 hex digest")
    return value


def is_sha256(value: str) -> bool:
    return bool(_SHA256_RE.match(value))


def namespace_segment(name: str, what: str = "name") -> str:
    """One namespace segment: lower case, anything but letters, digits, '-' and '_' written as '.xx' (hex)."""
    lowered = name.strip().lower()
    if not lowered:
        raise EssoError("ESSO-040", f"the escrow namespace needs the {what}; it is empty.", step="escrow")
    return "".join(c if c in _PLAIN_SEGMENT else "".join(f".{b:02x}" for b in c.encode()) for c in lowered)


def escrow_namespace(domain: str, network_name: str) -> str:
    """``<domain>/<network name>``, lower case: the cluster a stack builds, and so the folder its backups live in.

    Why the cluster: one Network Name in one domain is one clustered master secret server, so two stacks
    that share an escrow folder or bucket but build different clusters never share a namespace.
    """
    return f"{namespace_segment(domain, 'NetBIOS domain name')}/{namespace_segment(network_name, 'Network Name')}"


def warn(message: str) -> None:
    log.warning("%s", message)
    warnings.warn(message, EscrowWarning, stacklevel=3)


def integrity_error(where: str, msid: str, expected: str, actual: str, hint: str = "") -> EssoError:
    return EssoError(
        "ESSO-022",
        f"{where} (MSID {msid}) hashes to SHA-256 {actual}, but {expected} was recorded; nothing was returned.{hint}",
        step="escrow-fetch",
    )


def missing_error(where: str, msid: str, sha256: str) -> EssoError:
    return EssoError(
        "ESSO-025",
        f"no escrowed backup {where} for MSID {msid} with the recorded SHA-256 {sha256}.",
        step="escrow-fetch",
    )
