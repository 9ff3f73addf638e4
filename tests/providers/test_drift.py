"""read() reports drift made behind our back, diff() sees it, update() repairs it; errors never mean "gone"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from provider.errors import EssoError
from provider.escrow import EscrowWarning
from provider.remote.simulator import Simulator, client_can_reach_secret_server
from provider.remote.world import Fault
from tests.support.procedure import Procedure, demo_spec


def _refresh_and_repair(procedure: Procedure, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    cls, inputs = next((c, i) for n, c, i in procedure.resources() if n == name)
    provider = procedure.provider(cls)
    olds = procedure.outputs[name]
    read = provider.read(name, olds)
    assert read.outs
    refreshed = dict(read.outs)
    diff = provider.diff(name, refreshed, inputs)
    assert diff.changes is True and not diff.replaces
    updated = provider.update(name, refreshed, inputs)
    assert updated.outs is not None
    return refreshed, dict(updated.outs)


def test_cluster_resource_drift_is_reported_and_repaired(tmp_path: Path) -> None:
    procedure = Procedure(demo_spec(tmp_path))
    procedure.up()
    sim = Simulator(tmp_path / "world.json")
    with sim.edit() as world:
        service = next(r for r in world.cluster.resources.values() if r.type == "Generic Service")
        service.parameters["UseNetworkName"] = 0
        service.dependencies = []
        world.nodes["SSO02"].entsso_start_type = "Automatic"
    assert not client_can_reach_secret_server(sim.load())[0]
    refreshed, repaired = _refresh_and_repair(procedure, "clustered-sso-service")
    assert refreshed["useNetworkName"] == 0
    assert refreshed["dependencies"] == []
    assert refreshed["startTypes"]["SSO02"] == "Automatic"
    assert repaired["useNetworkName"] == 1
    assert repaired["startTypes"]["SSO02"] == "Manual"
    ok, why = client_can_reach_secret_server(sim.load())
    assert ok, why


def test_secret_server_name_drift_is_repaired(tmp_path: Path) -> None:
    procedure = Procedure(demo_spec(tmp_path))
    procedure.up()
    sim = Simulator(tmp_path / "world.json")
    with sim.edit() as world:
        (database,) = world.databases.values()
        database.secret_server = "SSO02"
    refreshed, repaired = _refresh_and_repair(procedure, "secret-server-name")
    assert refreshed["secretServer"] == "SSO02"
    assert repaired["secretServer"] == "BIZTALKSSO"
    (database,) = sim.load().databases.values()
    assert database.secret_server == "BIZTALKSSO"


def test_lost_master_secret_is_restored(tmp_path: Path) -> None:
    procedure = Procedure(demo_spec(tmp_path))
    procedure.up()
    sim = Simulator(tmp_path / "world.json")
    with sim.edit() as world:
        world.nodes["SSO02"].ssoss.clear()
    refreshed, repaired = _refresh_and_repair(procedure, "master-secret-restore-sso02")
    assert refreshed["holdsMsid"] is False
    assert repaired["holdsMsid"] is True
    world = sim.load()
    (database,) = world.databases.values()
    assert database.msid in world.nodes["SSO02"].ssoss


def test_transient_error_in_read_raises_and_never_reports_gone(tmp_path: Path) -> None:
    procedure = Procedure(demo_spec(tmp_path))
    procedure.up()
    sim = Simulator(tmp_path / "world.json")
    with sim.edit() as world:
        world.faults.append(Fault(node="SSO02", script="Get-NodeFacts", kind="drop_before", remaining=10))
    cls, _ = next((c, i) for n, c, i in procedure.resources() if n == "sso-join-sso02")
    with pytest.raises(EssoError) as err:
        procedure.provider(cls).read("SSO02", procedure.outputs["sso-join-sso02"])
    assert err.value.code == "ESSO-031"


def test_positive_evidence_reports_gone(tmp_path: Path) -> None:
    procedure = Procedure(demo_spec(tmp_path))
    procedure.up()
    sim = Simulator(tmp_path / "world.json")
    with sim.edit() as world:
        world.nodes["SSO02"].sso_server = None
        world.nodes["SSO02"].sso_database = None
    cls, _ = next((c, i) for n, c, i in procedure.resources() if n == "sso-join-sso02")
    read = procedure.provider(cls).read("SSO02", procedure.outputs["sso-join-sso02"])
    assert read.id is None and read.outs == {}


def test_entsso_started_outside_the_cluster_is_reported_and_stopped(tmp_path: Path) -> None:
    """Reference section 8: a local ENTSSO on a node the cluster does not run it on breaks the next failover."""
    procedure = Procedure(demo_spec(tmp_path))
    procedure.up()
    sim = Simulator(tmp_path / "world.json")
    with sim.edit() as world:
        world.nodes["SSO02"].entsso_state = "Running"  # a monitoring tool ran `net start entsso`
    refreshed, repaired = _refresh_and_repair(procedure, "clustered-sso-service")
    assert refreshed["outsideCluster"] == ["SSO02"]
    assert repaired["outsideCluster"] == []
    assert sim.load().nodes["SSO02"].entsso_state == "Stopped"


def test_a_backup_password_rotated_outside_the_stack_is_noticed_and_backed_up_again(tmp_path: Path) -> None:
    """With the password in Secrets Manager the stack's inputs do not change; refresh compares the password the
    escrowed backup needs with the one in use now, and the next up takes and escrows a new backup."""
    procedure = Procedure(demo_spec(tmp_path))
    procedure.up()
    before = procedure.outputs["sso-system"]["backupSha256"]
    rotated = Procedure(demo_spec(tmp_path, backupPassword="Rotated-Backup-Pass-77"))
    rotated.outputs = procedure.outputs
    cls, inputs = next((c, i) for n, c, i in procedure.resources() if n == "sso-system")
    provider = rotated.provider(cls)
    read = provider.read("SQL01/SSODB", procedure.outputs["sso-system"])
    assert read.outs is not None and read.outs["backupPasswordCurrent"] is False
    # the stack's own inputs did not change: without the refresh, diff sees nothing
    assert provider.diff("SQL01/SSODB", procedure.outputs["sso-system"], inputs).changes is False
    diff = provider.diff("SQL01/SSODB", dict(read.outs), inputs)
    assert diff.changes is True and not diff.replaces
    with pytest.warns(EscrowWarning, match="already has 1 other escrowed backup"):
        updated = provider.update("SQL01/SSODB", dict(read.outs), inputs)
    assert updated.outs is not None
    assert updated.outs["backupPasswordCurrent"] is True
    assert updated.outs["backupSha256"] != before
    assert [s["step"] for s in updated.outs["steps"] if s["changed"]] == [
        "Backup-MasterSecret",
        "escrow-backup",
        "Remove-MasterSecretBackup",  # the new backup leaves the node once escrowed and read back (M4)
    ]
