"""S3Escrow against moto: refuses an unsafe bucket before any write, stores with SSE-KMS and tags, verifies reads.

What moto proves and what it does not: moto records the SSE-KMS headers (ServerSideEncryption, SSEKMSKeyId)
and returns them from head_object, but it does not encrypt anything with KMS, does not check that the key
exists or may be used, and does not verify ChecksumSHA256 on upload. These tests assert only what moto
implements: the request carried the right headers, tags and metadata, and versioning kept old versions.
"""

from __future__ import annotations

import hashlib
import pickle
import warnings
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError

from provider.errors import EssoError
from provider.escrow import PUBLIC_ACCESS_FLAGS, EscrowWarning, S3Escrow
from provider.escrow.s3_bucket import verify_bucket
from tests.escrow.conftest import (
    ACCOUNT,
    ALL_BLOCKED,
    BUCKET,
    CLUSTER,
    MSID,
    NAMESPACE,
    OTHER_NAMESPACE,
    REGION,
    SEGMENT,
    all_versions,
    make_bucket,
)

BACKUP = b"\x01\x02ESSO master secret backup\x00" * 64
OTHER = b"a later backup of the same secret, with a new password" * 8


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def key_of(data: bytes, prefix: str = "esso", namespace: str = NAMESPACE) -> str:
    return f"{prefix}/{namespace}/{SEGMENT}/{sha(data)}.bak"


@pytest.fixture
def escrow(safe_bucket: str, kms_key_arn: str) -> S3Escrow:
    return S3Escrow(safe_bucket, "esso", kms_key_arn, REGION, namespace=NAMESPACE)


def test_store_then_fetch_returns_the_same_bytes(escrow: S3Escrow, s3: Any) -> None:
    record = escrow.store(MSID, BACKUP)

    head = s3.head_object(Bucket=BUCKET, Key=key_of(BACKUP))
    assert record.msid == MSID
    assert record.sha256 == sha(BACKUP)
    assert record.size == len(BACKUP)
    assert record.location == f"s3://{BUCKET}/{key_of(BACKUP)}?versionId={head['VersionId']}"
    assert escrow.fetch(MSID, record.sha256) == BACKUP


def test_location_names_the_exact_version(escrow: S3Escrow, s3: Any) -> None:
    record = escrow.store(MSID, BACKUP)
    parts = urlsplit(record.location)
    assert (parts.scheme, parts.netloc, parts.path.lstrip("/")) == ("s3", BUCKET, key_of(BACKUP))
    version = parse_qs(parts.query)["versionId"][0]
    body = s3.get_object(Bucket=BUCKET, Key=key_of(BACKUP), VersionId=version)["Body"].read()
    assert body == BACKUP


def test_sse_kms_with_the_configured_key(escrow: S3Escrow, s3: Any, kms_key_arn: str) -> None:
    escrow.store(MSID, BACKUP)
    head = s3.head_object(Bucket=BUCKET, Key=key_of(BACKUP))
    # moto echoes these headers back; it does not actually encrypt with KMS.
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == kms_key_arn


def test_sse_kms_without_a_key_id_uses_the_aws_managed_key(safe_bucket: str, s3: Any) -> None:
    escrow = S3Escrow(safe_bucket, "esso", None, REGION, namespace=NAMESPACE)
    escrow.store(MSID, BACKUP)
    head = s3.head_object(Bucket=BUCKET, Key=key_of(BACKUP))
    assert head["ServerSideEncryption"] == "aws:kms"  # no SSEKMSKeyId sent: S3 uses aws/s3
    assert "aws/s3" in escrow.describe()


def test_tags_carry_cluster_and_sha256_and_metadata_the_sha256(escrow: S3Escrow, s3: Any) -> None:
    escrow.store(MSID, BACKUP)
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=BUCKET, Key=key_of(BACKUP))["TagSet"]}
    assert tags["cluster"] == NAMESPACE
    assert tags["sha256"] == sha(BACKUP)
    assert tags["msid"] == SEGMENT  # S3 refuses braces in tag values
    metadata = s3.head_object(Bucket=BUCKET, Key=key_of(BACKUP))["Metadata"]
    assert metadata["sha256"] == sha(BACKUP)
    assert metadata["msid"] == MSID


