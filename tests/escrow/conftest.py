"""Fixtures for the escrow tests: fake AWS credentials (never the real chain) and moto's S3, KMS, Secrets Manager."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account: what STS GetCallerIdentity answers with the fake credentials
BUCKET = "esso-escrow-test"
MSID = "{6F9619FF-8B86-D011-B42D-00C04FC964FF}"  # as ESSO prints it
SEGMENT = "6f9619ff-8b86-d011-b42d-00c04fc964ff"  # as the escrow files it
DOMAIN = "CONTOSO"
CLUSTER = "SSOCLUSTER"  # the Network Name
NAMESPACE = "contoso/ssocluster"  # escrow_namespace(DOMAIN, CLUSTER)
OTHER_NAMESPACE = "fabrikam/ssocluster"  # another stack's cluster, sharing the folder or bucket
ALL_BLOCKED = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials and no config files, so nothing here can reach a real AWS account."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def s3(aws: None) -> Any:
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def kms_key_arn(aws: None) -> str:
    key = boto3.client("kms", region_name=REGION).create_key(Description="esso escrow")
    return str(key["KeyMetadata"]["Arn"])


def make_bucket(
    s3: Any,
    name: str = BUCKET,
    *,
    versioning: str | None = "Enabled",
    public_access_block: dict[str, bool] | None = ALL_BLOCKED,
) -> str:
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    if versioning is not None:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
    if public_access_block is not None:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=dict(public_access_block))
    return name


def make_locked_bucket(s3: Any, name: str = BUCKET) -> str:
    """A private bucket with Object Lock (COMPLIANCE, one year by default): no version can be deleted."""
    s3.create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}, ObjectLockEnabledForBucket=True
    )
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=dict(ALL_BLOCKED))
    s3.put_object_lock_configuration(
        Bucket=name,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 365}},
        },
    )
    return name


@pytest.fixture
def safe_bucket(s3: Any) -> str:
    return make_bucket(s3)


def all_versions(s3: Any, bucket: str = BUCKET) -> list[dict[str, Any]]:
    listing = s3.list_object_versions(Bucket=bucket)
    return list(listing.get("Versions", [])) + list(listing.get("DeleteMarkers", []))
