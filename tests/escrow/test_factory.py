"""escrow_for: the stack's escrow section picks the escrow; nothing touches AWS or the disk at construction.

The spec (provider/spec.py) already refuses a missing bucket, a missing path and temporary folders in
configuration; the escrow refuses them again (defence in depth: sections built with ``model_construct``,
a TMPDIR the spec cannot know, symlinks). Those tests build the section with ``model_construct``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from provider.errors import EssoError
from provider.escrow import LocalEscrow, S3Escrow, escrow_for
from provider.spec import EscrowSection
from tests.escrow.conftest import NAMESPACE

PERSISTENT = "/srv/esso-escrow-never-created"


def test_local_from_the_stack_section() -> None:
    section = EscrowSection.model_validate({"kind": "local", "path": PERSISTENT})
    escrow = escrow_for(section, namespace=NAMESPACE, allow_ephemeral=False)
    assert isinstance(escrow, LocalEscrow)
    assert escrow.path == PERSISTENT
    assert escrow.namespace == NAMESPACE
    assert not Path(PERSISTENT).exists()


def test_ephemeral_local_accepts_a_temporary_folder(tmp_path: Path) -> None:
    section = EscrowSection.model_construct(kind="local", path=str(tmp_path / "escrow"))
    escrow = escrow_for(section, namespace=NAMESPACE, allow_ephemeral=True)
    assert isinstance(escrow, LocalEscrow)
    assert escrow.path == str(tmp_path / "escrow")


def test_local_in_a_temporary_folder_is_refused_for_real_targets(tmp_path: Path) -> None:
    section = EscrowSection.model_construct(kind="local", path=str(tmp_path / "escrow"))
    with pytest.raises(EssoError, match="ESSO-023"):
        escrow_for(section, namespace=NAMESPACE, allow_ephemeral=False)


def test_local_without_a_path_is_refused_for_real_targets() -> None:
    with pytest.raises(EssoError) as caught:
        escrow_for(EscrowSection.model_construct(kind="local", path=None), namespace=NAMESPACE, allow_ephemeral=False)
    assert caught.value.code == "ESSO-023"
    assert "escrow.path" in str(caught.value)


def test_a_relative_path_is_refused_without_a_project_dir() -> None:
    section = EscrowSection.model_validate({"kind": "local", "path": "escrow"})
    with pytest.raises(EssoError, match="ESSO-023"):
        escrow_for(section, namespace=NAMESPACE, allow_ephemeral=False)


def test_a_relative_path_resolves_under_the_project_dir() -> None:
    section = EscrowSection.model_validate({"kind": "local", "path": "escrow"})
    escrow = escrow_for(section, namespace=NAMESPACE, allow_ephemeral=False, project_dir="/srv/esso-project")
    assert isinstance(escrow, LocalEscrow)
    assert escrow.path == "/srv/esso-project/escrow"


def test_a_project_dir_in_a_temporary_folder_is_still_refused(tmp_path: Path) -> None:
    section = EscrowSection.model_validate({"kind": "local", "path": "escrow"})
    with pytest.raises(EssoError, match="ESSO-023"):
        escrow_for(section, namespace=NAMESPACE, allow_ephemeral=False, project_dir=str(tmp_path))


def test_s3_from_the_stack_section() -> None:
    section = EscrowSection.model_validate(
        {"kind": "s3", "bucket": "esso-escrow", "prefix": "prod", "kmsKeyId": "alias/esso", "region": "eu-west-1"}
    )
    escrow = escrow_for(section, namespace=NAMESPACE, allow_ephemeral=False)
    assert isinstance(escrow, S3Escrow)
    assert (escrow.bucket, escrow.prefix, escrow.kms_key_id, escrow.region, escrow.namespace) == (
        "esso-escrow",
        "prod",
        "alias/esso",
        "eu-west-1",
        NAMESPACE,
    )


def test_s3_without_a_bucket_is_refused() -> None:
    with pytest.raises(EssoError) as caught:
        escrow_for(
            EscrowSection.model_construct(kind="s3", bucket=None, prefix="esso"),
            namespace=NAMESPACE,
            allow_ephemeral=True,
        )
    assert caught.value.code == "ESSO-040"
    assert "escrow.bucket" in str(caught.value)