def test_storing_the_same_bytes_twice_writes_once(escrow: S3Escrow, s3: Any, recwarn: pytest.WarningsRecorder) -> None:
    first = escrow.store(MSID, BACKUP)
    second = escrow.store(MSID, BACKUP)
    assert second.location == first.location
    assert second.sha256 == first.sha256
    assert len(all_versions(s3)) == 1
    assert not [w for w in recwarn.list if issubclass(w.category, EscrowWarning)]


def test_a_different_backup_of_the_same_msid_gets_its_own_key_and_a_warning(escrow: S3Escrow, s3: Any) -> None:
    first = escrow.store(MSID, BACKUP)
    with pytest.warns(EscrowWarning, match="already has 1 other escrowed backup") as caught:
        second = escrow.store(MSID, OTHER)
    assert key_of(BACKUP) in str(caught[0].message)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == sorted([key_of(BACKUP), key_of(OTHER)])
    assert escrow.fetch(MSID, first.sha256) == BACKUP
    assert escrow.fetch(MSID, second.sha256) == OTHER
    found = escrow.find(MSID, second.sha256, second.location)
    assert found is not None
    assert (found.sha256, found.location) == (second.sha256, second.location)


def test_find_returns_the_recorded_backup_and_none_for_anything_else(escrow: S3Escrow) -> None:
    assert escrow.find(MSID, sha(BACKUP)) is None
    record = escrow.store(MSID, BACKUP)
    found = escrow.find(MSID, record.sha256, record.location)
    assert found is not None and (found.sha256, found.location, found.size) == (record.sha256, record.location, record.size)
    assert escrow.find(MSID, sha(OTHER)) is None
    assert escrow.find("{00000000-0000-0000-0000-000000000000}", record.sha256) is None


def test_a_tampered_object_fails_the_integrity_check_and_names_the_intact_version(escrow: S3Escrow, s3: Any) -> None:
    record = escrow.store(MSID, BACKUP)
    good_version = parse_qs(urlsplit(record.location).query)["versionId"][0]
    s3.put_object(Bucket=BUCKET, Key=key_of(BACKUP), Body=b"tampered")  # an overwrite: versioning keeps the old one

    returned: bytes | None = None
    with pytest.raises(EssoError) as caught:
        returned = escrow.fetch(MSID, record.sha256)
    assert returned is None
    assert caught.value.code == "ESSO-022"
    message = str(caught.value)
    assert record.sha256 in message and sha(b"tampered") in message
    assert "nothing was returned" in message
    assert good_version in message  # the way back: copy the intact version over the current one

    s3.copy_object(
        Bucket=BUCKET,
        Key=key_of(BACKUP),
        CopySource={"Bucket": BUCKET, "Key": key_of(BACKUP), "VersionId": good_version},
    )
    assert escrow.fetch(MSID, record.sha256) == BACKUP


def test_storing_again_after_tampering_writes_a_new_version(escrow: S3Escrow, s3: Any) -> None:
    record = escrow.store(MSID, BACKUP)
    s3.put_object(Bucket=BUCKET, Key=key_of(BACKUP), Body=b"tampered")
    with pytest.warns(EscrowWarning, match="did not match its SHA-256"):
        again = escrow.store(MSID, BACKUP)
    assert again.location != record.location
    assert escrow.fetch(MSID, record.sha256) == BACKUP
    assert len(all_versions(s3)) == 3  # nothing was deleted


def test_fetching_a_backup_that_is_not_there_says_so(escrow: S3Escrow) -> None:
    with pytest.raises(EssoError) as caught:
        escrow.fetch(MSID, sha(BACKUP))
    assert caught.value.code == "ESSO-025"
    assert key_of(BACKUP) in str(caught.value)


UNSAFE: list[tuple[str, str | None, dict[str, bool] | None, str]] = [
    ("no versioning", None, ALL_BLOCKED, "versioning is not enabled"),
    ("versioning suspended", "Suspended", ALL_BLOCKED, "versioning is suspended"),
    ("no PublicAccessBlock", "Enabled", None, "no PublicAccessBlock configuration"),
    *[(f"{flag} off", "Enabled", {**ALL_BLOCKED, flag: False}, flag) for flag in PUBLIC_ACCESS_FLAGS],
]


