"""A fault at any call of a rotation converges on the next ``up`` with no credential and no backup lost (issue 17,
point 5), in the manner of test_failover_faults.py.

Every call the rotating ``up`` makes (sso-system's preconditions, generation, fetch and wait; every restore's
move, cycle, copy, restore and proof) is a cell; each fault kind of the review (``error``, ``drop_before``,
``drop_after``, ``hang``; reads get the two they do not absorb) is injected at that one call through the
simulator's own fault injection. The faulted ``up`` may fail; one fault-free ``up`` must then leave: every node
holding the database's one new MSID (never a second generation), the stored credential readable, the previous
backup still in the escrow and the new one recorded for restores, every restore's failover proven by itself and
none pending, and a further ``up`` that changes nothing.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from provider.errors import EssoError
from provider.escrow import sha256_hex
from provider.remote import sim_model
from provider.remote.sim_existing import sso_client_read
from provider.remote.simulator import Simulator, SimulatorRemote
from provider.remote.world import AffiliateCredential, secret_digest
from provider.resources import fingerprints
from provider.resources.sso_system import SsoSystemInputs
from provider.spec import ClusterSpec
from tests.support.procedure import BACKUP_PASSWORD, demo_spec
from tests.support.replacement import Stack, ops

LABEL = "2026-Q4"
KINDS = ("error", "drop_before", "drop_after", "hang")
READ_KINDS = ("error", "hang")


@dataclass
class Ledger:
    calls: list[tuple[str, str]] = field(default_factory=list)
    at: int | None = None
    kind: str = "error"


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    record = Ledger()
    original = SimulatorRemote.call

    def call(self: SimulatorRemote, node: str, script: str, wire: Mapping[str, Any]) -> dict[str, Any]:
        if record.at is not None and len(record.calls) == record.at:
            self.sim.inject(node, script, record.kind)
        record.calls.append((node, script))
        return original(self, node, script, wire)

    monkeypatch.setattr(SimulatorRemote, "call", call)
    monkeypatch.setattr(fingerprints, "PBKDF2_ROUNDS", 1, raising=False)
    yield record


def _spec(root: Path, nodes: tuple[str, ...], escrow: Path, label: str | None) -> ClusterSpec:
    sso = {"masterSecretRotation": label} if label else {}
    return demo_spec(root, nodes, escrow={"kind": "local", "path": str(escrow)}, sso=sso)


@dataclass
class Before:
    world: str
    state: dict[str, Any]
    old_msid: str
    old_location: str
    calls: list[tuple[str, str]]  # the clean rotation's calls: the cells


def _before(tmp_path: Path, ledger: Ledger, nodes: tuple[str, ...]) -> Before:
    """A clean build with a stored credential, then (on a copy) a clean rotation whose calls are the cells."""
    root, escrow = tmp_path / "clean", tmp_path / "escrow-clean"
    root.mkdir()
    sim = Simulator(root / "world.json")
    sim.seed(sim_model.demo_world(nodes=list(nodes)))
    stack = Stack()
    stack.up(_spec(root, nodes, escrow, None))
    with sim.edit() as world:
        (db,) = world.databases.values()
        db.credentials.append(
            AffiliateCredential(
                application="PAYROLL", user="CONTOSO\\alice", msid=db.msid, credential_digest=secret_digest("x", "c")
            )
        )
        old = db.msid
    saved = Before(sim.path.read_text(), copy.deepcopy(stack.state), old, "", [])
    saved.old_location = stack.outputs("sso-system")["escrowLocation"]
    shutil.copytree(escrow, tmp_path / "escrow-base")  # the escrow as the rotation finds it
    ledger.calls = []
    stack.up(_spec(root, nodes, escrow, LABEL))
    saved.calls = list(ledger.calls)
    return saved


def _cell(tmp_path: Path, ledger: Ledger, before: Before, nodes: tuple[str, ...], at: int, kind: str) -> list[str]:
    root = tmp_path / f"cell-{at}-{kind}"
    root.mkdir()
    escrow = tmp_path / f"escrow-{at}-{kind}"
    shutil.copytree(tmp_path / "escrow-base", escrow)  # the escrow, world and state as the rotation finds them
    (root / "world.json").write_text(before.world)
    sim = Simulator(root / "world.json")
    stack = Stack()
    stack.state = copy.deepcopy(before.state)
    spec = _spec(root, nodes, escrow, LABEL)
    ledger.calls, ledger.at, ledger.kind = [], at, kind
    try:
        stack.up(spec)
    except EssoError:
        pass
    finally:
        ledger.at = None
    where = f"{before.calls[at][0]}/{before.calls[at][1]} [{kind}]"
    if at >= len(ledger.calls):
        return [f"{where}: never reached"]
    try:
        stack.up(spec)
    except EssoError as err:
        return [f"{where}: the re-run failed: {err.code} {err.detail}"]
    problems: list[str] = []
    world = sim.load()
    (db,) = world.databases.values()
    if db.msid == before.old_msid or db.reencrypt_to is not None:
        problems.append("not rotated")
    seen = {x.lower() for n in nodes for x in world.nodes[n].ssoss}
    if seen - {db.msid.lower(), before.old_msid.lower()}:
        problems.append(f"a second secret was generated: {sorted(seen)}")
    for node in nodes:
        if db.msid not in world.nodes[node].ssoss:
            problems.append(f"{node} lacks the new secret")
        restore = stack.outputs(f"master-secret-restore-{node.lower()}")
        if not restore["failoverVerifiedAt"] or restore["failoverPending"] or restore["msid"] != db.msid:
            problems.append(f"{node}'s proof is owed")
    try:
        sso_client_read(world, "SQL01", "SSODB", "PAYROLL")
    except EssoError as err:
        problems.append(f"credential lost: {err.detail}")
    old_copy = escrow / Path(before.old_location).relative_to(tmp_path / "escrow-clean")
    if not old_copy.exists():
        problems.append("the previous backup left the escrow")
    store = SsoSystemInputs.from_spec(spec).escrow_store(simulator=True)
    try:
        recorded = store.recorded(db.msid, SecretStr(BACKUP_PASSWORD))
        if sha256_hex(store.fetch(db.msid, recorded.sha256, recorded.location)) != recorded.sha256:
            problems.append("the new backup does not verify")
    except EssoError as err:
        problems.append(f"the new backup is not recorded: {err.detail}")
    if any(world.nodes[n].protected_dirs for n in nodes):
        problems.append("a restore folder was left on a node")
    if set(ops(stack.up(spec)).values()) != {"same"}:
        problems.append("a further up changes something")
    return [f"{where}: {p}" for p in problems]


def _matrix(tmp_path: Path, ledger: Ledger, nodes: tuple[str, ...], scripts: set[str] | None = None) -> int:
    before = _before(tmp_path, ledger, nodes)
    cells = [
        (at, kind)
        for at, (_, script) in enumerate(before.calls)
        if scripts is None or script in scripts
        for kind in (READ_KINDS if script.startswith("Get-") or script == "Read-FileChunk" else KINDS)
    ]
    assert cells
    failures = [p for at, kind in cells for p in _cell(tmp_path, ledger, before, nodes, at, kind)]
    assert failures == [], "\n".join(failures)
    return len(cells)


def test_a_fault_at_any_call_of_a_rotation_converges_2_nodes(tmp_path: Path, ledger: Ledger) -> None:
    _matrix(tmp_path, ledger, ("SSO01", "SSO02"))


def test_a_fault_at_any_changing_call_of_a_rotation_converges_3_nodes(tmp_path: Path, ledger: Ledger) -> None:
    """3 nodes, every call that changes something (the reads are covered on 2 nodes)."""
    changing = {
        "New-MasterSecret",
        "Read-FileChunk",
        "Move-SsoRole",
        "Restart-SsoClusterResource",
        "New-ProtectedTempDir",
        "Write-FileChunk",
        "Restore-MasterSecret",
        "Remove-ProtectedPath",
    }
    _matrix(tmp_path, ledger, ("SSO01", "SSO02", "SSO03"), changing)
