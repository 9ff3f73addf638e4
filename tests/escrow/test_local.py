"""LocalEscrow: stored and read back intact, verified on every read, kept private, never in a temp folder."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import stat
import warnings
from pathlib import Path

import pytest
from pydantic import SecretStr

from provider.errors import EssoError
from provider.escrow import EscrowRecord, EscrowWarning, LocalEscrow, holds_msid
from tests.escrow.conftest import CLUSTER, MSID, NAMESPACE, OTHER_NAMESPACE, SEGMENT

BACKUP = b"\x01\x02ESSO master secret backup, encrypted with its password\x00" * 40
OTHER = b"another backup of the same master secret, taken with a new password" * 10


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def escrow(tmp_path: Path) -> LocalEscrow:
    return LocalEscrow(str(tmp_path / "escrow"), namespace=NAMESPACE, allow_ephemeral=True)


def folder_of(tmp_path: Path) -> Path:
    """Where this stack's backups of MSID live: ``<path>/<domain>/<network name>/<msid>``."""
    return tmp_path / "escrow" / NAMESPACE / SEGMENT


def test_store_then_fetch_returns_the_same_bytes(escrow: LocalEscrow, tmp_path: Path) -> None:
    record = escrow.store(MSID, BACKUP)

    backup = folder_of(tmp_path) / f"{sha(BACKUP)}.bak"
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
        escrow.store(MSID, BACKUP)
    finally:
        os.umask(previous)
    root = tmp_path / "escrow"
    assert mode(root) == 0o700
    assert mode(root / "contoso") == mode(root / NAMESPACE) == 0o700
    assert mode(folder_of(tmp_path)) == 0o700
    files = sorted(folder_of(tmp_path).iterdir())
    assert [f.name for f in files] == [f"{sha(BACKUP)}.bak", f"{sha(BACKUP)}.json"]  # no temporary files left
    assert all(mode(f) == 0o600 for f in files)


def test_sidecar_records_what_was_stored(escrow: LocalEscrow, tmp_path: Path) -> None:
    record = escrow.store(MSID, BACKUP)
    sidecar = json.loads((folder_of(tmp_path) / f"{sha(BACKUP)}.json").read_text())
    assert sidecar == {**record.model_dump(), "cluster": NAMESPACE}


def test_storing_the_same_bytes_twice_is_idempotent(
    escrow: LocalEscrow, tmp_path: Path, recwarn: pytest.WarningsRecorder
) -> None:
    first = escrow.store(MSID, BACKUP)
    second = escrow.store(MSID, BACKUP)
    assert second == first
    assert len(list(folder_of(tmp_path).glob("*.bak"))) == 1
    assert not [w for w in recwarn.list if issubclass(w.category, EscrowWarning)]


