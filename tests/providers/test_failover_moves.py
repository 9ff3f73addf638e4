"""Failover is proven once per node, not once per restore (issue 15, point 1).

Every role move is a short SSO outage for every BizTalk server. A first `up` moves the role once to each node
for its restore (the creator once, to bring ENTSSO online for its own proof) and home once at the end: N+1
moves. The proof of each node stays as strict as docs/design.md rule 10. Counts only, never times.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from provider.errors import EssoError
from provider.remote.simulator import Simulator, SimulatorRemote, demo_world
from tests.providers.test_procedure import assert_final_world
from tests.support.procedure import Procedure, demo_spec
from tests.support.replacement import Stack


def _nodes(count: int) -> tuple[str, ...]:
    return tuple(f"SSO{i:02d}" for i in range(1, count + 1))


def _build(tmp_path: Path, nodes: tuple[str, ...], **overrides: Any) -> tuple[dict[str, dict[str, Any]], Simulator]:
    sim = Simulator(tmp_path / "world.json")
    sim.seed(demo_world(nodes=list(nodes)))
    return Procedure(demo_spec(tmp_path, nodes, **overrides)).up(), sim


def _moves(outputs: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(resource, node) of every Move-SsoRole the providers report having run (changed or not)."""
    return [
        (name, step["node"])
        for name, outs in outputs.items()
        for step in outs["steps"]
        if step["step"] == "Move-SsoRole" and "the role stays" not in step.get("note", "")
    ]


@pytest.mark.parametrize("count", [2, 3, 4, 8])
def test_a_first_up_moves_the_role_n_plus_one_times(tmp_path: Path, count: int) -> None:
    nodes = _nodes(count)
    outputs, sim = _build(tmp_path, nodes)
    world = sim.load()
    assert world.calls_for(script="Move-SsoRole") == count + 1  # was 0.5N²+2.5N-3: 4, 9, 15, 49
    # where they go: the creator once (its ENTSSO comes online for its proof), each other node once for its
    # restore, and home once after the last
    assert _moves(outputs) == [
        ("master-secret-restore-sso01", "SSO01"),
        *[(f"master-secret-restore-{n.lower()}", n) for n in nodes[1:]],
        (f"master-secret-restore-{nodes[-1].lower()}", "SSO01"),
    ]
    # each move is a real move or start (none is a no-op call), and each node is proven exactly once
    assert world.calls_for(script="Get-ClusterFacts") >= count
    for node in nodes:
        restore = outputs[f"master-secret-restore-{node.lower()}"]
        proofs = [s for s in restore["steps"] if s["step"] == "verify-failover"]
        assert [(s["node"], s["changed"]) for s in proofs] == [(node, False)], node
        assert restore["verifiedNodes"] == [node]
        assert restore["failoverVerifiedAt"] and restore["failoverPending"] is False
    assert_final_world(sim, list(nodes))


@pytest.mark.parametrize("count", [2, 3])
def test_a_second_up_moves_nothing(tmp_path: Path, count: int) -> None:
    nodes = _nodes(count)
    sim = Simulator(tmp_path / "world.json")
    sim.seed(demo_world(nodes=list(nodes)))
    spec = demo_spec(tmp_path, nodes)
    stack = Stack()
    stack.up(spec)
    moves = sim.load().calls_for(script="Move-SsoRole")
    again = stack.up(spec)
    assert {e.op for e in again} == {"same"}
    assert sim.load().calls_for(script="Move-SsoRole") == moves


def test_the_proof_is_as_strict_as_rule_10_on_the_node_just_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The role is already on the node after its restore; the proof still reads SSOSS there rather than
    trusting the restore's reply: a restore that reported success but left no secret fails the proof."""
    nodes = _nodes(3)
    sim = Simulator(tmp_path / "world.json")
    sim.seed(demo_world(nodes=list(nodes)))
    original = SimulatorRemote.call

    def lose_the_secret(self: SimulatorRemote, node: str, script: str, wire: Mapping[str, Any]) -> dict[str, Any]:
        result = original(self, node, script, wire)
        if (node, script) == ("SSO02", "Restore-MasterSecret"):
            with self.sim.edit() as world:
                world.nodes["SSO02"].ssoss.clear()
        return result

    monkeypatch.setattr(SimulatorRemote, "call", lose_the_secret)
    with pytest.raises(EssoError) as err:
        Procedure(demo_spec(tmp_path, nodes)).up()
    assert (err.value.code, err.value.node, err.value.step) == ("ESSO-013", "SSO02", "verify-failover")


def test_without_the_proof_the_role_still_goes_home_once(tmp_path: Path) -> None:
    nodes = _nodes(4)
    outputs, sim = _build(tmp_path, nodes, failover={"verify": False})
    # no proof: the creator's ENTSSO is not brought online for one, so one move fewer
    assert sim.load().calls_for(script="Move-SsoRole") == len(nodes)
    for node in nodes:
        restore = outputs[f"master-secret-restore-{node.lower()}"]
        assert (restore["failoverVerifiedAt"], restore["failoverPending"]) == (None, False)
    assert sim.load().cluster.groups["SSO"].owner_node == "SSO01"
