"""What a rotation refuses or waits for (issue 17): an escrow that cannot be written stops it before any change,
and a database that reports no MSID is never taken for "re-encrypted".

Why these two: the escrow write is the first thing after the new secret exists, so an unwritable escrow found only
then leaves a secret on one node; and "Master Secret Server" documents no signal that re-encryption ended, so the
only evidence (the database's MSID) must be positive before a role moves to a node holding only the new secret.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from provider import contracts as c
from provider.errors import EssoError
from provider.escrow.folder import Folder
from provider.remote import sim_model
from provider.remote.sim_existing import sso_client_read
from provider.remote.simulator import Simulator, SimulatorRemote
from provider.remote.world import AffiliateCredential, World, secret_digest
from provider.resources import fingerprints, rotation
from provider.spec import ClusterSpec
from tests.support.procedure import demo_spec
from tests.support.replacement import Stack

LABEL = "2026-Q4"
NODES = ("SSO01", "SSO02")


@pytest.fixture(autouse=True)
def _fast_fingerprints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Speed only: the fingerprints' PBKDF2 rounds."""
    monkeypatch.setattr(fingerprints, "PBKDF2_ROUNDS", 1, raising=False)


def _spec(tmp_path: Path, label: str | None = None) -> ClusterSpec:
    return demo_spec(tmp_path, NODES, sso={"masterSecretRotation": label} if label else {})


def _built(tmp_path: Path) -> tuple[Stack, Simulator]:
    """A clean build with one stored credential under the first secret."""
    sim = Simulator(tmp_path / "world.json")
    sim.seed(sim_model.demo_world(nodes=list(NODES)))
    stack = Stack()
    stack.up(_spec(tmp_path))
    with sim.edit() as world:
        (db,) = world.databases.values()
        db.credentials.append(
            AffiliateCredential(
                application="PAYROLL", user="CONTOSO\\alice", msid=db.msid, credential_digest=secret_digest("p", "a")
            )
        )
    return stack, sim


def _changes(before: World, after: World) -> set[str]:
    """The change scripts that ran between two snapshots of the world."""
    return {
        key for key, n in after.calls.items() if n != before.calls.get(key) and c.SCRIPTS[key.split("/")[1]].changes
    }


def _read(world: World) -> list[str]:
    return [x.user for x in sso_client_read(world, "SQL01", "SSODB", "PAYROLL")]


def test_an_unwritable_escrow_stops_the_rotation_before_any_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, sim = _built(tmp_path)
    before = sim.load()

    def read_only(self: Folder, name: str, data: bytes) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(self.path / name))

    monkeypatch.setattr(Folder, "write", read_only)
    with pytest.raises(EssoError) as err:
        stack.up(_spec(tmp_path, LABEL))
    assert err.value.code == "ESSO-100"
    message = str(err.value)
    assert str(tmp_path / "escrow") in message and "Read-only file system" in message  # the escrow and the cause
    assert "write access" in message and "Nothing was changed" in message  # the fix
    after = sim.load()
    assert _changes(before, after) == set()  # no change call reached a node
    assert after.databases == before.databases
    assert stack.outputs("sso-system")["rotatedFor"] is None

    monkeypatch.undo()
    monkeypatch.setattr(fingerprints, "PBKDF2_ROUNDS", 1, raising=False)
    stack.up(_spec(tmp_path, LABEL))  # writable again: the rotation runs
    assert stack.outputs("sso-system")["rotatedFor"] == LABEL
    assert not list((tmp_path / "escrow").rglob(".write-probe-*"))  # the probe leaves nothing behind


def test_a_database_reporting_no_msid_is_refused_before_generation(tmp_path: Path) -> None:
    stack, sim = _built(tmp_path)
    with sim.edit() as world:
        (db,) = world.databases.values()
        db.reports_msid = False
    before = sim.load()
    with pytest.raises(EssoError) as err:
        stack.up(_spec(tmp_path, LABEL))
    assert err.value.code == "ESSO-100" and "reports no MSID" in str(err.value)
    assert _changes(before, sim.load()) == set()


def test_no_msid_during_the_wait_is_not_re_encrypted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database stops reporting an MSID right after the generation: the wait keeps reading, then ESSO-101
    names it; no role moved, the credential stays readable, and the next up finishes once the MSID is back."""
    stack, sim = _built(tmp_path)
    original = SimulatorRemote.call

    def call(self: SimulatorRemote, node: str, script: str, wire: Mapping[str, Any]) -> dict[str, Any]:
        result = original(self, node, script, wire)
        if script == c.NEW_MASTER_SECRET.name:
            with self.sim.edit() as world:
                (db,) = world.databases.values()
                db.reports_msid = False
        return result

    monkeypatch.setattr(SimulatorRemote, "call", call)
    monkeypatch.setattr(rotation, "REENCRYPT_TIMEOUT_S", 0.05)
    moves_before = sim.load().calls_for(script="Move-SsoRole")
    with pytest.raises(EssoError) as err:
        stack.up(_spec(tmp_path, LABEL))
    assert err.value.code == "ESSO-101" and "reports no MSID" in str(err.value)
    world = sim.load()
    assert world.calls_for(script="Move-SsoRole") == moves_before  # no role moved
    assert _read(world) == ["CONTOSO\\alice"]

    monkeypatch.setattr(SimulatorRemote, "call", original)
    with sim.edit() as world:
        (db,) = world.databases.values()
        db.reports_msid = True
    stack.up(_spec(tmp_path, LABEL))
    world = sim.load()
    (db,) = world.databases.values()
    assert all(db.msid in world.nodes[n].ssoss for n in NODES)
    assert world.calls_for(script="New-MasterSecret") == 1  # never generated twice
    assert _read(world) == ["CONTOSO\\alice"]
