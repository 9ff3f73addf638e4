"""Master secret rotation on the simulator (issue 17): a label change rotates, nothing else does, and stored
credentials stay readable before, during and after.

Why at this level: the rotation is sso-system's generation and wait, then every restore's update; ``Stack`` runs
them as the engine sequences them, so these tests see the preview, the calls and the outputs an operator would.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from provider import contracts as c
from provider.errors import EssoError
from provider.escrow import sha256_hex
from provider.remote import sim_model
from provider.remote.sim_existing import sso_client_read
from provider.remote.simulator import Simulator, SimulatorRemote
from provider.remote.world import AffiliateCredential, World, secret_digest
from provider.resources import fingerprints, rotation
from provider.resources.base import Steps
from provider.resources.failover import move_role
from provider.spec import ClusterSpec
from tests.support.procedure import demo_spec
from tests.support.replacement import Stack, ops, projection

LABEL = "2026-Q4"


@pytest.fixture(autouse=True)
def _fast_fingerprints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Speed only: the fingerprints' PBKDF2 rounds (left out of every comparison here)."""
    monkeypatch.setattr(fingerprints, "PBKDF2_ROUNDS", 1, raising=False)


def _spec(tmp_path: Path, nodes: tuple[str, ...], label: str | None = None, **extra: Any) -> ClusterSpec:
    sso = {"masterSecretRotation": label} if label else {}
    return demo_spec(tmp_path, nodes, sso=sso, **extra)


def _built(tmp_path: Path, nodes: tuple[str, ...]) -> tuple[Stack, Simulator]:
    """A clean build with one affiliate application's credential stored under the first secret."""
    sim = Simulator(tmp_path / "world.json")
    sim.seed(sim_model.demo_world(nodes=list(nodes)))
    stack = Stack()
    stack.up(_spec(tmp_path, nodes))
    with sim.edit() as world:
        (db,) = world.databases.values()
        db.credentials.append(
            AffiliateCredential(
                application="PAYROLL",
                user="CONTOSO\\alice",
                msid=db.msid,
                credential_digest=secret_digest("PAYROLL/alice", "credential"),
            )
        )
    return stack, sim


def _read(world: World) -> list[str]:
    """What a simulated SSO client reads (raises ESSO-026 when the serving node cannot decrypt it)."""
    return [c.user for c in sso_client_read(world, "SQL01", "SSODB", "PAYROLL")]


def _changing(events: list[Any]) -> list[tuple[str, str]]:
    return [(e.name, s["step"]) for e in events for s in e.steps if s.get("changed")]


@pytest.mark.parametrize("nodes", [("SSO01", "SSO02"), ("SSO01", "SSO02", "SSO03")])
def test_a_new_label_rotates_the_secret_on_every_node(tmp_path: Path, nodes: tuple[str, ...]) -> None:
    stack, sim = _built(tmp_path, nodes)
    before = sim.load()
    (old_db,) = before.databases.values()
    old, old_location = old_db.msid, stack.outputs("sso-system")["escrowLocation"]
    assert _read(before) == ["CONTOSO\\alice"]

    plan = stack.preview(_spec(tmp_path, nodes, LABEL))
    system = next(e for e in plan if e.name == "sso-system")
    assert system.op == "update" and not system.replaces  # an update of the SSO system, never a replacement
    assert {e.op for e in plan if e.name.startswith("master-secret-restore-")} == {"update"}

    events = stack.up(_spec(tmp_path, nodes, LABEL))
    world = sim.load()
    (db,) = world.databases.values()
    assert db.msid != old and db.reencrypt_to is None
    for node in nodes:  # every node holds the new secret; the generator dropped the old one
        assert db.msid in world.nodes[node].ssoss
    assert world.nodes[nodes[0]].ssoss == [db.msid]
    assert all(c.msid == db.msid for c in db.credentials)
    assert _read(world) == ["CONTOSO\\alice"]
    out = stack.outputs("sso-system")
    assert out["msid"] == db.msid and out["rotatedFor"] == LABEL and out["rotatedAt"]
    assert out["previousMsid"] == old and out["previousEscrowLocation"] == old_location
    assert out["escrowLocation"] != old_location and Path(old_location).exists()  # the previous backup stays
    assert sha256_hex(Path(out["escrowLocation"]).read_bytes()) == out["backupSha256"]
    changed = _changing(events)
    assert ("sso-system", "New-MasterSecret") in changed
    restored = [name for name, step in changed if step == "Restore-MasterSecret"]
    assert restored == [f"master-secret-restore-{n.lower()}" for n in nodes[1:]]
    moves = [step for _, step in changed if step == "Move-SsoRole"]
    assert len(moves) == len(nodes)  # one role move per other node, and one home
    for node in nodes:
        restore = stack.outputs(f"master-secret-restore-{node.lower()}")
        assert restore["failoverVerifiedAt"] and not restore["failoverPending"] and restore["msid"] == db.msid

    again = stack.up(_spec(tmp_path, nodes, LABEL))
    assert set(ops(again).values()) == {"same"}  # a second up changes nothing
    assert _changing(again) == []


def test_without_a_label_change_nothing_rotates(tmp_path: Path) -> None:
    nodes = ("SSO01", "SSO02")
    sim = Simulator(tmp_path / "world.json")
    sim.seed(sim_model.demo_world(nodes=list(nodes)))
    stack = Stack()
    stack.up(_spec(tmp_path, nodes, LABEL))  # a new system answers to the label it was created with
    (db,) = sim.load().databases.values()
    assert stack.outputs("sso-system")["rotatedFor"] == LABEL and not stack.outputs("sso-system")["rotatedAt"]
    assert set(ops(stack.up(_spec(tmp_path, nodes, LABEL))).values()) == {"same"}
    assert sim.load().calls_for(script="New-MasterSecret") == 0
    assert sim.load().databases[next(iter(sim.load().databases))].msid == db.msid


