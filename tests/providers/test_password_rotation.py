"""Rotating the ENTSSO account's password: AD changes first, then `up` updates every node's service logon."""

from __future__ import annotations

from pathlib import Path

import pytest

from provider.errors import EssoError
from provider.remote.simulator import Simulator, SimulatorRemote, client_can_reach_secret_server
from provider.remote.world import secret_digest
from provider.resources.base import Steps
from provider.resources.failover import move_role
from tests.support.procedure import Procedure, demo_spec

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
    procedure = Procedure(demo_spec(tmp_path, NODES))
    procedure.up()
    sim = Simulator(tmp_path / "world.json")
    _change_password_in_ad(sim, NEW_PASSWORD)
    rotated = Procedure(demo_spec(tmp_path, NODES, serviceAccountPassword=NEW_PASSWORD))
    for node in NODES:
        name = f"sso-join-{node.lower()}"
        cls, inputs = next((c, i) for n, c, i in rotated.resources() if n == name)
        provider = rotated.provider(cls)
        olds = procedure.outputs[name]
        diff = provider.diff(node, olds, inputs)
        assert diff.changes is True and not diff.replaces  # a password is never a replacement
        updated = provider.update(node, olds, inputs)
        assert updated.outs is not None
        steps = [(s["step"], s["changed"]) for s in updated.outs["steps"]]
        assert ("Set-EntSsoLogon", True) in steps
        assert NEW_PASSWORD not in str(updated.outs)
    assert sim.load().calls_for(script="Set-EntSsoLogon") == len(NODES)
    # the next failover starts ENTSSO with the new password, and clients are served
    _fail_over(tmp_path, "SSO02")
    _fail_over(tmp_path, "SSO01")
    ok, why = client_can_reach_secret_server(sim.load())
    assert ok, why


def test_a_wrong_new_password_is_refused_and_named_without_its_value(tmp_path: Path) -> None:
    procedure = Procedure(demo_spec(tmp_path, NODES))
    procedure.up()
    sim = Simulator(tmp_path / "world.json")
    _change_password_in_ad(sim, NEW_PASSWORD)
    typo = "Rotated-Svc-Typo-99!"
    wrong = Procedure(demo_spec(tmp_path, NODES, serviceAccountPassword=typo))
    cls, inputs = next((c, i) for n, c, i in wrong.resources() if n == "sso-join-sso02")
    with pytest.raises(EssoError) as err:
        wrong.provider(cls).update("SSO02", procedure.outputs["sso-join-sso02"], inputs)
    assert "logon failure" in str(err.value)
    assert typo not in str(err.value) and NEW_PASSWORD not in str(err.value)
