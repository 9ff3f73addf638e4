"""S3Escrow against moto: refuses an unsafe bucket before any write, stores with SSE-KMS and tags, verifies reads.

What moto proves and what it does not: moto records the SSE-KMS headers (ServerSideEncryption, SSEKMSKeyId)
and returns them from head_object, but it does not encrypt anything with KMS, does not check that the key
exists or may be used, and does not verify ChecksumSHA256 on upload. These tests assert only what moto
implements: the request carried the right headers, tags and metadata, and versioning kept old versions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import warnings
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError
from pydantic import SecretStr

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
    make_locked_bucket,
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
    assert found is not None and (found.sha256, found.location, found.size) == (
        record.sha256,
        record.location,
        record.size,
    )
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


# --------------------------------------------------------------- M5: the bucket's owner, on every call


def record_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Every S3 operation the escrow's own clients send, with its parameters (botocore's event hook)."""
    calls: list[tuple[str, dict[str, Any]]] = []
    real_client = boto3.client

    def client(service: str, *args: Any, **kwargs: Any) -> Any:
        made = real_client(service, *args, **kwargs)
        if service == "s3":

            def seen(params: dict[str, Any], model: Any, **_: Any) -> None:
                calls.append((str(model.name), dict(params)))

            made.meta.events.register("provide-client-params.s3.*", seen)
        return made

    monkeypatch.setattr(boto3, "client", client)
    return calls


