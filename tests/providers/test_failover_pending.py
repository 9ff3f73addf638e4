"""A failover proof that has not run is pending, in state; refresh reports it and the next `up` runs it (issue 14).

The restore records what it must still do, not what its last call changed: ``failoverPending`` stays true until
this node's own proof has run, whatever made it impossible (no allowDisruption, a node found without the
secret, a state written before the flag existed).

Driven through ``Stack`` (tests/support/procedure.py): ``forget`` + ``up`` with the restore as the target is a
create of a resource whose node is already restored (an import, or a retried create); ``refresh`` is the
restore's read(); ``preview`` its diff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provider.remote.simulator import Simulator, SimulatorRemote
from provider.resources.base import Steps
from provider.resources.cluster_ops import move_role
from provider.spec import ClusterSpec
from tests.support.procedure import Stack, demo_spec, ops

NODES = ("SSO01", "SSO02")
NAME = "master-secret-restore-sso02"


def _built(tmp_path: Path) -> Stack:
    stack = Stack()
    stack.up(demo_spec(tmp_path, NODES))
    return stack


def _recreated(stack: Stack, spec: ClusterSpec) -> dict[str, Any]:
    """The restore created anew under ``spec``: forgotten, then ``up --target`` it; its outputs."""
    stack.forget(NAME)
    stack.up(spec, targets={NAME})
    return stack.outputs(NAME)


def _planned(stack: Stack, spec: ClusterSpec) -> str:
    """What ``preview`` plans for the restore under ``spec``: its diff."""
    return ops(stack.preview(spec))[NAME]


def _moves(sim: Simulator) -> int:
    return sim.load().calls_for(script="Move-SsoRole")


def test_a_proof_that_needs_a_move_without_allow_disruption_is_pending_until_an_up_may_move(tmp_path: Path) -> None:
    stack = _built(tmp_path)
    sim = Simulator(tmp_path / "world.json")
    moves = _moves(sim)
    # The same node adopted by a new resource (an import, or a retried create) under a stack without
    # allowDisruption: the role is on SSO01, so proving SSO02 would move it.
    calm = demo_spec(tmp_path, NODES, allowDisruption=False)
    outs = _recreated(stack, calm)
    assert (outs["failoverPending"], outs["failoverVerifiedAt"], outs["verifiedNodes"]) == (True, None, [])
    assert _moves(sim) == moves
    assert ("SSO02", "verify-failover", False) in [(s["node"], s["step"], s["changed"]) for s in outs["steps"]]

    # refresh keeps reporting it, and the next up's diff asks for an update because of it
    assert stack.refresh(calm, targets={NAME})[NAME]["failoverPending"] is True
    assert _planned(stack, calm) == "update"

    # an up that may move the role runs the proof, and sends the role home once
    bold = demo_spec(tmp_path, NODES)
    assert [(e.name, e.op) for e in stack.up(bold, targets={NAME})] == [(NAME, "update")]
    updated = stack.outputs(NAME)
    assert (updated["failoverPending"], updated["verifiedNodes"]) == (False, ["SSO02"])
    assert updated["failoverVerifiedAt"]
    assert _moves(sim) == moves + 2  # to SSO02 for its proof, then home
    assert sim.load().cluster.groups["SSO"].owner_node == "SSO01"
    assert _planned(stack, bold) == "same"


def test_a_proof_needs_no_disruption_when_the_role_is_already_there(tmp_path: Path) -> None:
    stack = _built(tmp_path)
    sim = Simulator(tmp_path / "world.json")
    move_role(SimulatorRemote(tmp_path / "world.json"), role="SSO", node="SSO02", steps=Steps("test"))
    moves = _moves(sim)
    outs = _recreated(stack, demo_spec(tmp_path, NODES, allowDisruption=False))
    assert (outs["failoverPending"], outs["verifiedNodes"]) == (False, ["SSO02"])
    assert _moves(sim) == moves  # proven where the role was; it is not sent home without allowDisruption
    assert outs["ownerNode"] == "SSO02"


def test_a_node_found_without_the_secret_owes_a_restore_and_a_new_proof(tmp_path: Path) -> None:
    stack = _built(tmp_path)
    spec = demo_spec(tmp_path, NODES)
    sim = Simulator(tmp_path / "world.json")
    with sim.edit() as world:
        world.nodes["SSO02"].ssoss.clear()
    read = stack.refresh(spec, targets={NAME})[NAME]
    assert (read["holdsMsid"], read["failoverPending"], read["failoverVerifiedAt"]) == (False, True, None)
    assert _planned(stack, spec) == "update"
    restores = sim.load().calls_for(script="Restore-MasterSecret")
    stack.up(spec, targets={NAME})
    updated = stack.outputs(NAME)
    assert sim.load().calls_for(script="Restore-MasterSecret") == restores + 1
    assert (updated["holdsMsid"], updated["failoverPending"], updated["verifiedNodes"]) == (True, False, ["SSO02"])
    assert updated["failoverVerifiedAt"]


def test_a_state_from_before_the_flag_without_a_proof_reports_it_pending(tmp_path: Path) -> None:
    """The former code never proved the creator's node: its state has no failoverVerifiedAt and no flag."""
    stack = _built(tmp_path)
    spec = demo_spec(tmp_path, NODES)
    restore = stack.state[NAME]
    older = {k: v for k, v in restore.outputs.items() if k != "failoverPending"}
    older["failoverVerifiedAt"] = None
    restore.outputs = {**older, "failoverVerifiedAt": "2026-01-01T00:00:00+00:00"}
    assert _planned(stack, spec) == "same"
    restore.outputs = older
    assert _planned(stack, spec) == "update"
    assert stack.refresh(spec, targets={NAME})[NAME]["failoverPending"] is True
    # with verifyFailover off nothing is owed
    restore.outputs = {**older, "verifyFailover": False}
    assert _planned(stack, demo_spec(tmp_path, NODES, failover={"verify": False})) == "same"
