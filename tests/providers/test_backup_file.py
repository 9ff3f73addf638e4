"""No master secret backup stays on a node (issue 13 M4): the file Configuration.exe, Backup-MasterSecret or
New-MasterSecret writes is fetched, escrowed, read back from the escrow, and only then removed.

Why at the stack level: the removal is the last step of sso-system's create, update and rotation; a fault
between the escrow and the removal must converge on the next ``up`` (the file swept, the same backup kept),
and nothing later (restores, refresh, drift, a create over a built system) may need the file on node 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from provider import contracts as c
from provider.errors import EssoError
from provider.escrow import LocalEscrow, sha256_hex
from provider.remote import sim_model
from provider.remote.sim_files import write_file
from provider.remote.simulator import Simulator, SimulatorRemote
from provider.remote.world import World
from provider.resources import fingerprints
from provider.spec import ClusterSpec
from tests.support.procedure import Stack, demo_spec, ops

NODES = ("SSO01", "SSO02")
BACKUP = "C:\\Program Files\\Common Files\\Enterprise Single Sign-On\\SSOSecret.bak"  # the demo's backup.path


@pytest.fixture(autouse=True)
def _fast_fingerprints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Speed only: the fingerprints' PBKDF2 rounds."""
    monkeypatch.setattr(fingerprints, "PBKDF2_ROUNDS", 1, raising=False)


def _spec(tmp_path: Path, **extra: object) -> ClusterSpec:
    return demo_spec(tmp_path, NODES, **extra)


def _seeded(tmp_path: Path) -> Simulator:
    sim = Simulator(tmp_path / "world.json")
    sim.seed(sim_model.demo_world(nodes=list(NODES)))
    return sim


def _backups_on_nodes(world: World) -> dict[str, list[str]]:
    """Every master secret backup (or a copy moved aside) on any node, by node."""
    found = {
        n: [k for k in node.files if k.endswith(".bak") or k.endswith(".previous")] for n, node in world.nodes.items()
    }
    return {n: files for n, files in found.items() if files}


def _escrowed(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "escrow").rglob("*.bak"))


def test_a_build_leaves_no_backup_on_any_node_and_the_escrow_holds_it(tmp_path: Path) -> None:
    sim = _seeded(tmp_path)
    stack = Stack()
    stack.up(_spec(tmp_path))
    assert sim_model.path_key(BACKUP) == sim_model.path_key(_spec(tmp_path).backup.path)
    assert _backups_on_nodes(sim.load()) == {}
    out = stack.outputs("sso-system")
    assert sha256_hex(Path(out["escrowLocation"]).read_bytes()) == out["backupSha256"]
    steps = [s["step"] for s in out["steps"]]
    assert steps.index("escrow-backup") < steps.index(c.REMOVE_MASTER_SECRET_BACKUP.name)
    for node in NODES:  # the restores copied from the escrow, not from node 1's file
        assert stack.outputs(f"master-secret-restore-{node.lower()}")["failoverVerifiedAt"]


def test_a_fault_between_the_escrow_and_the_removal_converges_and_sweeps(tmp_path: Path) -> None:
    sim = _seeded(tmp_path)
    sim.inject("SSO01", c.REMOVE_MASTER_SECRET_BACKUP.name, "error")
    stack = Stack()
    with pytest.raises(EssoError):
        stack.up(_spec(tmp_path))
    assert _backups_on_nodes(sim.load()) == {"SSO01": [sim_model.path_key(BACKUP)]}  # kept: the next run needs it
    (escrowed,) = _escrowed(tmp_path)
    stack.up(_spec(tmp_path))
    assert _backups_on_nodes(sim.load()) == {}
    assert _escrowed(tmp_path) == [escrowed]  # the same bytes adopted, no second backup
    assert stack.outputs("sso-system")["backupSha256"] == sha256_hex(escrowed.read_bytes())


def test_the_file_stays_when_the_escrow_does_not_give_it_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = _seeded(tmp_path)

    def unreadable(self: LocalEscrow, msid: str, sha256: str, location: str | None = None) -> bytes:
        raise EssoError("ESSO-022", f"planted: the escrowed copy of {msid} does not read back.", step="escrow-fetch")

    monkeypatch.setattr(LocalEscrow, "fetch", unreadable)
    with pytest.raises(EssoError, match="does not read back"):
        Stack().up(_spec(tmp_path))
    world = sim.load()
    assert _backups_on_nodes(world) == {"SSO01": [sim_model.path_key(BACKUP)]}
    assert world.calls_for(script=c.REMOVE_MASTER_SECRET_BACKUP.name) == 0


