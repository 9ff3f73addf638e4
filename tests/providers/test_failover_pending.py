"""A failover proof that has not run is pending, in state; refresh reports it and the next `up` runs it (issue 14).

The restore records what it must still do, not what its last call changed: ``failoverPending`` stays true until
this node's own proof has run, whatever made it impossible (no allowDisruption, a node found without the
secret, a state written before the flag existed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provider.remote.simulator import Simulator, SimulatorRemote
from provider.resources.base import Steps
from provider.resources.cluster_ops import move_role
from provider.resources.master_secret_restore import MasterSecretRestoreProvider
from tests.support.procedure import Procedure, demo_spec

NODES = ("SSO01", "SSO02")
NAME = "master-secret-restore-sso02"


def _restore(
    procedure: Procedure, olds: dict[str, Any] | None = None
) -> tuple[MasterSecretRestoreProvider, dict[str, Any]]:
    """The restore's provider and its checked inputs (with ``olds``, the password keeps its salt)."""
    cls, inputs = next((c, i) for n, c, i in procedure.resources() if n == NAME)
    provider = procedure.provider(cls)
    assert isinstance(provider, MasterSecretRestoreProvider)
    checked = provider.check(olds or {}, inputs)
    return provider, dict(checked.inputs)


def _moves(sim: Simulator) -> int:
    return sim.load().calls_for(script="Move-SsoRole")


def test_a_proof_that_needs_a_move_without_allow_disruption_is_pending_until_an_up_may_move(tmp_path: Path) -> None:
    Procedure(demo_spec(tmp_path, NODES)).up()
    sim = Simulator(tmp_path / "world.json")
    moves = _moves(sim)
    # The same node adopted by a new resource (an import, or a retried create) under a stack without
    # allowDisruption: the role is on SSO01, so proving SSO02 would move it.
    calm, inputs = _restore(Procedure(demo_spec(tmp_path, NODES, allowDisruption=False)))
    created = calm.create(inputs)
    outs = dict(created.outs or {})
    assert (outs["failoverPending"], outs["failoverVerifiedAt"], outs["verifiedNodes"]) == (True, None, [])
    assert _moves(sim) == moves
    assert ("SSO02", "verify-failover", False) in [(s["node"], s["step"], s["changed"]) for s in outs["steps"]]

    # refresh keeps reporting it, and the next up's diff asks for an update because of it
    read = calm.read(str(created.id), outs)
    assert read.outs is not None and read.outs["failoverPending"] is True
    assert calm.diff(str(created.id), dict(read.outs), inputs).changes is True

    # an up that may move the role runs the proof, and sends the role home once
    bold, inputs = _restore(Procedure(demo_spec(tmp_path, NODES)))
    updated = dict(bold.update(str(created.id), dict(read.outs), inputs).outs or {})
    assert (updated["failoverPending"], updated["verifiedNodes"]) == (False, ["SSO02"])
    assert updated["failoverVerifiedAt"]
    assert _moves(sim) == moves + 2  # to SSO02 for its proof, then home
    assert sim.load().cluster.groups["SSO"].owner_node == "SSO01"
    assert bold.diff(str(created.id), updated, inputs).changes is False


def test_a_proof_needs_no_disruption_when_the_role_is_already_there(tmp_path: Path) -> None:
    Procedure(demo_spec(tmp_path, NODES)).up()
    sim = Simulator(tmp_path / "world.json")
    move_role(SimulatorRemote(tmp_path / "world.json"), role="SSO", node="SSO02", steps=Steps("test"))
    moves = _moves(sim)
    calm, inputs = _restore(Procedure(demo_spec(tmp_path, NODES, allowDisruption=False)))
    outs = dict(calm.create(inputs).outs or {})
    assert (outs["failoverPending"], outs["verifiedNodes"]) == (False, ["SSO02"])
    assert _moves(sim) == moves  # proven where the role was; it is not sent home without allowDisruption
    assert outs["ownerNode"] == "SSO02"


def test_a_node_found_without_the_secret_owes_a_restore_and_a_new_proof(tmp_path: Path) -> None:
    procedure = Procedure(demo_spec(tmp_path, NODES))
    outputs = procedure.up()
    sim = Simulator(tmp_path / "world.json")
    with sim.edit() as world:
        world.nodes["SSO02"].ssoss.clear()
    provider, inputs = _restore(procedure)
    read = provider.read("SSO02", outputs[NAME])
    assert read.outs is not None
    assert (read.outs["holdsMsid"], read.outs["failoverPending"], read.outs["failoverVerifiedAt"]) == (
        False,
        True,
        None,
    )
    assert provider.diff("SSO02", dict(read.outs), inputs).changes is True
    restores = sim.load().calls_for(script="Restore-MasterSecret")
    updated = dict(provider.update("SSO02", dict(read.outs), inputs).outs or {})
    assert sim.load().calls_for(script="Restore-MasterSecret") == restores + 1
    assert (updated["holdsMsid"], updated["failoverPending"], updated["verifiedNodes"]) == (True, False, ["SSO02"])
    assert updated["failoverVerifiedAt"]


def test_a_state_from_before_the_flag_without_a_proof_reports_it_pending(tmp_path: Path) -> None:
    """The former code never proved the creator's node: its state has no failoverVerifiedAt and no flag."""
    procedure = Procedure(demo_spec(tmp_path, NODES))
    outputs = procedure.up()
    older = {k: v for k, v in outputs[NAME].items() if k != "failoverPending"}
    older["failoverVerifiedAt"] = None
    salted = {"backupPassword": older["backupPasswordFingerprint"]}  # check() gets the old inputs, as the engine does
    provider, inputs = _restore(procedure, salted)
    assert provider.diff("SSO02", {**older, "failoverVerifiedAt": "2026-01-01T00:00:00+00:00"}, inputs).changes is False
    assert provider.diff("SSO02", older, inputs).changes is True
    read = provider.read("SSO02", older)
    assert read.outs is not None and read.outs["failoverPending"] is True
    # with verifyFailover off nothing is owed
    older = {**older, "verifyFailover": False}
    off, off_inputs = _restore(Procedure(demo_spec(tmp_path, NODES, failover={"verify": False})), salted)
    assert off.diff("SSO02", older, off_inputs).changes is False
