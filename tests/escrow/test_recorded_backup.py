"""Restores copy exactly the backup sso-system recorded, from this stack's own namespace (security review M1, M2).

On the simulator, through the providers as the engine sequences them (``tests.support.replacement``): a node is
replaced, so a restore must copy the escrowed backup to the new node. What reaches the node is captured at
``Remote.send_file`` and at the one-chunk copy a restore writes with its folder (Write-FileChunk -RunId).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from provider import contracts
from provider.errors import EssoError
from provider.escrow import EscrowWarning, sha256_hex
from provider.remote.base import Remote
from provider.remote.sim_model import demo_world
from provider.remote.simulator import Simulator
from provider.spec import ClusterSpec
from tests.support.procedure import demo_spec
from tests.support.replacement import Stack, add_node, evict_node, fail_node

NAMESPACE = "contoso/biztalksso"  # the demo stack's cluster


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """(node, path, SHA-256) of every file sent to a node: whole files through ``send_file``, and the one-chunk
    copy a restore writes together with its folder (Write-FileChunk -RunId, issue 15)."""
    seen: list[tuple[str, str, str]] = []
    real = Remote.send_file
    real_run = Remote.run

    def spy(self: Remote, node: str, path: str, data: bytes) -> str:
        seen.append((node, path, hashlib.sha256(data).hexdigest()))
        return real(self, node, path, data)

    def run_spy(self: Remote, node: str, script: Any, params: Any) -> Any:
        if isinstance(params, contracts.WriteFileChunkParams) and params.run_id:
            seen.append((node, params.path, hashlib.sha256(base64.b64decode(params.data_base64)).hexdigest()))
        return real_run(self, node, script, params)

    monkeypatch.setattr(Remote, "send_file", spy)
    monkeypatch.setattr(Remote, "run", run_spy)
    return seen


def replace_node_2(stack: Stack, sim: Simulator, spec_dir: Path, **overrides: Any) -> list[Any]:
    fail_node(sim, "SSO02")
    evict_node(sim, "SSO02")
    add_node(sim, "SSO04")
    return stack.up(demo_spec(spec_dir, ("SSO01", "SSO04"), **overrides))


def test_a_planted_newer_backup_is_ignored_by_the_restore(tmp_path: Path, sent: list[tuple[str, str, str]]) -> None:
    """M1: someone who can write to the escrow (not to the state) plants a "newer" backup of the MSID."""
    stack = Stack()
    stack.up(demo_spec(tmp_path))
    system = dict(stack.outputs("sso-system"))
    recorded = Path(system["escrowLocation"])
    assert recorded.parent == tmp_path / "escrow" / NAMESPACE / system["msid"].strip("{}").lower()

    forged = b"FORGED BACKUP"
    forged_sha = hashlib.sha256(forged).hexdigest()
    (recorded.parent / f"{forged_sha}.bak").write_bytes(forged)
    sidecar = json.loads(recorded.with_suffix(".json").read_text())
    sidecar |= {"sha256": forged_sha, "stored_at": "9999-12-31T00:00:00+00:00"}
    (recorded.parent / f"{forged_sha}.json").write_text(json.dumps(sidecar))
    sent.clear()

    replace_node_2(stack, Simulator(tmp_path / "world.json"), tmp_path)

    assert [(node, sha) for node, _, sha in sent] == [("SSO04", system["backupSha256"])]
    restore = stack.outputs("master-secret-restore-sso04")
    assert restore["restoredFrom"] == system["escrowLocation"]
    assert system["msid"] in Simulator(tmp_path / "world.json").load().nodes["SSO04"].ssoss


def test_a_forged_record_of_the_backup_in_use_stops_the_restore(
    tmp_path: Path, sent: list[tuple[str, str, str]]
) -> None:
    """M1: the attacker also rewrites the escrow's record of which backup restores copy. Without the backup
    password its authentication fails: nothing is restored, nothing reaches the new node."""
    stack = Stack()
    stack.up(demo_spec(tmp_path))
    recorded = Path(stack.outputs("sso-system")["escrowLocation"])
    forged = b"FORGED BACKUP"
    forged_sha = hashlib.sha256(forged).hexdigest()
    (recorded.parent / f"{forged_sha}.bak").write_bytes(forged)
    manifest = recorded.parent / "recorded.json"
    record = json.loads(manifest.read_text())
    manifest.write_text(
        json.dumps(record | {"sha256": forged_sha, "location": str(recorded.parent / f"{forged_sha}.bak")})
    )
    sent.clear()

    with pytest.raises(EssoError) as caught:
        replace_node_2(stack, Simulator(tmp_path / "world.json"), tmp_path)
    assert (caught.value.code, caught.value.node) == ("ESSO-012", "SSO04")
    assert "does not authenticate" in str(caught.value)
    assert sent == []


def test_a_stack_never_restores_another_stacks_backup_from_a_shared_escrow(
    tmp_path: Path, sent: list[tuple[str, str, str]]
) -> None:
    """M2: stacks A and B share an escrow folder; B's SSO database (or a node of B) reports A's MSID. B's
    restore must select nothing of A's: it stops before anything reaches B's new node."""
    shared: dict[str, Any] = {"escrow": {"kind": "local", "path": str(tmp_path / "shared-escrow")}}
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir()
    b_dir.mkdir()
    stack_a = Stack()
    stack_a.up(demo_spec(a_dir, **shared))
    a = stack_a.outputs("sso-system")

    b_cluster = {"networkName": "OTHERSSO", "role": "SSO", "nodes": ["SSO01", "SSO02"]}
    Simulator(b_dir / "world.json").seed(demo_world(nodes=["SSO01", "SSO02"], network_name="OTHERSSO"))
    stack_b = Stack()
    stack_b.up(demo_spec(b_dir, cluster=b_cluster, **shared))
    b = stack_b.outputs("sso-system")
    assert "/contoso/biztalksso/" in a["escrowLocation"] and "/contoso/othersso/" in b["escrowLocation"]

    b_world = Simulator(b_dir / "world.json")
    with b_world.edit() as world:
        for database in world.databases.values():
            database.msid = a["msid"]  # a lie, as a compromised node of B would tell it
    sent.clear()
    with pytest.raises(EssoError) as caught:
        replace_node_2(stack_b, b_world, b_dir, cluster={**b_cluster, "nodes": ["SSO01", "SSO04"]}, **shared)
    assert caught.value.code == "ESSO-025"
    assert caught.value.node == "SSO04"
    assert sent == []  # nothing of A's (nor of B's) reached B's new node
    assert b_world.load().nodes["SSO04"].ssoss == []
    assert Path(a["escrowLocation"]).exists()


# ------------------------------------------- the record restores read: noticed by refresh, written by up


def refresh_and_up(stack: Stack, spec: ClusterSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """``pulumi up --refresh --target sso-system``: read(), then diff() on what read found, and update() if it
    differs; returns what read found and the outputs after the up."""
    refreshed = stack.refresh(spec, targets={"sso-system"})["sso-system"]
    stack.up(spec, targets={"sso-system"})
    return refreshed, stack.outputs("sso-system")


def test_a_lost_record_is_noticed_by_refresh_and_written_again_by_up(tmp_path: Path) -> None:
    spec = demo_spec(tmp_path)
    stack = Stack()
    stack.up(spec)
    system = stack.outputs("sso-system")
    assert system["escrowRecorded"] is True
    manifest = Path(system["escrowLocation"]).parent / "recorded.json"
    manifest.unlink()

    refreshed, updated = refresh_and_up(stack, spec)
    assert refreshed["escrowRecorded"] is False
    assert updated["escrowRecorded"] is True
    assert updated["backupSha256"] == system["backupSha256"]  # the same backup, recorded again
    assert json.loads(manifest.read_text())["sha256"] == system["backupSha256"]
    assert [s["step"] for s in updated["steps"] if s["changed"]] == []  # nothing changed on a node


def test_a_stack_upgraded_from_an_escrow_without_namespaces_keeps_its_backup(
    tmp_path: Path, sent: list[tuple[str, str, str]]
) -> None:
    """Migration: the escrow as the previous version left it (``<path>/<msid>/<sha>.bak``, sidecar naming the
    Network Name, no record). `pulumi up --refresh` copies the backup state recorded into the namespace
    (by its exact SHA-256) and records it; the old file is kept; a new node is then restored from it."""
    stack = Stack()
    spec = demo_spec(tmp_path)
    stack.up(spec)
    system = dict(stack.outputs("sso-system"))
    segment = system["msid"].strip("{}").lower()
    legacy = tmp_path / "escrow" / segment
    shutil.move(str(Path(system["escrowLocation"]).parent), legacy)
    (legacy / "recorded.json").unlink()
    sidecar = legacy / f"{system['backupSha256']}.json"
    sidecar.write_text(json.dumps(json.loads(sidecar.read_text()) | {"cluster": "BIZTALKSSO"}))
    shutil.rmtree(tmp_path / "escrow" / "contoso")
    stack.state["sso-system"].outputs["escrowLocation"] = str(legacy / f"{system['backupSha256']}.bak")

    with pytest.warns(EscrowWarning, match="kept before escrows had namespaces"):
        refreshed, updated = refresh_and_up(stack, spec)
    assert refreshed["escrowRecorded"] is False
    assert updated["backupSha256"] == system["backupSha256"]
    assert updated["escrowLocation"] == system["escrowLocation"]  # the namespaced copy
    assert (legacy / f"{system['backupSha256']}.bak").exists()  # never moved, never lost

    sent.clear()
    replace_node_2(stack, Simulator(tmp_path / "world.json"), tmp_path)
    assert [(node, sha) for node, _, sha in sent] == [("SSO04", system["backupSha256"])]


def test_a_lost_escrow_is_refilled_by_up_refresh_with_the_same_password(tmp_path: Path) -> None:
    spec = demo_spec(tmp_path)
    stack = Stack()
    stack.up(spec)
    system = stack.outputs("sso-system")
    shutil.rmtree(tmp_path / "escrow")
    refreshed, updated = refresh_and_up(stack, spec)
    assert refreshed["escrowRecorded"] is False
    # no backup file stays on a node (issue 13 M4): a new backup of the same secret is taken and escrowed
    assert updated["msid"] == system["msid"]
    assert sha256_hex(Path(updated["escrowLocation"]).read_bytes()) == updated["backupSha256"]
    assert [s["step"] for s in updated["steps"] if s["changed"]] == [
        "Backup-MasterSecret",
        "escrow-backup",
        "Remove-MasterSecretBackup",
    ]


def test_an_msid_a_node_reports_that_is_no_guid_selects_nothing(
    tmp_path: Path, sent: list[tuple[str, str, str]]
) -> None:
    stack = Stack()
    stack.up(demo_spec(tmp_path))
    sim = Simulator(tmp_path / "world.json")
    with sim.edit() as world:
        for database in world.databases.values():
            database.msid = "../../etc"
    sent.clear()
    with pytest.raises(EssoError) as caught:
        replace_node_2(stack, sim, tmp_path)
    assert (caught.value.code, caught.value.node) == ("ESSO-025", "SSO04")
    assert "is not a master secret id" in str(caught.value)
    assert sent == []
