"""The seed procedure end to end through the six providers, against the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from provider.errors import EssoError
from provider.remote.simulator import Simulator, SimulatorRemote, client_can_reach_secret_server
from provider.resources.base import Steps
from provider.resources.failover import Proof, prove_node
from tests.support.procedure import Procedure, Stack, demo_spec, ops, seed_order


def assert_final_world(sim: Simulator, nodes: list[str], network_name: str = "BIZTALKSSO") -> None:
    world = sim.load()
    role = world.cluster.groups["SSO"]
    assert role.owner_node == nodes[0]
    services = [r for r in world.cluster.resources.values() if r.type == "Generic Service"]
    assert len(services) == 1
    service = services[0]
    assert service.group == "SSO"
    assert service.parameters["ServiceName"] == "ENTSSO"
    assert int(service.parameters["UseNetworkName"]) == 1
    netname = next(r for r in world.cluster.resources.values() if r.type == "Network Name" and r.group == "SSO")
    assert service.dependencies == [netname.name]
    assert sorted(service.possible_owners) == sorted(nodes)
    (database,) = world.databases.values()
    assert database.secret_server == network_name
    for node in nodes:
        assert database.msid in world.nodes[node].ssoss, node
        assert world.nodes[node].entsso_start_type == "Manual"
    ok, why = client_can_reach_secret_server(world)
    assert ok, why


@pytest.mark.parametrize("nodes", [("SSO01", "SSO02"), ("SSO01", "SSO02", "SSO03")])
def test_full_procedure_reaches_the_final_world(tmp_path: Path, nodes: tuple[str, ...]) -> None:
    spec = demo_spec(tmp_path, nodes)
    outputs = Procedure(spec).up()
    assert_final_world(Simulator(tmp_path / "world.json"), list(nodes))
    for k, node in enumerate(nodes):
        restore = outputs[f"master-secret-restore-{node.lower()}"]
        assert restore["holdsMsid"] is True
        # each restore proves failover on its own node, the creator's included; nothing is left pending
        assert restore["verifiedNodes"] == [node]
        assert restore["failoverVerifiedAt"]
        assert restore["failoverPending"] is False
        # the role stays for the next node's restore and goes home once, after the last
        assert restore["ownerNode"] == (nodes[0] if k == len(nodes) - 1 else node)
    system = outputs["sso-system"]
    assert system["createdBy"] == nodes[0]
    assert len(system["backupSha256"]) == 64
    assert Path(system["escrowLocation"]).exists()


def test_verification_fails_when_a_node_lost_its_master_secret(tmp_path: Path) -> None:
    nodes = ["SSO01", "SSO02", "SSO03"]
    spec = demo_spec(tmp_path, tuple(nodes))
    outputs = Procedure(spec).up()
    sim = Simulator(tmp_path / "world.json")
    with sim.edit() as world:
        world.nodes["SSO03"].ssoss.clear()
    remote = SimulatorRemote(tmp_path / "world.json", second_hop=True, identity="CONTOSO\\esso-config")
    with pytest.raises(EssoError) as err:
        proof = Proof(
            nodes=nodes,
            role="SSO",
            resource=spec.cluster.resource_name,
            msid=outputs["sso-system"]["msid"],
            service_account=spec.sso.service_account,
            admin_group="CONTOSO\\SSO Administrators",
        )
        prove_node(remote, "SSO03", proof, steps=Steps("test"))
    assert err.value.code == "ESSO-013"
    assert err.value.node == "SSO03"


def test_create_on_a_converged_world_changes_nothing(tmp_path: Path) -> None:
    spec = demo_spec(tmp_path)
    Procedure(spec).up()
    again = Procedure(spec).up()
    changed = [
        (name, step["node"], step["step"]) for name, outs in again.items() for step in outs["steps"] if step["changed"]
    ]
    # Adoption: every script reports changed: false. The only moves are the failover proofs that the new
    # restore resources owe (their own proof has never run): the role to SSO02 for its proof, then home once.
    assert changed == [
        ("master-secret-restore-sso02", "SSO02", "Move-SsoRole"),
        ("master-secret-restore-sso02", "SSO01", "Move-SsoRole"),
    ]
    assert all(again[f"master-secret-restore-{n}"]["failoverVerifiedAt"] for n in ("sso01", "sso02"))


@pytest.mark.parametrize("nodes", [("SSO01", "SSO02"), ("SSO01", "SSO02", "SSO03")])
def test_the_procedure_works_when_the_database_reports_no_msid(tmp_path: Path, nodes: tuple[str, ...]) -> None:
    """If the SSO database records the MSID only on encrypted rows ([INFERRED] from the SSOX schema), restores
    take the current MSID from a node that holds it and that the escrow has a backup of."""
    spec = demo_spec(tmp_path, nodes)
    stack = Stack()
    names = seed_order(tmp_path, nodes)
    first_restore = names.index("master-secret-restore-sso01")
    # run up to the restores, then make the database stop reporting its MSID
    assert set(ops(stack.up(spec, targets=names[:first_restore])).values()) == {"create"}
    sim = Simulator(tmp_path / "world.json")
    with sim.edit() as world:
        for database in world.databases.values():
            database.reports_msid = False
    assert ops(stack.up(spec, targets=names[first_restore:])) == dict.fromkeys(names[first_restore:], "create")
    assert_final_world(sim, list(nodes))
    msid = stack.outputs("sso-system")["msid"]
    assert all(stack.outputs(f"master-secret-restore-{n.lower()}")["msid"] == msid for n in nodes)


def test_a_join_reuses_the_preflights_node_facts_for_its_token_check(tmp_path: Path) -> None:
    """preflight.Verified is passed down: the join reads each node once in the preflight, and its own node once
    more after the change (its observation), never a third time for the token check (rule 13)."""
    spec = demo_spec(tmp_path)
    stack = Stack()
    sim = Simulator(tmp_path / "world.json")
    names = seed_order(tmp_path)
    stack.up(spec, targets=names[: names.index("sso-join-sso02")])
    before = sim.load().calls_for(script="Get-NodeFacts")
    assert ops(stack.up(spec, targets={"sso-join-sso02"})) == {"sso-join-sso02": "create"}
    assert stack.outputs("sso-join-sso02")["joined"] is True
    assert sim.load().calls_for(script="Get-NodeFacts") - before == len(spec.cluster.nodes) + 1
