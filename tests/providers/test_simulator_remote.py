"""The simulator as a Remote: persistence, locking, faults, call counts, files, removal, seeding, the CLI."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from provider import contracts
from provider.errors import EssoError
from provider.remote.base import TransientRemoteError
from provider.remote.sim_model import demo_world, world_for
from provider.remote.simulator import HANDLERS, Simulator, SimulatorRemote, handle, main
from provider.remote.world import Fault
from provider.spec import ClusterSpec


def test_every_contract_script_has_a_handler() -> None:
    assert set(HANDLERS) == set(contracts.SCRIPTS)


def test_demo_world_holds_the_seeds_preconditions_and_nothing_more() -> None:
    world = demo_world(nodes=["A1", "A2", "A3"], network_name="NN", role="R")
    assert world.domain.groups == {}
    assert set(world.domain.users) == {"svc-entsso", "esso-config"}
    assert {n.esso_version for n in world.nodes.values()} == {"11.0.2000.0"}
    for node in world.nodes.values():
        assert (node.esso_installed, node.entsso_state, node.entsso_start_type) == (True, "Stopped", "Manual")
        assert node.sso_server is None and node.ssoss == [] and not node.nlb and node.logon_right == []
    cids = [n.dtc_cid for n in world.nodes.values()]
    assert len(set(cids)) == 3
    (dtc,) = [r for r in world.cluster.resources.values() if r.type == "Distributed Transaction Coordinator"]
    assert dtc.parameters["CID"] not in cids
    assert world.cluster.nodes == {"A1": "Up", "A2": "Up", "A3": "Up"}
    role = world.cluster.groups["R"]
    assert (role.owner_node, role.state) == ("A1", "Online")
    kinds = {r.type: r for r in world.cluster.resources.values() if r.group == "R"}
    assert set(kinds) == {"IP Address", "Network Name"}
    assert kinds["Network Name"].name == "R-NetName" and kinds["Network Name"].parameters["Name"] == "NN"


def _spec(tmp_path: Path, nodes: list[str]) -> ClusterSpec:
    return ClusterSpec.model_validate(
        {
            "target": "simulator",
            "simulatorState": str(tmp_path / "spec-world.json"),
            "cluster": {"networkName": "ESSONAME", "role": "ESSO", "nodes": nodes},
            "domain": {"name": "FABRIKAM"},
            "sso": {"serviceAccount": "FABRIKAM\\svc-sso", "configuringAccount": "FABRIKAM\\deployer"},
            "database": {"server": "SQLB\\INST1,1433", "name": "SSODB"},
            "escrow": {"kind": "local", "path": str(tmp_path / "escrow")},
            "serviceAccountPassword": "Spec-Pw-1!",
            "backupPassword": "Spec-Bak-2!",
        }
    )


def test_simulator_remote_seeds_a_missing_world_from_the_spec_and_keeps_an_existing_one(tmp_path: Path) -> None:
    spec = _spec(tmp_path, ["N1", "N2", "N3"])
    state = tmp_path / "spec-world.json"
    remote = SimulatorRemote(state, identity="FABRIKAM\\deployer", spec=spec)
    world = Simulator(state).load()
    assert world.model_dump(exclude={"nodes"}) == world_for(spec).model_dump(exclude={"nodes"})
    assert list(world.nodes) == ["N1", "N2", "N3"]
    assert world.sql_servers == ["SQLB"]
    assert world.domain.name == "FABRIKAM" and "svc-sso" in world.domain.users
    assert str(tmp_path) not in state.read_text()  # no configuration paths, no password in the world
    assert "Spec-Pw-1!" not in state.read_text() and "Spec-Bak-2!" not in state.read_text()
    remote.run("N2", contracts.SET_ENTSSO_START_MODE, contracts.StartModeParams(start_mode="Manual"))
    with Simulator(state).edit() as w:
        w.nodes["N1"].nlb = True
    SimulatorRemote(state, spec=spec)  # exists: not reseeded
    assert Simulator(state).load().nodes["N1"].nlb is True


def test_persistence_round_trips_between_remotes(driver: Any) -> None:
    driver.configure()
    first = driver.sim.load()
    second = SimulatorRemote(driver.state)
    db = second.run(
        "SSO02", contracts.GET_SSO_DATABASE_FACTS, contracts.SsoDatabaseParams(server=driver.SQL, database=driver.DB)
    )
    (database,) = first.databases.values()
    assert db.msid == database.msid and db.secret_server == driver.NETNAME
    assert Simulator(driver.state).load().model_dump(exclude={"calls", "clock", "nodes"}) == first.model_dump(
        exclude={"calls", "clock", "nodes"}
    )


def test_calls_are_counted_per_node_and_script(driver: Any) -> None:
    driver.facts("SSO01")
    driver.facts("SSO01")
    driver.facts("SSO02")
    world = driver.sim.load()
    assert world.calls == {"SSO01/Get-NodeFacts": 2, "SSO02/Get-NodeFacts": 1}
    assert world.calls_for(script="Get-NodeFacts") == 3
    assert world.calls_for(node="SSO01") == 2


def test_injected_error_fails_without_acting_and_is_counted(driver: Any) -> None:
    driver.sim.inject("SSO01", "Set-EntSsoStartMode", "error")
    with driver.sim.edit() as world:
        world.nodes["SSO01"].entsso_start_type = "Automatic"
    with pytest.raises(EssoError) as err:
        driver.start_mode("SSO01")
    assert err.value.code == "ESSO-041" and err.value.node == "SSO01"
    world = driver.sim.load()
    assert world.nodes["SSO01"].entsso_start_type == "Automatic"
    assert world.faults[0].remaining == 0
    assert world.calls["SSO01/Set-EntSsoStartMode"] == 1
    assert driver.start_mode("SSO01").changed
    assert driver.sim.load().calls["SSO01/Set-EntSsoStartMode"] == 2


def test_a_dropped_read_is_retried(driver: Any) -> None:
    driver.sim.inject("SSO02", "Get-NodeFacts", "drop_before")
    assert driver.facts("SSO02").computer_name == "SSO02"
    assert driver.sim.load().calls["SSO02/Get-NodeFacts"] == 2


def test_a_change_dropped_before_did_not_run_and_is_not_resent(driver: Any) -> None:
    driver.groups()
    driver.sim.inject("SSO01", "Grant-ServiceLogonRight", "drop_before")
    with pytest.raises(TransientRemoteError) as err:
        driver.grant("SSO01")
    assert err.value.code == "ESSO-031" and err.value.may_have_run is False
    world = driver.sim.load()
    assert world.nodes["SSO01"].logon_right == []
    assert world.calls["SSO01/Grant-ServiceLogonRight"] == 1


def test_a_change_dropped_after_did_run(driver: Any) -> None:
    driver.groups()
    driver.sim.inject("*", "Grant-ServiceLogonRight", "drop_after")
    with pytest.raises(TransientRemoteError) as err:
        driver.grant("SSO02")
    assert err.value.code == "ESSO-031" and err.value.may_have_run is True
    assert driver.sim.load().nodes["SSO02"].logon_right == [driver.SERVICE]
    assert driver.grant("SSO02").changed is False  # the caller re-reads and finds it done


def test_a_hang_times_out(driver: Any) -> None:
    with driver.sim.edit() as world:
        world.faults.append(Fault(node="SSO01", script="*", kind="hang", remaining=5))
    with pytest.raises(TransientRemoteError) as err:
        driver.start_mode("SSO01")
    assert err.value.code == "ESSO-033"
    with pytest.raises(TransientRemoteError):
        driver.facts("SSO01")  # a read is retried twice, then gives up
    assert driver.sim.load().calls_for(node="SSO01") == 4


def test_an_unreachable_node_is_counted_and_refused(driver: Any) -> None:
    with driver.sim.edit() as world:
        world.nodes["SSO02"].reachable = False
    with pytest.raises(TransientRemoteError) as err:
        driver.facts("SSO02")
    assert err.value.code == "ESSO-031" and err.value.may_have_run is False
    assert driver.sim.load().calls["SSO02/Get-NodeFacts"] == 3  # two retries
    with pytest.raises(TransientRemoteError):
        driver.remote.renew_logon("SSO02")


def test_latency_is_applied(driver: Any) -> None:
    with driver.sim.edit() as world:
        world.latency_ms = 30
    started = time.monotonic()
    driver.facts("SSO01")
    assert time.monotonic() - started >= 0.03


def test_concurrent_remotes_take_turns_on_the_file(driver: Any) -> None:
    def work() -> None:
        remote = SimulatorRemote(driver.state)
        for _ in range(15):
            remote.run("SSO01", contracts.SET_ENTSSO_START_MODE, contracts.StartModeParams(start_mode="Manual"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert driver.sim.load().calls["SSO01/Set-EntSsoStartMode"] == 60
    assert not list(driver.state.parent.glob("*.tmp"))


def test_handle_takes_plain_string_secrets_and_reads_never_change_the_world(driver: Any) -> None:
    driver.prepare()
    world = driver.sim.load()
    wire = contracts.InstallSsoParams(
        config_xml=driver.sso_xml("Create"),
        server=driver.SQL,
        database=driver.DB,
        service_account_password=SecretStr("x"),
        backup_password=SecretStr("y"),
    ).wire()
    wire["ServiceAccountPassword"], wire["BackupPassword"] = "plain-1", "plain-2"
    out = handle(world, "sso01", "Install-SsoSystem", wire, identity=driver.CONFIGURER)
    assert contracts.INSTALL_SSO_SYSTEM.result.model_validate(out).changed
    assert out["backupFile"] == driver.BACKUP_FILE  # camelCase keys
    before = world.model_dump()
    reads = {
        "Get-NodeFacts": contracts.GetNodeFactsParams(
            service_account=driver.SERVICE, admin_group=driver.QUALIFIED_ADMIN
        ),
        "Get-ClusterFacts": contracts.GetClusterFactsParams(role_name=driver.ROLE),
        "Get-SsoDatabaseFacts": contracts.SsoDatabaseParams(server=driver.SQL, database=driver.DB),
        "Get-DomainGroupFacts": contracts.DomainGroupsParams(
            admin_group=driver.ADMIN, affiliate_admin_group=driver.AFFILIATE, members=[]
        ),
        "Read-FileChunk": contracts.ReadFileChunkParams(path=driver.BACKUP_FILE.upper(), offset=0, length=10),
    }
    for name, params in reads.items():
        raw = handle(world, "SSO01", name, params.wire(), identity=driver.CONFIGURER)
        contracts.SCRIPTS[name].result.model_validate(raw)
    assert world.model_dump() == before
    groups = contracts.DomainGroupFacts.model_validate(
        handle(world, "SSO01", "Get-DomainGroupFacts", reads["Get-DomainGroupFacts"].wire(), identity=driver.CONFIGURER)
    )
    assert groups.admin_group.scope == "Global" and "esso-config" in groups.admin_group.members


def test_unbindable_parameters_are_refused_without_echoing_values(driver: Any) -> None:
    world = driver.sim.load()
    with pytest.raises(EssoError) as err:
        handle(world, "SSO01", "Backup-MasterSecret", {"BackupPassword": "Leaky-Pw-9"}, identity=driver.CONFIGURER)
    assert err.value.code == "ESSO-035" and "Leaky-Pw-9" not in str(err.value)
    with pytest.raises(EssoError) as err:
        handle(world, "SSO01", "Format-Disk", {}, identity=driver.CONFIGURER)
    assert err.value.code == "ESSO-035"


def test_sql_server_must_be_reachable(driver: Any) -> None:
    params = contracts.SsoDatabaseParams(server="SQL77", database=driver.DB)
    with pytest.raises(EssoError) as err:
        driver.run("SSO01", contracts.GET_SSO_DATABASE_FACTS, params)
    assert err.value.code == "ESSO-035"
    assert driver.database().exists is False
    other = contracts.SsoDatabaseParams(server="sql01\\X,1433", database="D")
    assert driver.run("SSO01", contracts.GET_SSO_DATABASE_FACTS, other).exists is False


# ------------------------------------------------------------------------------------------ files


def test_files_travel_in_chunks_and_land_with_an_admin_only_acl(driver: Any) -> None:
    driver.remote.chunk_bytes = 7
    data = bytes(range(256)) * 3
    folder = driver.run("SSO02", contracts.NEW_PROTECTED_TEMP_DIR, contracts.TempDirParams(run_id="run-1")).after.path
    assert (
        driver.run("SSO02", contracts.NEW_PROTECTED_TEMP_DIR, contracts.TempDirParams(run_id="run-1")).changed is False
    )
    path = f"{folder}\\Backup.BAK"
    assert driver.remote.send_file("SSO02", path, data) == hashlib.sha256(data).hexdigest()
    assert driver.remote.fetch_file("SSO02", path.lower()) == data
    stored = driver.sim.load().nodes["SSO02"].files[path.lower()]
    assert stored.admin_only_acl is True
    assert driver.remote.send_file("SSO02", "C:\\Shared\\x.txt", b"") == hashlib.sha256(b"").hexdigest()
    assert driver.sim.load().nodes["SSO02"].files["c:\\shared\\x.txt"].admin_only_acl is False
    removed = driver.run("SSO02", contracts.REMOVE_PROTECTED_PATH, contracts.PathParams(path=folder.upper()))
    assert removed.changed and removed.after.exists is False
    world = driver.sim.load()
    assert path.lower() not in world.nodes["SSO02"].files and world.nodes["SSO02"].protected_dirs == []
    assert driver.run("SSO02", contracts.REMOVE_PROTECTED_PATH, contracts.PathParams(path=folder)).changed is False
    with pytest.raises(EssoError) as err:
        driver.run("SSO02", contracts.REMOVE_PROTECTED_PATH, contracts.PathParams(path="C:\\Shared\\x.txt"))
    assert err.value.code == "ESSO-035"
    with pytest.raises(EssoError) as err:
        driver.run("SSO02", contracts.NEW_PROTECTED_TEMP_DIR, contracts.TempDirParams(run_id="..\\..\\Windows"))
    assert err.value.code == "ESSO-035"


def test_a_corrupted_or_out_of_order_transfer_is_refused(driver: Any) -> None:
    chunk = contracts.WriteFileChunkParams(
        path="C:\\t\\f", data_base64="QUJD", offset=0, final=True, expected_sha256="0" * 64
    )
    with pytest.raises(EssoError) as err:
        driver.run("SSO01", contracts.WRITE_FILE_CHUNK, chunk)
    assert err.value.code == "ESSO-022"
    assert "c:\\t\\f" not in driver.sim.load().nodes["SSO01"].files  # no unverified copy is left
    gap = chunk.model_copy(update={"offset": 10, "final": False})
    with pytest.raises(EssoError) as err:
        driver.run("SSO01", contracts.WRITE_FILE_CHUNK, gap)
    assert err.value.code == "ESSO-022"
    with pytest.raises(EssoError) as err:
        driver.remote.fetch_file("SSO01", "C:\\t\\missing")
    assert err.value.code == "ESSO-035"


# ---------------------------------------------------------------------------------------- removal


def test_remove_scripts_undo_exactly_their_piece(driver: Any) -> None:
    driver.full()
    resource = contracts.ResourceParams(resource_name=driver.RESOURCE)
    config = contracts.RemoveNodeConfigParams(server=driver.SQL, database=driver.DB)
    database = contracts.SsoDatabaseParams(server=driver.SQL, database=driver.DB)
    with pytest.raises(EssoError) as err:  # the owner cannot be unconfigured under a running clustered ENTSSO
        driver.run("SSO01", contracts.REMOVE_SSO_NODE_CONFIGURATION, config)
    assert err.value.code == "ESSO-014"  # as Remove-SsoNodeConfiguration.ps1 throws it (issue 9 B)
    owners = driver.owners(["SSO01"])
    assert owners.changed and owners.after.owners == ["SSO01"]
    with pytest.raises(EssoError) as err:
        driver.move("SSO02")  # no longer a possible owner
    assert err.value.code == "ESSO-035"
    unjoined = driver.run("SSO02", contracts.REMOVE_SSO_NODE_CONFIGURATION, config)
    assert unjoined.changed and unjoined.before.server == driver.SQL
    world = driver.sim.load()
    assert world.nodes["SSO02"].sso_server is None and world.nodes["SSO02"].entsso_start_type == "Disabled"
    assert world.nodes["SSO02"].ssoss == []
    assert world.nodes["SSO01"].ssoss and world.databases  # the rest is untouched
    again = driver.run("SSO02", contracts.REMOVE_SSO_NODE_CONFIGURATION, config)
    assert again.changed is False
    gone = driver.run("SSO01", contracts.REMOVE_CLUSTERED_SSO_SERVICE, resource)
    assert gone.changed and gone.before.state == "Online" and gone.after.exists is False
    world = driver.sim.load()
    assert driver.RESOURCE not in world.cluster.resources and "SSO-NetName" in world.cluster.resources
    assert world.nodes["SSO01"].entsso_state == "Stopped"
    assert driver.run("SSO01", contracts.REMOVE_CLUSTERED_SSO_SERVICE, resource).changed is False
    assert driver.restart_service("SSO01").changed  # no longer clustered: the service controller may act
    with pytest.raises(EssoError) as err:
        driver.run(
            "SSO01", contracts.REMOVE_CLUSTERED_SSO_SERVICE, contracts.ResourceParams(resource_name="SSO-NetName")
        )
    assert err.value.code == "ESSO-035"
    dropped = driver.run("SSO01", contracts.REMOVE_SSO_DATABASE, database)
    assert dropped.changed and dropped.before.exists and dropped.after.exists is False
    assert driver.database().exists is False
    assert driver.run("SSO01", contracts.REMOVE_SSO_DATABASE, database).changed is False


def test_cluster_scripts_need_an_up_member(driver: Any) -> None:
    with driver.sim.edit() as world:
        world.cluster.nodes["SSO02"] = "Down"
    with pytest.raises(EssoError) as err:
        driver.cluster("SSO02")
    assert err.value.code == "ESSO-017"
    with pytest.raises(EssoError) as err:
        driver.move("SSO02")
    assert err.value.code == "ESSO-017"
    facts = driver.cluster("SSO01")
    assert {n.name: n.state for n in facts.nodes} == {"SSO01": "Up", "SSO02": "Down"}
    assert [r.type for r in facts.msdtc] == ["Distributed Transaction Coordinator"]


# -------------------------------------------------------------------------------------------- CLI


def test_cli_init_show_and_fault(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "cli" / "world.json"
    assert main(["init", "--state", str(state), "--nodes", "N1,N2,N3"]) == 0
    assert main(["init", "--state", str(state)]) == 1  # exists
    fault = ["fault", "--state", str(state), "--node", "N2", "--script", "Get-NodeFacts", "--kind", "drop_after"]
    assert main(fault) == 0
    assert main(["fault", "--state", str(state), "--node", "N2", "--script", "Nope"]) == 2
    capsys.readouterr()
    assert main(["show", "--state", str(state)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert list(shown["nodes"]) == ["N1", "N2", "N3"]
    assert shown["faults"][0]["kind"] == "drop_after"
    assert main(["show", "--state", str(tmp_path / "none.json")]) == 1


def test_module_runs_with_dash_m(tmp_path: Path) -> None:
    state = tmp_path / "m.json"
    Simulator(state).seed(demo_world())
    done = subprocess.run(
        [sys.executable, "-m", "provider.remote.simulator", "show", "--state", str(state)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert '"BIZTALKSSO"' in done.stdout