@pytest.mark.parametrize(("versioning", "block", "expected"), [u[1:] for u in UNSAFE], ids=[u[0] for u in UNSAFE])
def test_an_unsafe_bucket_is_refused_before_any_write(
    s3: Any, versioning: str | None, block: dict[str, bool] | None, expected: str
) -> None:
    make_bucket(s3, versioning=versioning, public_access_block=block)
    escrow = S3Escrow(BUCKET, "esso", None, REGION, namespace=NAMESPACE)
    with pytest.raises(EssoError) as caught:
        escrow.store(MSID, BACKUP)
    assert caught.value.code == "ESSO-024"
    assert expected in str(caught.value)
    assert BUCKET in str(caught.value)
    assert all_versions(s3) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_every_problem_is_named_at_once(s3: Any) -> None:
    make_bucket(s3, versioning=None, public_access_block={**ALL_BLOCKED, "BlockPublicAcls": False})
    with pytest.raises(EssoError) as caught:
        S3Escrow(BUCKET, "esso", None, REGION, namespace=NAMESPACE).store(MSID, BACKUP)
    assert "versioning is not enabled" in str(caught.value)
    assert "BlockPublicAcls" in str(caught.value)
    assert "IgnorePublicAcls" not in str(caught.value)


def test_a_missing_bucket_is_refused(aws: None) -> None:
    with pytest.raises(EssoError) as caught:
        S3Escrow("esso-no-such-bucket", "esso", None, REGION, namespace=NAMESPACE).store(MSID, BACKUP)
    assert caught.value.code == "ESSO-024"
    assert "does not exist" in str(caught.value)


def test_an_empty_prefix_keys_by_msid(safe_bucket: str, s3: Any) -> None:
    escrow = S3Escrow(safe_bucket, "", None, REGION, namespace=NAMESPACE)
    record = escrow.store(MSID, BACKUP)
    assert s3.head_object(Bucket=BUCKET, Key=f"{NAMESPACE}/{SEGMENT}/{sha(BACKUP)}.bak")["ContentLength"] == len(BACKUP)
    assert escrow.fetch(MSID, record.sha256, record.location) == BACKUP


def test_no_client_at_construction_and_picklable(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_client(*args: object, **kwargs: object) -> None:
        raise AssertionError("a boto3 client was created at construction")

    monkeypatch.setattr(boto3, "client", no_client)
    escrow = S3Escrow(BUCKET, "/esso/", "alias/esso", REGION, namespace=NAMESPACE)
    copy = pickle.loads(pickle.dumps(escrow))  # noqa: S301 - our own bytes, as the Pulumi SDK does
    assert vars(copy) == {
        "bucket": BUCKET,
        "prefix": "esso",
        "kms_key_id": "alias/esso",
        "region": REGION,
        "namespace": NAMESPACE,
        "bucket_owner": None,
    }
    assert copy.describe() == f"S3 escrow s3://{BUCKET}/esso/{NAMESPACE}/ (region {REGION}, SSE-KMS with alias/esso)"


def test_foreign_objects_under_the_prefix_are_ignored(escrow: S3Escrow, s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"esso/{NAMESPACE}/{SEGMENT}/README.txt", Body=b"notes")
    s3.put_object(Bucket=BUCKET, Key=f"esso/{NAMESPACE}/{SEGMENT}/not-a-digest.bak", Body=b"x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        record = escrow.store(MSID, BACKUP)  # no "other backup" warning for foreign objects
    assert escrow.fetch(MSID, record.sha256) == BACKUP


class DeniedBucket:
    """A client whose caller may not read the bucket's settings (moto does not model IAM)."""

    def get_bucket_versioning(self, **_: object) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "GetBucketVersioning")

    def get_public_access_block(self, **_: object) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "GetPublicAccessBlock")

    def get_bucket_policy(self, **_: object) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "GetBucketPolicy")


def test_a_bucket_whose_settings_cannot_be_read_is_refused_naming_the_permissions() -> None:
    with pytest.raises(EssoError) as caught:
        verify_bucket(DeniedBucket(), BUCKET, ACCOUNT)
    assert caught.value.code == "ESSO-024"
    assert "s3:GetBucketVersioning" in str(caught.value)
    assert "s3:GetBucketPublicAccessBlock" in str(caught.value)
    assert "s3:GetBucketPolicy" in str(caught.value)
    assert f"account {ACCOUNT} does not own the bucket" in str(caught.value)
