"""Rotating the ENTSSO account's password: AD changes first, then `up` updates every node's service logon."""

from __future__ import annotations

from pathlib import Path

import pytest

from provider.errors import EssoError
from provider.remote.simulator import Simulator, SimulatorRemote, client_can_reach_secret_server
from provider.remote.world import secret_digest
from provider.resources.base import Steps
from provider.resources.failover import move_role
from tests.support.procedure import Procedure, Stack, demo_spec, ops

NEW_PASSWORD = "Rotated-Svc-Sentinel-42!"
NODES = ("SSO01", "SSO02")


def _change_password_in_ad(sim: Simulator, password: str) -> None:
    with sim.edit() as world:
        world.domain.users["svc-entsso"].password_digest = secret_digest(password)


def _fail_over(tmp_path: Path, node: str) -> None:
    remote = SimulatorRemote(tmp_path / "world.json", second_hop=True, identity="CONTOSO\\esso-config")
    move_role(remote, role="SSO", node=node, steps=Steps("test"))


def test_a_password_changed_only_in_ad_breaks_the_next_failover(tmp_path: Path) -> None:
    """The simulator's model of error 1069: ENTSSO cannot start with a stale logon password."""
    Procedure(demo_spec(tmp_path, NODES)).up()
    sim = Simulator(tmp_path / "world.json")
    _change_password_in_ad(sim, NEW_PASSWORD)
    with pytest.raises(EssoError) as err:  # Move-SsoRole.ps1 throws when the role is not Online after the move
        _fail_over(tmp_path, "SSO02")
    assert err.value.code == "ESSO-013"
    world = sim.load()
    service = next(r for r in world.cluster.resources.values() if r.type == "Generic Service")
    assert service.state == "Failed"
    assert not client_can_reach_secret_server(world)[0]


def test_up_with_the_new_password_updates_every_nodes_service_logon(tmp_path: Path) -> None:
    stack = Stack()
    stack.up(demo_spec(tmp_path, NODES))
    sim = Simulator(tmp_path / "world.json")
    _change_password_in_ad(sim, NEW_PASSWORD)
    rotated = demo_spec(tmp_path, NODES, serviceAccountPassword=NEW_PASSWORD)
    joins = [f"sso-join-{node.lower()}" for node in NODES]
    planned = {e.name: e for e in stack.preview(rotated)}
    for name in joins:
        assert planned[name].changes is True and not planned[name].replaces  # a password is never a replacement
    events = stack.up(rotated, targets=joins)
    assert ops(events) == dict.fromkeys(joins, "update")
    for name in joins:
        steps = [(s["step"], s["changed"]) for s in stack.outputs(name)["steps"]]
        assert ("Set-EntSsoLogon", True) in steps
        assert NEW_PASSWORD not in str(stack.outputs(name))
    assert sim.load().calls_for(script="Set-EntSsoLogon") == len(NODES)
    # the next failover starts ENTSSO with the new password, and clients are served
    _fail_over(tmp_path, "SSO02")
    _fail_over(tmp_path, "SSO01")
    ok, why = client_can_reach_secret_server(sim.load())
    assert ok, why


def test_a_wrong_new_password_is_refused_and_named_without_its_value(tmp_path: Path) -> None:
    stack = Stack()
    stack.up(demo_spec(tmp_path, NODES))
    sim = Simulator(tmp_path / "world.json")
    _change_password_in_ad(sim, NEW_PASSWORD)
    typo = "Rotated-Svc-Typo-99!"
    wrong = demo_spec(tmp_path, NODES, serviceAccountPassword=typo)
    with pytest.raises(EssoError) as err:
        stack.up(wrong, targets={"sso-join-sso02"})
    assert "logon failure" in str(err.value)
    assert typo not in str(err.value) and NEW_PASSWORD not in str(err.value)
