"""An S3 escrow: ``s3://<bucket>/<prefix>/<namespace>/<msid>/<sha256>.bak``, versioned, SSE-KMS, private.

Why it is shaped so (security review M1, M2, M5):

* every call passes ``ExpectedBucketOwner`` (``bucket_owner``, by default the account of the identity running
  pulumi), and :func:`verify_bucket` refuses, before any write, a bucket without versioning, without all four
  PublicAccessBlock flags, or whose policy lets another account delete or overwrite objects;
* an object that is not SSE-KMS encrypted (with the configured key, when it is given by id or ARN) is never
  adopted: ``store`` writes the backup again as a new version, ``find`` does not return it;
* reads name the SHA-256 (and, from state's location, the object version) that was recorded: an object
  planted beside it, or a newer version written over it, is never what a restore copies;
* backups kept before namespaces existed (``<prefix>/<msid>/<sha256>.bak``) are read only by that exact
  SHA-256 and only when their ``cluster`` tag (if any) is this stack's Network Name;
* clients (boto3) are created inside methods, never held: escrows are built inside provider methods and
  must stay picklable; importing this module has no side effects.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from pydantic import SecretStr

from provider.backup_password import aws_error_code as error_code
from provider.escrow.base import (
    MANIFEST,
    Escrow,
    EscrowNotWritableError,
    EscrowRecord,
    check_sha256,
    integrity_error,
    is_sha256,
    iso,
    log,
    missing_error,
    msid_segment,
    namespace_segment,
    now,
    sha256_hex,
    warn,
)
from provider.escrow.s3_bucket import caller_account, verify_bucket

_MAX_VERSIONS_CHECKED = 10
_MISSING = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}


class S3Escrow(Escrow):
    """Backups of one namespace in an S3 bucket; see the module docstring."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "esso",
        kms_key_id: str | None = None,
        region: str | None = None,
        *,
        namespace: str,
        bucket_owner: str | None = None,
    ) -> None:
        self.bucket = bucket.strip()
        self.prefix = (prefix or "").strip("/")
        self.kms_key_id = kms_key_id or None
        self.region = region or None
        self.namespace = namespace
        self.bucket_owner = bucket_owner or None

    def describe(self) -> str:
        key = self.kms_key_id or "the AWS managed key aws/s3"
        where = f"s3://{self.bucket}/{self.prefix + '/' if self.prefix else ''}{self.namespace}/"
        return f"S3 escrow {where} (region {self.region or 'default'}, SSE-KMS with {key})"

    # ---- names ---------------------------------------------------------------------------------
    def _clients(self) -> tuple[Any, str]:
        """An S3 client and the account that must own the bucket."""
        import boto3
        from botocore.config import Config

        owner = self.bucket_owner or caller_account(self.region)
        return boto3.client("s3", region_name=self.region, config=Config(retries={"mode": "standard"})), owner

    def _folder(self, msid: str, legacy: bool = False) -> str:
        parts = [self.prefix] if self.prefix else []
        parts += [] if legacy else [self.namespace]
        return "/".join([*parts, msid_segment(msid)]) + "/"

    def _key(self, msid: str, sha256: str, legacy: bool = False) -> str:
        return f"{self._folder(msid, legacy)}{sha256}.bak"

    def _location(self, key: str, version_id: str | None) -> str:
        base = f"s3://{self.bucket}/{key}"
        return f"{base}?versionId={quote(version_id, safe='')}" if version_id else base

    def _version_in(self, location: str | None, key: str) -> str | None:
        """The version id state recorded for ``key`` (None when the location names another object)."""
        if not location:
            return None
        parts = urlsplit(location)
        if parts.scheme != "s3" or parts.netloc != self.bucket or parts.path.lstrip("/") != key:
            return None
        versions = parse_qs(parts.query).get("versionId") or []
        return versions[0] if versions else None

    # ---- reads -------------------------------------------------------------------------------
    def _get(self, s3: Any, owner: str, key: str, version_id: str | None = None) -> tuple[bytes, dict[str, Any]] | None:
        from botocore.exceptions import ClientError

        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "ExpectedBucketOwner": owner}
        if version_id:
            args["VersionId"] = version_id
        try:
            response: dict[str, Any] = s3.get_object(**args)
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                return None
            raise
        body: bytes = response["Body"].read()
        return body, response

    def _recorded(self, s3: Any, owner: str, key: str, location: str | None) -> tuple[bytes, dict[str, Any]] | None:
        """The version state recorded, else the current one (the caller verifies the SHA-256)."""
        version = self._version_in(location, key)
        found = self._get(s3, owner, key, version) if version else None
        return found if found is not None else self._get(s3, owner, key)

    def _read_manifest(self, msid: str) -> bytes | None:
        s3, owner = self._clients()
        found = self._get(s3, owner, f"{self._folder(msid)}{MANIFEST}")
        return found[0] if found is not None else None

    def _write_manifest(self, msid: str, data: bytes) -> None:
        s3, owner = self._clients()
        verify_bucket(s3, self.bucket, owner)
        self._put(s3, owner, f"{self._folder(msid)}{MANIFEST}", data, {"msid": msid_segment(msid)})

    def probe_writable(self, record: EscrowRecord, password: SecretStr) -> str:
        """Object Lock buckets refuse deletes, so no write-and-delete: ``verify_bucket`` (the bucket exists, is
        owned by the expected account, versioned, private, grants no other account a guarded action), then the
        record of ``record`` written again as a new version of ``<namespace>/<msid>/recorded.json`` with SSE-KMS:
        proves s3:PutObject in the stack's namespace and kms:GenerateDataKey on the key, as a backup's upload needs.
        It cannot prove a policy that allows PutObject on some keys of the namespace only."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            super().probe_writable(record, password)
        except (ClientError, BotoCoreError) as exc:
            code = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
            raise EscrowNotWritableError(
                f"PutObject into s3://{self.bucket}/{self._folder(record.msid)} failed ({code}): grant the identity "
                "running pulumi s3:PutObject there and kms:GenerateDataKey on the escrow's KMS key"
            ) from None
        return f"bucket {self.bucket} verified and the record of MSID {record.msid} written again (SSE-KMS)"

    def _encryption_problem(self, response: dict[str, Any]) -> str | None:
        if response.get("ServerSideEncryption") != "aws:kms":
            return f"it is not SSE-KMS encrypted (ServerSideEncryption {response.get('ServerSideEncryption')})"
        wanted, used = self.kms_key_id, str(response.get("SSEKMSKeyId") or "")
        comparable = bool(wanted) and not str(wanted).startswith("alias/") and ":alias/" not in str(wanted)
        if comparable and used != wanted and not used.endswith(f"key/{wanted}"):  # an alias cannot be compared
            return f"it is encrypted with KMS key {used or 'aws/s3'}, not {wanted}"
        return None

    def _stored_at(self, response: dict[str, Any]) -> str:
        modified = response.get("LastModified")
        return iso(modified) if isinstance(modified, datetime) else now()

    def _record(self, msid: str, sha: str, key: str, response: dict[str, Any], size: int) -> EscrowRecord:
        version = response.get("VersionId")
        location = self._location(key, str(version) if version else None)
        return EscrowRecord(msid=msid, sha256=sha, location=location, size=size, stored_at=self._stored_at(response))

    def _legacy_is_ours(self, s3: Any, owner: str, key: str) -> bool:
        """A pre-namespace object counts only if its ``cluster`` tag (when present) is this stack's cluster."""
        tags = s3.get_object_tagging(Bucket=self.bucket, Key=key, ExpectedBucketOwner=owner).get("TagSet", [])
        cluster = next((str(t["Value"]) for t in tags if t.get("Key") == "cluster"), None)
        if cluster is None or namespace_segment(cluster) == self.namespace.rsplit("/", 1)[-1]:
            return True
        log.warning(
            "escrow: s3://%s/%s belongs to cluster %s, not to %s; not used", self.bucket, key, cluster, self.namespace
        )
        return False

    def find(self, msid: str, sha256: str, location: str | None = None) -> EscrowRecord | None:
        sha = check_sha256(sha256)
        s3, owner = self._clients()
        key = self._key(msid, sha)
        found = self._recorded(s3, owner, key, location)
        if found is not None and sha256_hex(found[0]) == sha and self._encryption_problem(found[1]) is None:
            return self._record(msid, sha, key, found[1], len(found[0]))
        legacy_key = self._key(msid, sha, legacy=True)
        legacy = self._recorded(s3, owner, legacy_key, location)
        if legacy is None or sha256_hex(legacy[0]) != sha or not self._legacy_is_ours(s3, owner, legacy_key):
            return None
        record = self.store(msid, legacy[0])
        warn(
            f"Copied the backup s3://{self.bucket}/{legacy_key} (kept before escrows had namespaces) to "
            f"{record.location}; the old object is kept: remove it once every stack sharing this bucket has run up."
        )
        return record

    def fetch(self, msid: str, sha256: str, location: str | None = None) -> bytes:
        sha = check_sha256(sha256)
        s3, owner = self._clients()
        key = self._key(msid, sha)
        found = self._recorded(s3, owner, key, location)
        if found is None:
            legacy_key = self._key(msid, sha, legacy=True)
            legacy = self._recorded(s3, owner, legacy_key, location)
            if legacy is not None and self._legacy_is_ours(s3, owner, legacy_key):
                key, found = legacy_key, legacy
        if found is None:
            raise missing_error(f"s3://{self.bucket}/{self._key(msid, sha)}", msid, sha)
        data, response = found
        actual = sha256_hex(data)
        if actual != sha:
            raise integrity_error(
                f"s3://{self.bucket}/{key}", msid, sha, actual, self._intact_hint(s3, owner, key, sha)
            )
        problem = self._encryption_problem(response)
        if problem is not None:
            warn(f"s3://{self.bucket}/{key} holds the recorded backup but {problem}: copy it over itself with SSE-KMS.")
        return data

    def _intact_hint(self, s3: Any, owner: str, key: str, sha256: str) -> str:
        """Name earlier versions of ``key`` that still hold the recorded bytes (best effort, never raises)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            listing = s3.list_object_versions(Bucket=self.bucket, Prefix=key, ExpectedBucketOwner=owner)
            versions = [
                str(v["VersionId"])
                for v in listing.get("Versions", [])
                if v.get("Key") == key and not v.get("IsLatest")
            ][:_MAX_VERSIONS_CHECKED]
            intact: list[str] = []
            for version in versions:
                found = self._get(s3, owner, key, version)
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
            f"--copy-source '{self.bucket}/{key}?versionId={intact[0]}' --server-side-encryption aws:kms{kms} "
            f"--expected-bucket-owner {owner}` and run again."
        )

    # ---- writes ------------------------------------------------------------------------------
    def _siblings(self, s3: Any, owner: str, msid: str) -> list[str]:
        folder = self._folder(msid)
        keys: list[str] = []
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=folder, ExpectedBucketOwner=owner
        )
        for page in pages:
            for item in page.get("Contents", []):
                name = str(item["Key"])[len(folder) :]
                if name.endswith(".bak") and is_sha256(name[: -len(".bak")]):
                    keys.append(str(item["Key"]))
        return sorted(keys)

    def store(self, msid: str, data: bytes) -> EscrowRecord:
        sha = sha256_hex(data)
        key = self._key(msid, sha)
        s3, owner = self._clients()
        verify_bucket(s3, self.bucket, owner)
        existing = self._get(s3, owner, key)
        if existing is not None:
            body, response = existing
            problem = self._encryption_problem(response)
            if sha256_hex(body) == sha and problem is None:
                log.info("escrow: backup %s of MSID %s is already kept at s3://%s/%s", sha, msid, self.bucket, key)
                return self._record(msid, sha, key, response, len(body))
            why = "it did not match its SHA-256" if sha256_hex(body) != sha else str(problem)
            warn(
                f"s3://{self.bucket}/{key}: {why}; writing the backup again as a new version (the previous "
                "version is kept for inspection)."
            )
        others = [k for k in self._siblings(s3, owner, msid) if k != key]
        if others:
            warn(
                f"MSID {msid} already has {len(others)} other escrowed backup(s) in s3://{self.bucket} "
                f"({', '.join(others)}); keeping them and storing this one as {key}. Each backup restores only "
                "with the password it was taken with."
            )
        stored_at = now()
        metadata = {"sha256": sha, "msid": msid, "stored-at": stored_at, "cluster": self.namespace}
        put = self._put(s3, owner, key, data, {"sha256": sha, "msid": msid_segment(msid)}, metadata)
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

    def _put(
        self, s3: Any, owner: str, key: str, data: bytes, tags: dict[str, str], metadata: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """One SSE-KMS object in the bucket of ``owner``, tagged with this namespace."""
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": data,
            "ExpectedBucketOwner": owner,
            "ContentType": "application/octet-stream",
            # S3 verifies this on upload (moto does not); Object Lock buckets require the algorithm header.
            "ChecksumAlgorithm": "SHA256",
            "ChecksumSHA256": base64.b64encode(hashlib.sha256(data).digest()).decode("ascii"),
            "ServerSideEncryption": "aws:kms",
            "Metadata": metadata or {},
            "Tagging": urlencode({"cluster": self.namespace, **tags}),
        }
        if self.kms_key_id:
            args["SSEKMSKeyId"] = self.kms_key_id
        result: dict[str, Any] = s3.put_object(**args)
        return result
