"""The escrow a stack configures, bound to the stack's namespace (its cluster)."""

from __future__ import annotations

from provider.errors import EssoError
from provider.escrow.base import Escrow
from provider.escrow.local import LocalEscrow
from provider.escrow.s3 import S3Escrow
from provider.spec import EscrowSection


def escrow_for(
    section: EscrowSection, *, namespace: str, allow_ephemeral: bool, project_dir: str | None = None
) -> Escrow:
    """``namespace`` is :func:`escrow_namespace` of the stack's cluster. ``allow_ephemeral`` only for the
    simulator target (demo, tests); ``project_dir`` makes a relative ``escrow.path`` mean "under the project"
    (see :class:`LocalEscrow`)."""
    if section.kind == "s3":
        if not section.bucket:  # the spec requires it; this narrows the type and guards hand-edited state
            raise EssoError("ESSO-040", "escrow.bucket is required when escrow.kind is s3.", step="escrow")
        return S3Escrow(section.bucket, section.prefix, section.kms_key_id, section.region, namespace=namespace)
    return LocalEscrow(
        section.path or "", namespace=namespace, allow_ephemeral=allow_ephemeral, project_dir=project_dir
    )