def test_refresh_and_drift_do_not_miss_the_removed_file(tmp_path: Path) -> None:
    sim = _seeded(tmp_path)
    stack = Stack()
    spec = _spec(tmp_path)
    stack.up(spec)
    before = sim.load()
    assert stack.refresh(spec, targets={"sso-system"})["sso-system"]  # read, and the state takes it
    assert next(e for e in stack.preview(spec) if e.name == "sso-system").changes is False
    assert set(ops(stack.up(spec)).values()) == {"same"}  # and a second up makes no change call
    after = sim.load()
    changing = {k for k, n in after.calls.items() if n != before.calls.get(k) and c.SCRIPTS[k.split("/")[1]].changes}
    assert changing == set()


def test_a_create_over_a_built_system_reuses_the_escrowed_backup(tmp_path: Path) -> None:
    """State lost (``pulumi state delete`` or a new stack over the same cluster): the create finds the escrow's
    authenticated record instead of a file on node 1, and takes no new backup."""
    sim = _seeded(tmp_path)
    stack = Stack()
    stack.up(_spec(tmp_path))
    before = stack.outputs("sso-system")
    again = Stack()
    again.up(_spec(tmp_path))
    assert again.outputs("sso-system")["backupSha256"] == before["backupSha256"]
    # neither create backs up: the first escrows Configuration.exe's file, the second the escrow's record
    assert sim.load().calls_for(script=c.BACKUP_MASTER_SECRET.name) == 0
    assert len(_escrowed(tmp_path)) == 1


def test_an_update_sweeps_a_backup_left_by_an_earlier_release(tmp_path: Path) -> None:
    """A stack built before backups left the node: the next update of sso-system removes the file."""
    sim = _seeded(tmp_path)
    stack = Stack()
    stack.up(_spec(tmp_path))
    with sim.edit() as world:
        write_file(world.nodes["SSO01"], BACKUP, b"a backup an earlier release left")
        write_file(world.nodes["SSO01"], BACKUP + ".previous", b"and its aside copy")
    stack.up(_spec(tmp_path, backup={"reminder": "ask the platform team"}))
    assert _backups_on_nodes(sim.load()) == {}


def test_a_rotation_leaves_no_backup_on_the_generating_node(tmp_path: Path) -> None:
    sim = _seeded(tmp_path)
    stack = Stack()
    stack.up(_spec(tmp_path))
    with sim.edit() as world:  # as a stack built before this change: the first backup still on node 1
        write_file(world.nodes["SSO01"], BACKUP, b"a backup an earlier release left")
    stack.up(_spec(tmp_path, sso={"masterSecretRotation": "2026-Q4"}))
    assert _backups_on_nodes(sim.load()) == {}
    assert len(_escrowed(tmp_path)) == 2  # the previous backup and the new one


@pytest.mark.parametrize(
    ("path", "why"),
    [("SSOSecret.bak", "not an absolute local path"), ("\\\\server\\share\\x.bak", "not an absolute local path")],
)
def test_the_removal_refuses_what_is_not_a_local_file(tmp_path: Path, path: str, why: str) -> None:
    _seeded(tmp_path)
    remote = SimulatorRemote(tmp_path / "world.json", second_hop=True, identity="CONTOSO\\esso-config")
    with pytest.raises(EssoError, match=why):
        remote.run("SSO01", c.REMOVE_MASTER_SECRET_BACKUP, c.PathParams(path=path))


def test_the_removal_refuses_a_folder_and_removes_aside_copies(tmp_path: Path) -> None:
    sim = _seeded(tmp_path)
    folder = "C:\\ESSO"
    with sim.edit() as world:
        node = world.nodes["SSO01"]
        write_file(node, f"{folder}\\SSOSecret.bak", b"1")
        write_file(node, f"{folder}\\SSOSecret.bak.previous", b"2")
        write_file(node, f"{folder}\\SSOSecret.bak.0123abcd.previous", b"3")
        write_file(node, f"{folder}\\SSOSecret.bak.keep", b"not a copy of it")
    remote = SimulatorRemote(tmp_path / "world.json", second_hop=True, identity="CONTOSO\\esso-config")
    with pytest.raises(EssoError, match="is a folder"):
        remote.run("SSO01", c.REMOVE_MASTER_SECRET_BACKUP, c.PathParams(path=folder))
    removed = remote.run("SSO01", c.REMOVE_MASTER_SECRET_BACKUP, c.PathParams(path=f"{folder}\\SSOSecret.bak"))
    assert removed.changed and removed.before is not None and removed.before.exists
    assert sorted(sim.load().nodes["SSO01"].files) == [sim_model.path_key(f"{folder}\\SSOSecret.bak.keep")]
    again = remote.run("SSO01", c.REMOVE_MASTER_SECRET_BACKUP, c.PathParams(path=f"{folder}\\SSOSecret.bak"))
    assert not again.changed