def test_the_old_secret_alone_cannot_serve_after_re_encryption(tmp_path: Path) -> None:
    """The simulator's model: once re-encrypted, a node holding only the old secret serves nothing."""
    nodes = ("SSO01", "SSO02")
    _, sim = _built(tmp_path, nodes)
    remote = SimulatorRemote(tmp_path / "world.json", second_hop=True, identity="CONTOSO\\esso-config")
    (db,) = sim.load().databases.values()
    made = remote.run(
        "SSO01",
        c.NEW_MASTER_SECRET,
        c.NewSecretParams(
            backup_file="C:\\Program Files\\Common Files\\Enterprise Single Sign-On\\SSOSecret.x.bak",
            backup_password="Backup-Sentinel-Pass-1!",
            reminder="",
            expected_msid=db.msid,
        ),
    )
    assert made.changed
    during = sim.load()
    assert during.nodes["SSO01"].ssoss == [db.msid, made.after.msid]  # old and new while re-encrypting
    assert _read(during) == ["CONTOSO\\alice"]
    for _ in range(3):  # re-encryption advances in the background, between calls
        remote.run("SSO01", c.GET_SSO_DATABASE_FACTS, c.SsoDatabaseParams(server="SQL01", database="SSODB"))
    after = sim.load()
    assert after.nodes["SSO01"].ssoss == [made.after.msid]
    assert _read(after) == ["CONTOSO\\alice"]
    # a failover to SSO02, which holds only the old secret: ENTSSO starts there but serves nothing
    move_role(remote, role="SSO", node="SSO02", steps=Steps("test"))
    moved = sim.load()
    assert not sim_model.secret_server_status(moved, moved.nodes["SSO02"]).running
    with pytest.raises(EssoError) as err:
        _read(sim.load())
    assert err.value.code in {"ESSO-010", "ESSO-026"}


@pytest.mark.parametrize(
    ("breaks", "names"),
    [
        ("unreachable", "SSO02"),
        ("lacks-secret", "SSO02"),
        ("offline", "not online"),
        ("no-disruption", "allowDisruption"),
    ],
)
def test_a_failed_precondition_refuses_before_anything_changes(tmp_path: Path, breaks: str, names: str) -> None:
    nodes = ("SSO01", "SSO02")
    stack, sim = _built(tmp_path, nodes)
    with sim.edit() as world:
        if breaks == "unreachable":
            world.nodes["SSO02"].reachable = False
        elif breaks == "lacks-secret":
            world.nodes["SSO02"].ssoss = []
        elif breaks == "offline":
            service = next(r for r in world.cluster.resources.values() if r.type == "Generic Service")
            service.state = "Offline"
    before = sim.load()
    extra = {"allowDisruption": False} if breaks == "no-disruption" else {}
    with pytest.raises(EssoError) as err:
        stack.up(_spec(tmp_path, nodes, LABEL, **extra))
    assert err.value.code in {"ESSO-100", "ESSO-019"}
    assert names.lower() in str(err.value).lower()
    after = sim.load()
    changing = {k for k, n in after.calls.items() if n != before.calls.get(k) and c.SCRIPTS[k.split("/")[1]].changes}
    assert changing == set()  # nothing but reads ran
    assert after.databases == before.databases and projection(after, nodes) == projection(before, nodes)


def test_re_encryption_that_does_not_finish_stops_before_any_role_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ESSO-101 with the new secret escrowed; the next up, once re-encryption ended, finishes the rotation."""
    nodes = ("SSO01", "SSO02")
    stack, sim = _built(tmp_path, nodes)
    with sim.edit() as world:
        world.reencrypt_calls = 10**6
    monkeypatch.setattr(rotation, "REENCRYPT_TIMEOUT_S", 0.05)
    with pytest.raises(EssoError) as err:
        stack.up(_spec(tmp_path, nodes, LABEL))
    assert err.value.code == "ESSO-101"
    world = sim.load()
    assert world.calls_for(script="Move-SsoRole") == 0 or all(
        g.owner_node == "SSO01" for g in world.cluster.groups.values()
    )
    assert _read(world) == ["CONTOSO\\alice"]
    escrowed = list((tmp_path / "escrow").rglob("*.bak"))
    assert len(escrowed) == 2  # the previous backup and the new one
    with sim.edit() as world:
        (db,) = world.databases.values()
        db.reencrypt_calls_left = 0
    stack.up(_spec(tmp_path, nodes, LABEL))
    world = sim.load()
    (db,) = world.databases.values()
    assert all(db.msid in world.nodes[n].ssoss for n in nodes)
    assert _read(world) == ["CONTOSO\\alice"]
    assert world.calls_for(script="New-MasterSecret") == 1  # never generated twice
    assert len(list((tmp_path / "escrow").rglob("*.bak"))) == 2


def test_the_rotation_backup_sits_beside_the_stacks_backup() -> None:
    assert rotation.rotation_backup_path("C:\\ESSO\\SSOSecret.bak", LABEL) == "C:\\ESSO\\SSOSecret.2026-Q4.bak"
    assert rotation.rotation_backup_path("C:\\ESSO\\secret", LABEL) == "C:\\ESSO\\secret.2026-Q4"


@pytest.mark.parametrize("label", ["", "-x", "a b", "x" * 41, "Q4/..", "ü"])
def test_a_bad_label_is_refused_by_the_config(tmp_path: Path, label: str) -> None:
    with pytest.raises(Exception, match=re.escape("masterSecretRotation")):
        demo_spec(tmp_path, ("SSO01", "SSO02"), sso={"masterSecretRotation": label})
