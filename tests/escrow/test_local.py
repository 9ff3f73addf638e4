"""LocalEscrow: stored and read back intact, verified on every read, kept private, never in a temp folder."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import stat
from pathlib import Path

import pytest

from provider.errors import EssoError
from provider.escrow import DEFAULT_EPHEMERAL_PATH, EscrowRecord, EscrowWarning, LocalEscrow
from tests.escrow.conftest import CLUSTER, MSID, SEGMENT

BACKUP = b"\x01\x02ESSO master secret backup, encrypted with its password\x00" * 40
OTHER = b"another backup of the same master secret, taken with a new password" * 10


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def escrow(tmp_path: Path) -> LocalEscrow:
    return LocalEscrow(str(tmp_path / "escrow"), allow_ephemeral=True)


def test_store_then_fetch_returns_the_same_bytes(escrow: LocalEscrow, tmp_path: Path) -> None:
    record = escrow.store(MSID, BACKUP, cluster=CLUSTER)

    backup = tmp_path / "escrow" / SEGMENT / f"{sha(BACKUP)}.bak"
    assert record == EscrowRecord(
        msid=MSID, sha256=sha(BACKUP), location=str(backup), size=len(BACKUP), stored_at=record.stored_at
    )
    assert record.stored_at.endswith("+00:00")  # ISO 8601, UTC
    assert backup.read_bytes() == BACKUP
    assert escrow.fetch(MSID, record.sha256) == BACKUP
    assert escrow.fetch(MSID, record.sha256.upper()) == BACKUP  # a digest is a digest, whatever its case


def test_folders_are_0700_and_files_0600_whatever_the_umask(escrow: LocalEscrow, tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        escrow.store(MSID, BACKUP, cluster=CLUSTER)
    finally:
        os.umask(previous)
    root = tmp_path / "escrow"
    assert mode(root) == 0o700
    assert mode(root / SEGMENT) == 0o700
    files = sorted((root / SEGMENT).iterdir())
    assert [f.name for f in files] == [f"{sha(BACKUP)}.bak", f"{sha(BACKUP)}.json"]  # no temporary files left
    assert all(mode(f) == 0o600 for f in files)


def test_sidecar_records_what_was_stored(escrow: LocalEscrow, tmp_path: Path) -> None:
    record = escrow.store(MSID, BACKUP, cluster=CLUSTER)
    sidecar = json.loads((tmp_path / "escrow" / SEGMENT / f"{sha(BACKUP)}.json").read_text())
    assert sidecar == {**record.model_dump(), "cluster": CLUSTER}


def test_storing_the_same_bytes_twice_is_idempotent(
    escrow: LocalEscrow, tmp_path: Path, recwarn: pytest.WarningsRecorder
) -> None:
    first = escrow.store(MSID, BACKUP, cluster=CLUSTER)
    second = escrow.store(MSID, BACKUP, cluster=CLUSTER)
    assert second == first
    assert len(list((tmp_path / "escrow" / SEGMENT).glob("*.bak"))) == 1
    assert not [w for w in recwarn.list if issubclass(w.category, EscrowWarning)]


def test_a_different_backup_of_the_same_msid_gets_its_own_file_and_a_warning(
    escrow: LocalEscrow, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = escrow.store(MSID, BACKUP, cluster=CLUSTER)
    with pytest.warns(EscrowWarning, match="already has 1 other escrowed backup"):
        second = escrow.store(MSID, OTHER, cluster=CLUSTER)
    assert second.sha256 != first.sha256
    assert sorted(p.name for p in (tmp_path / "escrow" / SEGMENT).glob("*.bak")) == sorted(
        [f"{first.sha256}.bak", f"{second.sha256}.bak"]
    )
    assert first.sha256 in caplog.text  # the warning is logged too
    assert escrow.fetch(MSID, first.sha256) == BACKUP  # the older backup is kept
    assert escrow.fetch(MSID, second.sha256) == OTHER
    assert escrow.latest(MSID) == second


def test_latest_finds_the_newest_backup_and_none_for_an_unknown_msid(escrow: LocalEscrow) -> None:
    assert escrow.latest(MSID) is None
    record = escrow.store(MSID, BACKUP, cluster=CLUSTER)
    assert escrow.latest(MSID) == record
    assert escrow.latest("{00000000-0000-0000-0000-000000000000}") is None


def test_latest_survives_a_lost_sidecar(escrow: LocalEscrow, tmp_path: Path) -> None:
    record = escrow.store(MSID, BACKUP, cluster=CLUSTER)
    (tmp_path / "escrow" / SEGMENT / f"{record.sha256}.json").unlink()
    found = escrow.latest(MSID)
    assert found is not None
    assert (found.sha256, found.location, found.size) == (record.sha256, record.location, record.size)


def test_a_tampered_file_fails_the_integrity_check_and_returns_nothing(escrow: LocalEscrow) -> None:
    record = escrow.store(MSID, BACKUP, cluster=CLUSTER)
    Path(record.location).write_bytes(b"tampered" + BACKUP[8:])

    returned: bytes | None = None
    with pytest.raises(EssoError) as caught:
        returned = escrow.fetch(MSID, record.sha256)
    assert returned is None
    assert caught.value.code == "ESSO-022"
    message = str(caught.value)
    assert "integrity check" in message
    assert record.sha256 in message and sha(b"tampered" + BACKUP[8:]) in message
    assert record.location in message
    assert "nothing was returned" in message


def test_storing_again_after_tampering_keeps_the_bad_copy_aside(escrow: LocalEscrow) -> None:
    record = escrow.store(MSID, BACKUP, cluster=CLUSTER)
    Path(record.location).write_bytes(b"garbage")
    with pytest.warns(EscrowWarning, match="did not match its SHA-256"):
        escrow.store(MSID, BACKUP, cluster=CLUSTER)
    assert escrow.fetch(MSID, record.sha256) == BACKUP
    kept = list(Path(record.location).parent.glob("*.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"garbage"


def test_fetching_a_backup_that_is_not_there_says_so(escrow: LocalEscrow) -> None:
    with pytest.raises(EssoError) as caught:
        escrow.fetch(MSID, sha(BACKUP))
    assert caught.value.code == "ESSO-025"
    assert MSID in str(caught.value)


def test_the_same_guid_in_another_case_or_without_braces_is_the_same_msid(escrow: LocalEscrow) -> None:
    record = escrow.store(MSID, BACKUP, cluster=CLUSTER)
    assert escrow.fetch(SEGMENT, record.sha256) == BACKUP
    latest = escrow.latest(SEGMENT.upper())
    assert latest is not None and latest.msid == SEGMENT.upper()  # the record keeps the MSID as asked


@pytest.mark.parametrize("msid", ["../etc", "..", ".", "a/b", "a\\b", "", "{}", "x" * 200, "a.b"])
def test_an_msid_never_becomes_a_path_outside_the_escrow(escrow: LocalEscrow, msid: str) -> None:
    with pytest.raises(ValueError, match="not a master secret id"):
        escrow.store(msid, BACKUP, cluster=CLUSTER)


def test_a_temporary_folder_is_refused_unless_ephemeral(tmp_path: Path) -> None:
    with pytest.raises(EssoError) as caught:
        LocalEscrow(str(tmp_path / "escrow"))
    assert caught.value.code == "ESSO-023"
    assert "temporary folder" in str(caught.value)
    assert not (tmp_path / "escrow").exists()


@pytest.mark.parametrize("path", ["/tmp/esso-escrow", "/var/tmp/esso-escrow", "/tmp", "/dev/shm/esso"])
def test_well_known_temporary_folders_are_refused(path: str) -> None:
    with pytest.raises(EssoError) as caught:
        LocalEscrow(path)
    assert caught.value.code == "ESSO-023"


def test_tmpdir_from_the_environment_counts_as_temporary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    custom = tmp_path / "custom-tmp"
    custom.mkdir()
    monkeypatch.setenv("TMPDIR", str(custom))
    with pytest.raises(EssoError, match="ESSO-023"):
        LocalEscrow(str(custom / "escrow"))


@pytest.mark.parametrize("path", ["", "   ", "escrow", "./escrow", "../escrow"])
def test_empty_or_relative_paths_are_refused(path: str) -> None:
    with pytest.raises(EssoError) as caught:
        LocalEscrow(path)
    assert caught.value.code == "ESSO-023"


def test_a_persistent_absolute_path_is_accepted_without_touching_the_disk() -> None:
    escrow = LocalEscrow("/srv/esso-escrow-never-created")
    assert escrow.path == "/srv/esso-escrow-never-created"
    assert not Path(escrow.path).exists()  # folders are created on the first store, not at construction
    assert "/srv/esso-escrow-never-created" in escrow.describe()


def test_ephemeral_with_no_path_uses_the_project_state_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    escrow = LocalEscrow("", allow_ephemeral=True)
    assert escrow.path == str(tmp_path / DEFAULT_EPHEMERAL_PATH)  # absolute: pickling keeps its meaning
    assert "ephemeral" in escrow.describe()
    record = escrow.store(MSID, BACKUP, cluster=CLUSTER)
    assert Path(record.location).is_relative_to(tmp_path / DEFAULT_EPHEMERAL_PATH)


def test_local_escrow_pickles_by_value(escrow: LocalEscrow) -> None:
    record = escrow.store(MSID, BACKUP, cluster=CLUSTER)
    copy = pickle.loads(pickle.dumps(escrow))  # noqa: S301 - our own bytes, as the Pulumi SDK does
    assert copy.fetch(MSID, record.sha256) == BACKUP