def test_a_different_backup_of_the_same_msid_gets_its_own_file_and_a_warning(
    escrow: LocalEscrow, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = escrow.store(MSID, BACKUP)
    with pytest.warns(EscrowWarning, match="already has 1 other escrowed backup"):
        second = escrow.store(MSID, OTHER)
    assert second.sha256 != first.sha256
    assert sorted(p.name for p in folder_of(tmp_path).glob("*.bak")) == sorted(
        [f"{first.sha256}.bak", f"{second.sha256}.bak"]
    )
    assert first.sha256 in caplog.text  # the warning is logged too
    assert escrow.fetch(MSID, first.sha256) == BACKUP  # the older backup is kept
    assert escrow.fetch(MSID, second.sha256) == OTHER
    assert escrow.find(MSID, first.sha256) == first  # each by its own SHA-256: there is no "latest"
    assert escrow.find(MSID, second.sha256) == second


def test_find_returns_the_recorded_backup_and_none_for_anything_else(escrow: LocalEscrow) -> None:
    assert escrow.find(MSID, sha(BACKUP)) is None
    record = escrow.store(MSID, BACKUP)
    assert escrow.find(MSID, record.sha256) == record
    assert escrow.find(MSID, sha(OTHER)) is None
    assert escrow.find("{00000000-0000-0000-0000-000000000000}", record.sha256) is None


def test_find_survives_a_lost_sidecar(escrow: LocalEscrow, tmp_path: Path) -> None:
    record = escrow.store(MSID, BACKUP)
    (folder_of(tmp_path) / f"{record.sha256}.json").unlink()
    found = escrow.find(MSID, record.sha256)
    assert found is not None
    assert (found.sha256, found.location, found.size) == (record.sha256, record.location, record.size)


def test_find_does_not_return_a_tampered_backup(escrow: LocalEscrow) -> None:
    record = escrow.store(MSID, BACKUP)
    Path(record.location).write_bytes(b"tampered")
    assert escrow.find(MSID, record.sha256) is None


def test_a_tampered_file_fails_the_integrity_check_and_returns_nothing(escrow: LocalEscrow) -> None:
    record = escrow.store(MSID, BACKUP)
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
    record = escrow.store(MSID, BACKUP)
    Path(record.location).write_bytes(b"garbage")
    with pytest.warns(EscrowWarning, match="did not match its SHA-256"):
        escrow.store(MSID, BACKUP)
    assert escrow.fetch(MSID, record.sha256) == BACKUP
    kept = list(Path(record.location).parent.glob("*.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"garbage"


def test_fetching_a_backup_that_is_not_there_says_so(escrow: LocalEscrow) -> None:
    with pytest.raises(EssoError) as caught:
        escrow.fetch(MSID, sha(BACKUP))
    assert caught.value.code == "ESSO-025"
    assert MSID in str(caught.value)


def test_the_same_guid_in_another_case_or_without_braces_is_the_same_msid(escrow: LocalEscrow) -> None:
    record = escrow.store(MSID, BACKUP)
    assert escrow.fetch(SEGMENT, record.sha256) == BACKUP
    found = escrow.find(SEGMENT.upper(), record.sha256)
    assert found is not None and found.msid == SEGMENT.upper()  # the record keeps the MSID as asked


def test_a_node_holds_an_msid_whatever_its_case_or_braces() -> None:
    """The resources ask one question of a node's SSOSS list (restore, proof, adoption), answered one way."""
    held = [SEGMENT.upper(), "{11111111-2222-3333-4444-555555555555}"]
    assert holds_msid(held, SEGMENT) and holds_msid(held, "11111111-2222-3333-4444-555555555555")
    assert not holds_msid(held, None) and not holds_msid([], SEGMENT)
    assert not holds_msid(held, "99999999-2222-3333-4444-555555555555")


@pytest.mark.parametrize("msid", ["../etc", "..", ".", "a/b", "a\\b", "", "{}", "x" * 200, "a.b"])
def test_an_msid_never_becomes_a_path_outside_the_escrow(escrow: LocalEscrow, msid: str) -> None:
    with pytest.raises(ValueError, match="not a master secret id"):
        escrow.store(msid, BACKUP)


def test_a_temporary_folder_is_refused_unless_ephemeral(tmp_path: Path) -> None:
    with pytest.raises(EssoError) as caught:
        LocalEscrow(str(tmp_path / "escrow"), namespace=NAMESPACE)
    assert caught.value.code == "ESSO-023"
    assert "temporary folder" in str(caught.value)
    assert not (tmp_path / "escrow").exists()


@pytest.mark.parametrize("path", ["/tmp/esso-escrow", "/var/tmp/esso-escrow", "/tmp", "/dev/shm/esso"])
def test_well_known_temporary_folders_are_refused(path: str) -> None:
    with pytest.raises(EssoError) as caught:
        LocalEscrow(path, namespace=NAMESPACE)
    assert caught.value.code == "ESSO-023"


def test_tmpdir_from_the_environment_counts_as_temporary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    custom = tmp_path / "custom-tmp"
    custom.mkdir()
    monkeypatch.setenv("TMPDIR", str(custom))
    with pytest.raises(EssoError, match="ESSO-023"):
        LocalEscrow(str(custom / "escrow"), namespace=NAMESPACE)


@pytest.mark.parametrize("path", ["", "   ", "escrow", "./escrow", "../escrow"])
def test_empty_or_relative_paths_are_refused(path: str) -> None:
    with pytest.raises(EssoError) as caught:
        LocalEscrow(path, namespace=NAMESPACE)
    assert caught.value.code == "ESSO-023"


def test_a_persistent_absolute_path_is_accepted_without_touching_the_disk() -> None:
    escrow = LocalEscrow("/srv/esso-escrow-never-created", namespace=NAMESPACE)
    assert escrow.path == "/srv/esso-escrow-never-created"
    assert not Path(escrow.path).exists()  # folders are created on the first store, not at construction
    assert "/srv/esso-escrow-never-created" in escrow.describe()


@pytest.mark.parametrize("path", ["", "   "])
def test_an_empty_path_is_refused_even_for_the_simulator(path: str) -> None:
    """The spec requires escrow.path for every target, so no default folder is made up here."""
    with pytest.raises(EssoError) as caught:
        LocalEscrow(path, namespace=NAMESPACE, allow_ephemeral=True)
    assert caught.value.code == "ESSO-023"
    assert "escrow.path is empty" in str(caught.value)


def test_ephemeral_relative_paths_resolve_against_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    escrow = LocalEscrow(".state/escrow", namespace=NAMESPACE, allow_ephemeral=True)
    assert escrow.path == str(tmp_path / ".state/escrow")  # absolute: pickling keeps its meaning
    assert "ephemeral" in escrow.describe()
    record = escrow.store(MSID, BACKUP)
    assert Path(record.location).is_relative_to(tmp_path / ".state/escrow" / NAMESPACE)


def test_local_escrow_pickles_by_value(escrow: LocalEscrow) -> None:
    record = escrow.store(MSID, BACKUP)
    copy = pickle.loads(pickle.dumps(escrow))  # noqa: S301 - our own bytes, as the Pulumi SDK does
    assert copy.fetch(MSID, record.sha256) == BACKUP


# ------------------------------------------------------------ M1: the recorded backup, never "the newest"


def test_a_planted_newer_backup_is_never_what_is_read(escrow: LocalEscrow, tmp_path: Path) -> None:
    """Security review M1: someone who can write to the folder plants a "newer" backup of the same MSID."""
    record = escrow.store(MSID, BACKUP)
    planted = b"FORGED BACKUP"
    folder = folder_of(tmp_path)
    (folder / f"{sha(planted)}.bak").write_bytes(planted)
    sidecar = {**record.model_dump(), "sha256": sha(planted), "stored_at": "9999-12-31T00:00:00+00:00"}
    (folder / f"{sha(planted)}.json").write_text(json.dumps({**sidecar, "cluster": NAMESPACE}))

    assert escrow.fetch(MSID, record.sha256) == BACKUP
    assert escrow.find(MSID, record.sha256) == record
    assert not hasattr(escrow, "latest")  # nothing chooses a backup by an object-supplied timestamp


# ------------------------------------------------------------------- M2: one stack, one namespace


def test_two_stacks_sharing_a_folder_never_see_each_others_backups(
    tmp_path: Path, recwarn: pytest.WarningsRecorder
) -> None:
    """Security review M2: stack B, whose node reports stack A's MSID, selects nothing of A's."""
    stack_a = LocalEscrow(str(tmp_path / "escrow"), namespace=NAMESPACE, allow_ephemeral=True)
    stack_b = LocalEscrow(str(tmp_path / "escrow"), namespace=OTHER_NAMESPACE, allow_ephemeral=True)
    a = stack_a.store(MSID, BACKUP)

    assert stack_b.find(MSID, a.sha256) is None  # B cannot adopt A's backup
    with pytest.raises(EssoError) as caught:
        stack_b.fetch(MSID, a.sha256)  # nor read it
    assert caught.value.code == "ESSO-025"

    b = stack_b.store(MSID, OTHER)  # nor overwrite it, nor be warned about it
    assert not [w for w in recwarn.list if issubclass(w.category, EscrowWarning)]
    assert Path(b.location).is_relative_to(tmp_path / "escrow" / OTHER_NAMESPACE)
    assert stack_a.fetch(MSID, a.sha256) == BACKUP
    with pytest.raises(EssoError, match="ESSO-025"):
        stack_a.fetch(MSID, b.sha256)


@pytest.mark.parametrize(
    ("domain", "network_name", "expected"),
    [("CONTOSO", "SSOCLUSTER", "contoso/ssocluster"), ("Contoso", "SSO!01", "contoso/sso.2101")],
)
def test_the_namespace_is_the_cluster_in_a_form_safe_for_folders_keys_and_tags(
    domain: str, network_name: str, expected: str
) -> None:
    from provider.escrow import escrow_namespace

    assert escrow_namespace(domain, network_name) == expected


# ------------------------------------------------------- backups kept before namespaces (migration)


def legacy_backup(tmp_path: Path, data: bytes, cluster: str | None) -> Path:
    """A backup as the escrow kept it before namespaces: ``<path>/<msid>/<sha>.bak`` and its sidecar."""
    folder = tmp_path / "escrow" / SEGMENT
    folder.mkdir(parents=True)
    backup = folder / f"{sha(data)}.bak"
    backup.write_bytes(data)
    if cluster is not None:
        record = {"msid": MSID, "sha256": sha(data), "location": str(backup), "size": len(data)}
        sidecar = {**record, "stored_at": "2026-01-01T00:00:00+00:00", "cluster": cluster}
        (folder / f"{sha(data)}.json").write_text(json.dumps(sidecar))
    return backup


def test_a_legacy_backup_is_read_by_its_recorded_sha_and_copied_into_the_namespace(
    escrow: LocalEscrow, tmp_path: Path
) -> None:
    legacy = legacy_backup(tmp_path, BACKUP, CLUSTER)
    assert escrow.fetch(MSID, sha(BACKUP)) == BACKUP  # a restore still finds it
    with pytest.warns(EscrowWarning, match="kept before escrows had namespaces"):
        record = escrow.find(MSID, sha(BACKUP))
    assert record is not None
    assert Path(record.location) == folder_of(tmp_path) / f"{sha(BACKUP)}.bak"
    assert legacy.read_bytes() == BACKUP  # copied, never moved: nothing is lost
    assert escrow.find(MSID, sha(BACKUP)) == record  # the next look finds the namespaced copy


def test_a_legacy_backup_without_a_sidecar_is_still_found_by_its_exact_sha(escrow: LocalEscrow, tmp_path: Path) -> None:
    legacy_backup(tmp_path, BACKUP, None)
    assert escrow.fetch(MSID, sha(BACKUP)) == BACKUP
    assert escrow.find(MSID, sha(OTHER)) is None  # only the SHA-256 state recorded, nothing listed


def test_a_legacy_backup_of_another_cluster_is_never_used(escrow: LocalEscrow, tmp_path: Path) -> None:
    legacy_backup(tmp_path, BACKUP, "OTHERCLUSTER")
    assert escrow.find(MSID, sha(BACKUP)) is None
    with pytest.raises(EssoError, match="ESSO-025"):
        escrow.fetch(MSID, sha(BACKUP))
    assert not folder_of(tmp_path).exists()


# ------------------------------------------------------- L5: private folders, no symbolic links


def test_an_existing_root_is_made_0700_whatever_it_was(escrow: LocalEscrow, tmp_path: Path) -> None:
    root = tmp_path / "escrow"
    root.mkdir()
    os.chmod(root, 0o777)  # noqa: S103 - the permissive mode under test
    (root / "contoso").mkdir()
    os.chmod(root / "contoso", 0o755)  # noqa: S103 - the permissive mode under test
    escrow.store(MSID, BACKUP)
    assert mode(root) == 0o700
    assert mode(root / "contoso") == 0o700


def test_reading_also_makes_the_folders_private(escrow: LocalEscrow, tmp_path: Path) -> None:
    record = escrow.store(MSID, BACKUP)
    os.chmod(tmp_path / "escrow", 0o755)  # noqa: S103 - the permissive mode under test
    os.chmod(folder_of(tmp_path), 0o777)  # noqa: S103 - the permissive mode under test
    assert escrow.fetch(MSID, record.sha256) == BACKUP
    assert mode(tmp_path / "escrow") == mode(folder_of(tmp_path)) == 0o700


@pytest.mark.parametrize("where", ["msid", "network", "domain"])
def test_a_symlinked_folder_is_refused_and_its_target_untouched(
    escrow: LocalEscrow, tmp_path: Path, where: str
) -> None:
    """Security review L5: a link planted in place of a folder (the MSID is a public output) would receive the
    backup and have its target's mode changed."""
    elsewhere = tmp_path / "someone-elses-dir"
    elsewhere.mkdir()
    os.chmod(elsewhere, 0o755)  # noqa: S103 - the permissive mode under test
    link = {"msid": folder_of(tmp_path), "network": folder_of(tmp_path).parent, "domain": tmp_path / "escrow/contoso"}
    link[where].parent.mkdir(parents=True)
    link[where].symlink_to(elsewhere, target_is_directory=True)

    with pytest.raises(EssoError) as caught:
        escrow.store(MSID, BACKUP)
    assert caught.value.code == "ESSO-023"
    assert "symbolic link" in str(caught.value)
    assert str(link[where]) in str(caught.value)
    assert list(elsewhere.iterdir()) == []
    assert mode(elsewhere) == 0o755
    with pytest.raises(EssoError, match="ESSO-023"):
        escrow.fetch(MSID, sha(BACKUP))


def test_a_symlinked_root_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "escrow").symlink_to(real, target_is_directory=True)
    escrow = LocalEscrow(str(tmp_path / "escrow"), namespace=NAMESPACE, allow_ephemeral=True)
    with pytest.raises(EssoError, match="ESSO-023"):
        escrow.store(MSID, BACKUP)
    assert list(real.iterdir()) == []


def test_a_symlinked_backup_file_is_never_read(escrow: LocalEscrow, tmp_path: Path) -> None:
    record = escrow.store(MSID, BACKUP)
    outside = tmp_path / "outside.bak"
    outside.write_bytes(BACKUP)
    Path(record.location).unlink()
    Path(record.location).symlink_to(outside)
    with pytest.raises(EssoError) as caught:
        escrow.fetch(MSID, record.sha256)
    assert caught.value.code == "ESSO-023"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(EssoError, match="ESSO-023"):
            escrow.store(MSID, BACKUP)  # nor written through
    assert outside.read_bytes() == BACKUP


# ------------------------------------------ the authenticated record of the backup restores copy


PASSWORD = SecretStr("Bak-Sentinel-93fa#")


def test_the_record_in_use_is_written_once_and_read_back(escrow: LocalEscrow, tmp_path: Path) -> None:
    record = escrow.store(MSID, BACKUP)
    assert escrow.record_in_use(record, PASSWORD) is True
    assert escrow.record_in_use(record, PASSWORD) is False  # unchanged: not rewritten
    kept = escrow.recorded(MSID, PASSWORD)
    assert (kept.sha256, kept.location, kept.namespace) == (record.sha256, record.location, NAMESPACE)
    manifest = folder_of(tmp_path) / "recorded.json"
    assert mode(manifest) == 0o600
    assert "Bak-Sentinel" not in manifest.read_text()


def test_no_record_says_how_to_write_one(escrow: LocalEscrow) -> None:
    escrow.store(MSID, BACKUP)
    with pytest.raises(EssoError) as caught:
        escrow.recorded(MSID, PASSWORD)
    assert caught.value.code == "ESSO-025"
    assert "pulumi up --refresh" in str(caught.value)


@pytest.mark.parametrize(
    "change",
    [{"sha256": sha(OTHER)}, {"location": "/elsewhere/x.bak"}, {"namespace": OTHER_NAMESPACE}, {"mac": "0" * 64}],
    ids=["sha256", "location", "namespace", "mac"],
)
def test_an_altered_record_does_not_authenticate(escrow: LocalEscrow, tmp_path: Path, change: dict[str, str]) -> None:
    escrow.record_in_use(escrow.store(MSID, BACKUP), PASSWORD)
    manifest = folder_of(tmp_path) / "recorded.json"
    manifest.write_text(json.dumps(json.loads(manifest.read_text()) | change))
    with pytest.raises(EssoError) as caught:
        escrow.recorded(MSID, PASSWORD)
    assert caught.value.code == "ESSO-012"
    assert "does not authenticate" in str(caught.value)
    assert "Bak-Sentinel" not in str(caught.value)


def test_another_password_does_not_authenticate_the_record(escrow: LocalEscrow) -> None:
    escrow.record_in_use(escrow.store(MSID, BACKUP), PASSWORD)
    with pytest.raises(EssoError, match="ESSO-012"):
        escrow.recorded(MSID, SecretStr("Another-Password-1!"))


def test_a_record_copied_from_another_stack_does_not_authenticate(tmp_path: Path) -> None:
    """M2: even with the same backup password, stack A's record moved into B's namespace is refused."""
    stack_a = LocalEscrow(str(tmp_path / "escrow"), namespace=NAMESPACE, allow_ephemeral=True)
    stack_b = LocalEscrow(str(tmp_path / "escrow"), namespace=OTHER_NAMESPACE, allow_ephemeral=True)
    stack_a.record_in_use(stack_a.store(MSID, BACKUP), PASSWORD)
    stack_b.record_in_use(stack_b.store(MSID, OTHER), PASSWORD)
    theirs = tmp_path / "escrow" / OTHER_NAMESPACE / SEGMENT
    shutil.copy(folder_of(tmp_path) / f"{sha(BACKUP)}.bak", theirs)
    shutil.copy(folder_of(tmp_path) / "recorded.json", theirs)
    with pytest.raises(EssoError, match="ESSO-012"):
        stack_b.recorded(MSID, PASSWORD)


@pytest.mark.parametrize("change", [{"rounds": 10**12}, {"rounds": 1}, {"salt": "00"}], ids=["huge", "tiny", "salt"])
def test_a_record_with_forged_parameters_is_refused_before_any_key_is_derived(
    escrow: LocalEscrow, tmp_path: Path, change: dict[str, object]
) -> None:
    """A forged round count must not make a restore spin for hours (the rounds are read from the record)."""
    escrow.record_in_use(escrow.store(MSID, BACKUP), PASSWORD)
    manifest = folder_of(tmp_path) / "recorded.json"
    manifest.write_text(json.dumps(json.loads(manifest.read_text()) | change))
    with pytest.raises(EssoError) as caught:
        escrow.recorded(MSID, PASSWORD)
    assert caught.value.code == "ESSO-012"
    assert "is not a record this tool wrote" in str(caught.value)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a folder away needs root")
def test_a_folder_owned_by_another_user_is_refused(escrow: LocalEscrow, tmp_path: Path) -> None:
    """As ssh refuses a key folder it does not own: another user could swap the backups."""
    root = tmp_path / "escrow"
    root.mkdir(mode=0o700)
    os.chown(root, 12345, -1)
    with pytest.raises(EssoError) as caught:
        escrow.store(MSID, BACKUP)
    assert caught.value.code == "ESSO-023"
    assert "belongs to user id 12345" in str(caught.value)
    assert list(root.iterdir()) == []
