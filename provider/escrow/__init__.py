"""Where the master secret backup is kept ("escrow"): a local folder, or an S3 bucket with SSE-KMS.

Why this matters: the backup file taken on the first node is the only way to restore the master secret
on another node (or after node 1 is lost). Losing it makes every SSO secret unrecoverable, so:

* an escrow is bound to one stack's namespace (its cluster) and reads only the backup whose MSID and
  SHA-256 the state recorded: never "the newest", never another stack's (security review M1, M2);
* every read verifies that SHA-256 (ESSO-022); a mismatch returns nothing;
* nothing here deletes a backup: a different backup of the same MSID gets its own file/key (and a
  warning), and a corrupted copy is kept aside (local) or left as an older version (S3);
* a local escrow refuses temporary or relative folders (ESSO-023) unless the caller says the escrow is
  ephemeral (the simulator/demo target), keeps its folders 0700 and follows no symbolic link;
* an S3 escrow refuses, before any write, a bucket without versioning, without all four PublicAccessBlock
  flags, or whose policy lets another account delete or overwrite objects (ESSO-024); every call names
  the bucket's expected owner.

Modules: ``base`` (records, names, the interface), ``local`` with ``folder``, ``s3`` with ``s3_bucket``,
``factory``.
The backup password's Secrets Manager lookup lives in :mod:`provider.backup_password`.
"""

from provider.backup_password import backup_password_from_secrets_manager
from provider.escrow.base import (
    Escrow,
    EscrowNotWritableError,
    EscrowRecord,
    EscrowWarning,
    escrow_namespace,
    holds_msid,
    msid_segment,
    same_msid,
    sha256_hex,
)
from provider.escrow.factory import escrow_for
from provider.escrow.folder import DIR_MODE, FILE_MODE
from provider.escrow.local import LocalEscrow
from provider.escrow.s3 import S3Escrow
from provider.escrow.s3_bucket import PUBLIC_ACCESS_FLAGS

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "PUBLIC_ACCESS_FLAGS",
    "Escrow",
    "EscrowNotWritableError",
    "EscrowRecord",
    "EscrowWarning",
    "LocalEscrow",
    "S3Escrow",
    "backup_password_from_secrets_manager",
    "escrow_for",
    "escrow_namespace",
    "holds_msid",
    "msid_segment",
    "same_msid",
    "sha256_hex",
]
