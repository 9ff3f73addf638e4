"""The escrow's write probe (issue 17): what a rotation checks before it generates a new master secret.

Why: the new secret's backup must be escrowed right after the generation; an escrow found unwritable only then
leaves a secret that exists on one node. Local: a probe file written and deleted in the namespace folder. S3: the
bucket verified and the current record written again (no delete, so Object Lock buckets take it).
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pydantic import SecretStr

from provider.escrow import EscrowNotWritableError, LocalEscrow, S3Escrow
from provider.escrow.folder import Folder
from tests.escrow.conftest import BUCKET, MSID, NAMESPACE, REGION, all_versions, make_bucket, make_locked_bucket

BACKUP = b"\x01\x02ESSO master secret backup\x00" * 64
PASSWORD = SecretStr("Backup-Sentinel-Pass-1!")


def test_a_writable_local_escrow_passes_and_keeps_nothing(tmp_path: Path) -> None:
    escrow = LocalEscrow(str(tmp_path / "escrow"), namespace=NAMESPACE, allow_ephemeral=True)
    record = escrow.store(MSID, BACKUP)
    escrow.record_in_use(record, PASSWORD)
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "escrow").rglob("*"))
    proved = escrow.probe_writable(record, PASSWORD)
    assert "wrote and deleted a probe file" in proved
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "escrow").rglob("*")) == before


def test_a_read_only_local_escrow_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    escrow = LocalEscrow(str(tmp_path / "escrow"), namespace=NAMESPACE, allow_ephemeral=True)
    record = escrow.store(MSID, BACKUP)

    def read_only(self: Folder, name: str, data: bytes) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(self.path / name))

    monkeypatch.setattr(Folder, "write", read_only)
    with pytest.raises(EscrowNotWritableError, match="Read-only file system") as err:
        escrow.probe_writable(record, PASSWORD)
    assert str(tmp_path / "escrow" / "contoso" / "ssocluster") in str(err.value)
    assert PASSWORD.get_secret_value() not in str(err.value)


def test_a_writable_bucket_passes_and_the_record_still_authenticates(s3: Any, kms_key_arn: str) -> None:
    make_bucket(s3)
    escrow = S3Escrow(BUCKET, "esso", kms_key_arn, REGION, namespace=NAMESPACE)
    record = escrow.store(MSID, BACKUP)
    escrow.record_in_use(record, PASSWORD)
    versions = len(all_versions(s3))
    assert "written again (SSE-KMS)" in escrow.probe_writable(record, PASSWORD)
    assert len(all_versions(s3)) == versions + 1  # one new version of the record, nothing deleted
    assert escrow.recorded(MSID, PASSWORD).sha256 == record.sha256


def test_an_object_lock_bucket_passes_without_a_delete(s3: Any, kms_key_arn: str) -> None:
    make_locked_bucket(s3)
    escrow = S3Escrow(BUCKET, "esso", kms_key_arn, REGION, namespace=NAMESPACE)
    record = escrow.store(MSID, BACKUP)
    escrow.probe_writable(record, PASSWORD)
    assert s3.list_object_versions(Bucket=BUCKET).get("DeleteMarkers", []) == []  # nothing was deleted
    assert escrow.recorded(MSID, PASSWORD).sha256 == record.sha256


def test_a_bucket_that_fails_its_checks_is_not_writable(s3: Any, kms_key_arn: str) -> None:
    make_bucket(s3)
    escrow = S3Escrow(BUCKET, "esso", kms_key_arn, REGION, namespace=NAMESPACE)
    record = escrow.store(MSID, BACKUP)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    with pytest.raises(EscrowNotWritableError, match="ESSO-024: bucket esso-escrow-test: versioning is suspended"):
        escrow.probe_writable(record, PASSWORD)


def test_a_denied_put_names_the_permission(s3: Any, kms_key_arn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    make_bucket(s3)
    escrow = S3Escrow(BUCKET, "esso", kms_key_arn, REGION, namespace=NAMESPACE)
    record = escrow.store(MSID, BACKUP)

    def denied(*_: Any, **__: Any) -> dict[str, Any]:  # what S3 answers an identity without s3:PutObject
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutObject")

    monkeypatch.setattr(S3Escrow, "_put", denied)
    with pytest.raises(EscrowNotWritableError) as err:
        escrow.probe_writable(record, PASSWORD)
    assert "AccessDenied" in str(err.value) and "s3:PutObject" in str(err.value)
    assert f"s3://{BUCKET}/esso/{NAMESPACE}/" in str(err.value)