def test_every_s3_call_names_the_expected_bucket_owner(
    escrow: S3Escrow, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Security review M5: a mistyped or re-created bucket of another account must never receive a backup."""
    calls = record_calls(monkeypatch)
    first = escrow.store(MSID, BACKUP)
    escrow.store(MSID, BACKUP)  # the idempotent path
    escrow.store(MSID, OTHER)  # lists the siblings
    s3.put_object(Bucket=BUCKET, Key=key_of(BACKUP), Body=b"tampered")
    with pytest.raises(EssoError):
        escrow.fetch(MSID, first.sha256)  # the integrity hint lists versions
    assert escrow.fetch(MSID, first.sha256, first.location) == BACKUP
    assert escrow.find(MSID, first.sha256, first.location) is not None

    operations = {name for name, _ in calls}
    assert {"PutObject", "GetObject", "ListObjectsV2", "ListObjectVersions", "GetBucketPolicy"} <= operations
    assert {"GetBucketVersioning", "GetPublicAccessBlock", "GetObjectLockConfiguration"} <= operations
    assert [name for name, params in calls if params.get("ExpectedBucketOwner") != ACCOUNT] == []


def test_a_configured_bucket_owner_is_what_every_call_expects(
    safe_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = record_calls(monkeypatch)
    escrow = S3Escrow(safe_bucket, "esso", None, REGION, namespace=NAMESPACE, bucket_owner="210987654321")
    escrow.store(MSID, BACKUP)  # (moto does not check the owner; S3 answers 403 when it differs)
    escrow.fetch(MSID, sha(BACKUP))
    assert calls and all(params["ExpectedBucketOwner"] == "210987654321" for _, params in calls)


# ---------------------------------------------------- M5: no other account may delete or overwrite


FOREIGN = "arn:aws:iam::999999999999:root"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def grant(principal: Any, action: Any, effect: str = "Allow", sid: str = "Grant") -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": effect,
        "Principal": principal,
        "Action": action,
        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
    }


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (grant({"AWS": FOREIGN}, "s3:DeleteObjectVersion"), "s3:DeleteObjectVersion"),
        (grant({"AWS": [FOREIGN]}, ["s3:GetObject", "s3:PutObject"]), "s3:PutObject"),
        (grant({"AWS": "999999999999"}, "s3:Delete*"), "s3:DeleteObject, s3:DeleteObjectVersion"),
        (grant({"AWS": FOREIGN}, "s3:*"), "s3:PutBucketPolicy"),
        (grant({"AWS": "arn:aws:iam::999999999999:role/backup"}, "*"), "s3:BypassGovernanceRetention"),
        (grant({"Service": "logging.s3.amazonaws.com"}, "s3:PutObject"), "logging.s3.amazonaws.com"),
    ],
    ids=["delete-version", "put", "delete-wildcard", "s3-star", "star", "service-principal"],
)
def test_a_bucket_policy_granting_another_account_a_destructive_action_is_refused(
    safe_bucket: str, s3: Any, statement: dict[str, Any], expected: str
) -> None:
    s3.put_bucket_policy(Bucket=safe_bucket, Policy=policy(statement))
    escrow = S3Escrow(safe_bucket, "esso", None, REGION, namespace=NAMESPACE)
    with pytest.raises(EssoError) as caught:
        escrow.store(MSID, BACKUP)
    assert caught.value.code == "ESSO-024"
    message = str(caught.value)
    assert "statement Grant" in message and expected in message
    assert all_versions(s3) == []


def test_reads_and_own_account_grants_are_accepted(safe_bucket: str, s3: Any) -> None:
    s3.put_bucket_policy(
        Bucket=safe_bucket,
        Policy=policy(
            grant({"AWS": FOREIGN}, ["s3:GetObject", "s3:ListBucket"], sid="AuditorReads"),
            grant({"AWS": f"arn:aws:iam::{ACCOUNT}:role/esso-deployer"}, "s3:*", sid="Deployer"),
        ),
    )
    record = S3Escrow(safe_bucket, "esso", None, REGION, namespace=NAMESPACE).store(MSID, BACKUP)
    assert record.sha256 == sha(BACKUP)


def test_an_allow_with_not_principal_counts_as_everyone() -> None:
    from provider.escrow.s3_bucket import foreign_grants

    statement = {"Effect": "Allow", "NotPrincipal": {"AWS": FOREIGN}, "Action": "s3:GetObject", "Resource": "*"}
    assert foreign_grants(policy(statement), ACCOUNT) == [
        "statement #1 allows with NotPrincipal or NotAction, which reaches other accounts"
    ]
    assert foreign_grants("not json", ACCOUNT) == ["the bucket policy is not a JSON policy document"]
    # a Deny never grants (moto applies a Deny to every caller, so this is checked here, not through S3)
    assert foreign_grants(policy(grant({"AWS": FOREIGN}, "s3:*", effect="Deny")), ACCOUNT) == []


# -------------------------------------------------------- M5: an object without SSE-KMS is never adopted


def test_an_existing_object_without_sse_kms_is_never_adopted(escrow: S3Escrow, s3: Any) -> None:
    planted = s3.put_object(Bucket=BUCKET, Key=key_of(BACKUP), Body=BACKUP)  # the right bytes, no KMS
    assert escrow.find(MSID, sha(BACKUP)) is None
    with pytest.warns(EscrowWarning, match="not SSE-KMS encrypted"):
        record = escrow.store(MSID, BACKUP)
    assert f"versionId={planted['VersionId']}" not in record.location
    head = s3.head_object(Bucket=BUCKET, Key=key_of(BACKUP))
    assert head["ServerSideEncryption"] == "aws:kms"
    assert escrow.find(MSID, sha(BACKUP)) is not None
    assert len(all_versions(s3)) == 2  # the planted version is kept, not deleted


def test_an_object_encrypted_with_another_kms_key_is_not_adopted(escrow: S3Escrow, s3: Any) -> None:
    other_key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    s3.put_object(Bucket=BUCKET, Key=key_of(BACKUP), Body=BACKUP, ServerSideEncryption="aws:kms", SSEKMSKeyId=other_key)
    assert escrow.find(MSID, sha(BACKUP)) is None
    with pytest.warns(EscrowWarning, match="encrypted with KMS key"):
        escrow.store(MSID, BACKUP)
    assert s3.head_object(Bucket=BUCKET, Key=key_of(BACKUP))["SSEKMSKeyId"] == escrow.kms_key_id


# ------------------------------------------------------------------------------------ M5: Object Lock


def test_an_object_lock_bucket_keeps_backups_undeletable(
    s3: Any, kms_key_arn: str, caplog: pytest.LogCaptureFixture
) -> None:
    make_locked_bucket(s3)
    caplog.set_level(logging.INFO, logger="provider.escrow")
    escrow = S3Escrow(BUCKET, "esso", kms_key_arn, REGION, namespace=NAMESPACE)
    record = escrow.store(MSID, BACKUP)
    assert "has Object Lock (COMPLIANCE retention)" in caplog.text
    version = parse_qs(urlsplit(record.location).query)["versionId"][0]
    head = s3.head_object(Bucket=BUCKET, Key=key_of(BACKUP), VersionId=version)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=BUCKET, Key=key_of(BACKUP), VersionId=version)
    assert escrow.fetch(MSID, record.sha256, record.location) == BACKUP


def test_a_bucket_without_object_lock_is_used_with_a_logged_warning(
    escrow: S3Escrow, caplog: pytest.LogCaptureFixture
) -> None:
    escrow.store(MSID, BACKUP)
    assert "has no Object Lock default retention" in caplog.text


# ------------------------------------------------------------ M1: the recorded version, never the newest


def test_a_planted_newer_object_or_version_is_never_what_is_read(escrow: S3Escrow, s3: Any) -> None:
    """Security review M1 on S3: a principal with s3:PutObject plants a "newer" backup of the MSID and
    overwrites the recorded key; the recorded SHA-256 and version still read the recorded bytes."""
    record = escrow.store(MSID, BACKUP)
    forged = b"FORGED BACKUP"
    s3.put_object(Bucket=BUCKET, Key=key_of(forged), Body=forged, Metadata={"stored-at": "9999-12-31T00:00:00+00:00"})
    s3.put_object(Bucket=BUCKET, Key=key_of(BACKUP), Body=forged, ServerSideEncryption="aws:kms")

    assert escrow.fetch(MSID, record.sha256, record.location) == BACKUP  # the pinned version
    found = escrow.find(MSID, record.sha256, record.location)
    assert found is not None and found.location == record.location
    with pytest.raises(EssoError, match="ESSO-022"):
        escrow.fetch(MSID, record.sha256)  # unpinned, the current version is checked and refused
    assert not hasattr(escrow, "latest")


# ------------------------------------------------------------------ M2: one stack, one namespace


def test_two_stacks_sharing_a_bucket_never_see_each_others_backups(
    safe_bucket: str, kms_key_arn: str, s3: Any, recwarn: pytest.WarningsRecorder
) -> None:
    stack_a = S3Escrow(safe_bucket, "esso", kms_key_arn, REGION, namespace=NAMESPACE)
    stack_b = S3Escrow(safe_bucket, "esso", kms_key_arn, REGION, namespace=OTHER_NAMESPACE)
    a = stack_a.store(MSID, BACKUP)

    assert stack_b.find(MSID, a.sha256, a.location) is None  # B can neither adopt A's backup ...
    with pytest.raises(EssoError, match="ESSO-025"):
        stack_b.fetch(MSID, a.sha256, a.location)  # ... nor read it, even given A's location
    b = stack_b.store(MSID, OTHER)  # ... nor overwrite it, nor be warned about it
    assert not [w for w in recwarn.list if issubclass(w.category, EscrowWarning)]
    assert key_of(OTHER, namespace=OTHER_NAMESPACE) in b.location
    assert stack_a.fetch(MSID, a.sha256, a.location) == BACKUP
    assert len(all_versions(s3)) == 2


# ----------------------------------------------------- backups kept before namespaces (migration)


def put_legacy(s3: Any, data: bytes, cluster: str | None) -> str:
    key = f"esso/{SEGMENT}/{sha(data)}.bak"
    tagging = {"Tagging": f"cluster={cluster}"} if cluster else {}
    s3.put_object(Bucket=BUCKET, Key=key, Body=data, ServerSideEncryption="aws:kms", **tagging)
    return key


def test_a_legacy_object_is_read_by_its_recorded_sha_and_copied_into_the_namespace(escrow: S3Escrow, s3: Any) -> None:
    legacy = put_legacy(s3, BACKUP, CLUSTER)
    assert escrow.fetch(MSID, sha(BACKUP)) == BACKUP
    with pytest.warns(EscrowWarning, match="kept before escrows had namespaces"):
        record = escrow.find(MSID, sha(BACKUP))
    assert record is not None and key_of(BACKUP) in record.location
    assert s3.get_object(Bucket=BUCKET, Key=legacy)["Body"].read() == BACKUP  # kept, never moved
    assert escrow.find(MSID, sha(OTHER)) is None


def test_a_legacy_object_of_another_cluster_is_never_used(escrow: S3Escrow, s3: Any) -> None:
    put_legacy(s3, BACKUP, "OTHERCLUSTER")
    assert escrow.find(MSID, sha(BACKUP)) is None
    with pytest.raises(EssoError, match="ESSO-025"):
        escrow.fetch(MSID, sha(BACKUP))


# ------------------------------------------ the authenticated record of the backup restores copy


def test_the_record_in_use_is_an_sse_kms_object_beside_the_backups(
    escrow: S3Escrow, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = SecretStr("Bak-Sentinel-93fa#")
    record = escrow.store(MSID, BACKUP)
    calls = record_calls(monkeypatch)
    assert escrow.record_in_use(record, password) is True
    kept = escrow.recorded(MSID, password)
    assert (kept.sha256, kept.location) == (record.sha256, record.location)  # the exact version
    key = f"esso/{NAMESPACE}/{SEGMENT}/recorded.json"
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert [name for name, params in calls if params.get("ExpectedBucketOwner") != ACCOUNT] == []
    s3.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().replace(record.sha256.encode(), sha(OTHER).encode()),
    )
    with pytest.raises(EssoError, match="ESSO-012"):
        escrow.recorded(MSID, password)
