"""What an S3 escrow bucket must be before a backup is written to it (ESSO-024), and who owns it.

Why each check (security review M5): versioning keeps every overwritten backup; the four PublicAccessBlock
flags keep it private; no bucket-policy statement may let another account (or anyone) delete, overwrite or
re-configure what is kept, because versioning alone does not stop ``s3:DeleteObjectVersion``; and every call
names the account that must own the bucket (``ExpectedBucketOwner``), so a mistyped or re-created bucket of
another account never receives a backup. Object Lock (a default retention on the bucket) is what makes the
backups undeletable even by this account: it is reported, and its absence logged, but not required, because
it can only be turned on when a bucket is created (https://docs.aws.amazon.com/AmazonS3/latest/userguide/
object-lock.html). Policy grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from typing import Any

from provider.backup_password import aws_error_code as error_code
from provider.errors import EssoError
from provider.escrow.base import log

PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
# Actions that can destroy, replace or unprotect an escrowed backup: none may be granted to another account.
GUARDED_ACTIONS = (
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:BypassGovernanceRetention",
    "s3:DeleteBucket",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutBucketVersioning",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketPublicAccessBlock",
)
_ACCOUNT_ARN = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):")


def caller_account(region: str | None) -> str:
    """The AWS account of the identity running pulumi: the owner every S3 call expects by default."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return str(boto3.client("sts", region_name=region).get_caller_identity()["Account"])
    except (ClientError, BotoCoreError) as exc:
        raise EssoError(
            "ESSO-024",
            f"the AWS account of the program's identity could not be read ({error_code(exc)}); the escrow bucket "
            "must belong to it: set AWS credentials (and escrow.region) for the program.",
            step="escrow",
        ) from None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _principals(value: Any) -> list[str]:
    if value == "*":
        return ["*"]
    if isinstance(value, dict):
        return [str(p) for kind in value.values() for p in _as_list(kind)]
    return [str(p) for p in _as_list(value)]


def _account_of(principal: str) -> str | None:
    if re.fullmatch(r"\d{12}", principal):
        return principal
    match = _ACCOUNT_ARN.match(principal)
    return match.group(1) if match else None


def foreign_grants(policy: str, owner: str) -> list[str]:
    """Each statement of a bucket policy that lets anyone outside ``owner`` run a guarded action.

    Conservative on purpose: conditions are not evaluated (a condition is easy to get wrong), and an Allow
    with ``NotPrincipal`` or ``NotAction`` counts as a grant to everyone.
    """
    try:
        statements = _as_list(json.loads(policy).get("Statement"))
    except (ValueError, AttributeError):
        return ["the bucket policy is not a JSON policy document"]
    found: list[str] = []
    for index, statement in enumerate(statements, start=1):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        name = str(statement.get("Sid") or f"#{index}")
        if "NotPrincipal" in statement or "NotAction" in statement:
            found.append(f"statement {name} allows with NotPrincipal or NotAction, which reaches other accounts")
            continue
        foreign = [p for p in _principals(statement.get("Principal")) if _account_of(p) != owner]
        actions = [str(a) for a in _as_list(statement.get("Action"))]
        hits = [g for g in GUARDED_ACTIONS if any(fnmatchcase(g.lower(), a.lower()) for a in actions)]
        if foreign and hits:
            found.append(f"statement {name} lets {', '.join(foreign)} call {', '.join(hits)}")
    return found


def verify_bucket(s3: Any, bucket: str, owner: str) -> None:
    """ESSO-024 unless the bucket (owned by ``owner``) is versioned, private and grants no other account a
    guarded action. Every problem is named at once; nothing is written before this passes."""
    from botocore.exceptions import ClientError

    mine = {"Bucket": bucket, "ExpectedBucketOwner": owner}
    problems: list[str] = []

    def unreadable(what: str, permission: str, exc: Any) -> str:
        code = error_code(exc)
        extra = f"; S3 also answers so when account {owner} does not own the bucket" if code == "AccessDenied" else ""
        return f"its {what} could not be read ({code}: grant {permission}{extra})"

    try:
        status = s3.get_bucket_versioning(**mine).get("Status")
    except ClientError as exc:
        if error_code(exc) == "NoSuchBucket":
            raise EssoError(
                "ESSO-024", f"bucket {bucket} does not exist; nothing was written.", step="escrow-store"
            ) from None
        problems.append(unreadable("versioning", "s3:GetBucketVersioning", exc))
    else:
        if status != "Enabled":
            problems.append(f"versioning is {str(status).lower() if status else 'not enabled'} (needs Enabled)")
    try:
        config: dict[str, Any] = s3.get_public_access_block(**mine)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchPublicAccessBlockConfiguration":
            problems.append("it has no PublicAccessBlock configuration")
        else:
            problems.append(unreadable("PublicAccessBlock", "s3:GetBucketPublicAccessBlock", exc))
    else:
        off = [flag for flag in PUBLIC_ACCESS_FLAGS if config.get(flag) is not True]
        if off:
            problems.append(f"PublicAccessBlock flag(s) not true: {', '.join(off)}")
    try:
        policy = str(s3.get_bucket_policy(**mine)["Policy"])
    except ClientError as exc:
        if error_code(exc) != "NoSuchBucketPolicy":
            problems.append(unreadable("bucket policy", "s3:GetBucketPolicy", exc))
    else:
        grants = foreign_grants(policy, owner)
        if grants:
            problems.append(
                f"its bucket policy lets another account delete, overwrite or unprotect backups ({'; '.join(grants)}): "
                "remove those grants"
            )
    if problems:
        raise EssoError(
            "ESSO-024", f"bucket {bucket}: {'; '.join(problems)}; nothing was written.", step="escrow-store"
        )
    _report_object_lock(s3, mine)


def _report_object_lock(s3: Any, mine: dict[str, str]) -> None:
    """Log whether Object Lock protects the backups (a default retention); never fails the run."""
    from botocore.exceptions import ClientError

    try:
        config = s3.get_object_lock_configuration(**mine).get("ObjectLockConfiguration", {})
    except ClientError:
        config = {}
    retention = config.get("Rule", {}).get("DefaultRetention", {})
    if config.get("ObjectLockEnabled") == "Enabled" and retention:
        log.info("escrow: bucket %s has Object Lock (%s retention)", mine["Bucket"], retention.get("Mode"))
    else:
        log.warning(
            "escrow: bucket %s has no Object Lock default retention: an identity of account %s allowed "
            "s3:DeleteObjectVersion can still destroy the escrowed backups (see the README's escrow section)",
            mine["Bucket"],
            mine["ExpectedBucketOwner"],
        )
