"""Adopting an existing SSO system (issue 16) under the SDK's dynamic provider host: the program registers the
same resources, the providers adopt instead of create, a second up makes no call, a bad start changes nothing,
and destroy keeps the system."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from provider import contracts
from provider.remote.sim_existing import existing_world, retire_server, sso_client_read
from provider.remote.simulator import Simulator
from provider.remote.world import World
from tests.engine.world import SECRETS, demo_stack, new_engine, remote_calls, sim
from tests.providers.test_procedure import assert_final_world
from tests.support.engine import EngineError, learn
from tests.support.engine_program import StackConfig

SERVER = "BTS01"


def order(nodes: list[str]) -> list[str]:
    return [
        "sso-domain-groups",
        "sso-system",
        *[f"sso-join-{n.lower()}" for n in nodes],
        "secret-server-name",
        "clustered-sso-service",
        *[f"master-secret-restore-{n.lower()}" for n in nodes],
    ]


def adopting(tmp_path: Path, nodes: list[str], **existing: str) -> tuple[StackConfig, World]:
    """The demo stack, told the system exists, beside its world: the cluster and the standalone server BTS01."""
    config = demo_stack(tmp_path, cluster={"nodes": nodes}, existingSystem=existing or {"masterSecretServer": SERVER})
    world = existing_world(nodes, server=SERVER)
    Simulator(config.simulator_state).seed(world)
    return config, world


def assert_moved(config: StackConfig, nodes: list[str], msid: str, state: dict[str, Any], source: str) -> None:
    assert_final_world(sim(config), nodes)
    world = sim(config).load()
    assert world.databases["sql01/ssodb"].msid == msid  # MSID before == after
    system = state["sso-system"].plain_outputs
    assert system["msid"] == msid and system["adoptedFrom"] == source
    for app in ("ContosoERP", "ContosoCRM"):  # a client of the cluster's Network Name reads the old data
        assert [cred.msid for cred in sso_client_read(world, "SQL01", "SSODB", app)] == [msid]
    assert world.calls_for(script=contracts.INSTALL_SSO_SYSTEM.name) == 0


@pytest.mark.parametrize("nodes", [["SSO01", "SSO02"], ["SSO01", "SSO02", "SSO03"]])
def test_adopt_from_the_live_server_then_a_second_up_calls_no_node(tmp_path: Path, nodes: list[str]) -> None:
    config, world = adopting(tmp_path, nodes)
    msid = world.databases["sql01/ssodb"].msid
    engine = new_engine(tmp_path)
    deployment = engine.up(learn(config))
    assert deployment.step_ops() == [("create", name) for name in order(nodes)]
    state = {r.name: r for r in engine.state()}
    assert_moved(config, nodes, msid, state, f"server:{SERVER}")
    after = sim(config).load()
    old = after.nodes[SERVER]
    assert old.entsso_state == "Running" and msid in old.ssoss  # a plain SSO server now, its secret kept
    calls = remote_calls(config)
    again = engine.up(learn(config))
    assert again.plan == dict.fromkeys(order(nodes), "same")
    assert again.provider_calls("Create", "Update", "Delete", "Read") == []
    assert remote_calls(config) == calls


def test_adopt_from_a_provided_backup_under_the_engine(tmp_path: Path) -> None:
    nodes = ["SSO01", "SSO02"]
    backup = tmp_path / "operator" / "SSOSecret-prod.bak"
    config = demo_stack(tmp_path, existingSystem={"backupFile": str(backup)})
    world = existing_world(nodes, server=SERVER)
    msid = world.databases["sql01/ssodb"].msid
    backup.parent.mkdir()
    backup.write_bytes(retire_server(world, SERVER, SECRETS["backupPassword"]))
    Simulator(config.simulator_state).seed(world)
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    assert_moved(config, nodes, msid, {r.name: r for r in engine.state()}, f"backup:{backup}")
    assert sim(config).load().calls_for(node=SERVER) == 0
    calls = remote_calls(config)
    again = engine.up(learn(config))
    assert again.plan == dict.fromkeys(order(nodes), "same")
    assert remote_calls(config) == calls


def _server_gone(world: World) -> None:
    world.nodes[SERVER].reachable = False


def _names_another_server(world: World) -> None:
    world.databases["sql01/ssodb"].secret_server = "BTS02"


def _sso02_in_another_system(world: World) -> None:
    node = world.nodes["SSO02"]
    node.sso_server, node.sso_database, node.entsso_account = "SQL02", "SSODB", "CONTOSO\\svc-entsso"


def _other_groups(world: World) -> None:
    world.databases["sql01/ssodb"].affiliate_admin_group = "BizTalk Affiliates"


def _other_account(world: World) -> None:
    world.nodes[SERVER].entsso_account = "CONTOSO\\svc-legacy"


def _no_database(world: World) -> None:
    world.databases.clear()


BAD_STARTS = [
    pytest.param(_server_gone, {}, "ESSO-092", "cannot be reached", id="server-unreachable"),
    pytest.param(_names_another_server, {}, "ESSO-092", "masterSecretServer to BTS02", id="not-the-named-server"),
    pytest.param(_sso02_in_another_system, {}, "ESSO-005", "SQL02/SSODB", id="node-of-another-system"),
    pytest.param(_other_groups, {}, "ESSO-091", "BizTalk Affiliates", id="other-groups"),
    pytest.param(_other_account, {}, "ESSO-091", "svc-legacy", id="other-service-account"),
    pytest.param(_no_database, {}, "ESSO-090", "no SSO database", id="no-database"),
    pytest.param(None, {"backupFile": "missing/SSOSecret.bak"}, "ESSO-093", "cannot be read", id="backup-missing"),
]


@pytest.mark.parametrize(("edit", "existing", "code", "says"), BAD_STARTS)
def test_a_bad_starting_point_is_refused_before_any_change(
    tmp_path: Path, edit: Any, existing: dict[str, str], code: str, says: str
) -> None:
    config, _ = adopting(tmp_path, ["SSO01", "SSO02"], **existing)
    with sim(config).edit() as world:
        if edit is not None:
            edit(world)
        before = world.model_dump(include={"databases", "cluster"})
        nodes_before = {
            n: (x.sso_server, list(x.ssoss), x.entsso_state, sorted(x.files)) for n, x in world.nodes.items()
        }
    engine = new_engine(tmp_path)
    with pytest.raises(EngineError) as err:
        engine.up(learn(config))
    assert code in str(err.value) and says in str(err.value) and "nothing was changed" in str(err.value)
    world = sim(config).load()
    assert world.model_dump(include={"databases", "cluster"}) == before
    assert {n: (x.sso_server, list(x.ssoss), x.entsso_state, sorted(x.files)) for n, x in world.nodes.items()} == (
        nodes_before
    )
    assert [r.name for r in engine.state()] == ["sso-domain-groups"]  # nothing after the refusal was created


def test_destroy_keeps_the_adopted_database_and_its_secret(tmp_path: Path) -> None:
    config, world = adopting(tmp_path, ["SSO01", "SSO02"])
    msid = world.databases["sql01/ssodb"].msid
    opt_in = config.with_(policy={"protectSsoSystem": False, "onDestroy": "remove"})
    engine = new_engine(tmp_path, host="subprocess")
    engine.up(learn(opt_in))
    escrowed = sorted(p for p in (tmp_path / "escrow").rglob("*") if p.is_file())
    deployment = engine.destroy(opt_in)
    assert engine.state() == []
    after = sim(config).load()
    assert after.databases["sql01/ssodb"].msid == msid  # the database stays, whatever onDestroy says
    assert msid in after.nodes[SERVER].ssoss and after.nodes[SERVER].entsso_state == "Running"
    assert escrowed and all(p.exists() for p in escrowed)
    assert after.calls_for(script=contracts.REMOVE_SSO_DATABASE.name) == 0
    # what docs/adopt.md says destroy does: the joins undo their joins, the clustered resource goes
    assert all(after.nodes[n].sso_server is None for n in ("SSO01", "SSO02"))
    assert not any(r.type == "Generic Service" for r in after.cluster.resources.values())
    assert after.databases["sql01/ssodb"].secret_server == "BIZTALKSSO"
    assert "esso: [sso-system] SSO01 keep-sso-system ok (adopted: the SSO system existed before this stack" in (
        deployment.host_stderr
    )


def _retired(tmp_path: Path, config: StackConfig, password: str) -> tuple[str, Path]:
    backup = tmp_path / "operator" / "SSOSecret-prod.bak"
    world = existing_world(["SSO01", "SSO02"], server=SERVER)
    backup.parent.mkdir(exist_ok=True)
    backup.write_bytes(retire_server(world, SERVER, password))
    Simulator(config.simulator_state).seed(world)
    return world.databases["sql01/ssodb"].msid, backup


def test_a_provided_backup_with_the_wrong_password_fails_its_first_restore_then_recovers(tmp_path: Path) -> None:
    """Windows can open a master secret backup only by restoring it: the first restore (on nodes[0]) is the
    proof, it refuses before the secret changes anywhere (ESSO-012), and a corrected password recovers."""
    backup = tmp_path / "operator" / "SSOSecret-prod.bak"
    config = demo_stack(tmp_path, existingSystem={"backupFile": str(backup)})
    msid, _ = _retired(tmp_path, config, "Operator-Old-Backup-7q!")  # not the stack's backupPassword
    engine = new_engine(tmp_path)
    with pytest.raises(EngineError) as err:
        engine.up(learn(config))
    assert "ESSO-012" in str(err.value) and "password does not open" in str(err.value)
    assert not any(sim(config).load().nodes[n].ssoss for n in ("SSO01", "SSO02"))
    fixed = config.with_(backupPassword="Operator-Old-Backup-7q!")
    engine.up(learn(fixed))
    assert_moved(fixed, ["SSO01", "SSO02"], msid, {r.name: r for r in engine.state()}, f"backup:{backup}")


def test_a_provided_backup_of_another_system_fails_its_first_restore_then_recovers(tmp_path: Path) -> None:
    backup = tmp_path / "operator" / "SSOSecret-prod.bak"
    config = demo_stack(tmp_path, existingSystem={"backupFile": str(backup)})
    msid, _ = _retired(tmp_path, config, SECRETS["backupPassword"])
    wrong = tmp_path / "operator" / "SSOSecret-test.bak"
    other = existing_world(["SSO01", "SSO02"], server=SERVER)  # another SSO system's backup, another MSID
    wrong.write_bytes(retire_server(other, SERVER, SECRETS["backupPassword"]))
    engine = new_engine(tmp_path)
    with pytest.raises(EngineError) as err:
        engine.up(learn(config.with_(existingSystem={"backupFile": str(wrong)})))
    assert "ESSO-012" in str(err.value) and msid in str(err.value)
    engine.up(learn(config))
    assert_moved(config, ["SSO01", "SSO02"], msid, {r.name: r for r in engine.state()}, f"backup:{backup}")
