"""read() reports drift made behind our back, diff() sees it, update() repairs it; errors never mean "gone"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from provider.errors import EssoError
from provider.escrow import EscrowWarning
from provider.remote.simulator import Simulator, client_can_reach_secret_server
from provider.remote.world import Fault
from provider.spec import ClusterSpec
from tests.support.procedure import Event, Stack, demo_spec


def _built(tmp_path: Path) -> tuple[Stack, ClusterSpec, Simulator]:
    """The demo stack, up."""
    spec = demo_spec(tmp_path)
    stack = Stack()
    stack.up(spec)
    return stack, spec, Simulator(tmp_path / "world.json")


def _planned(stack: Stack, spec: ClusterSpec, name: str, *, program_spec: ClusterSpec | None = None) -> Event:
    """What ``pulumi preview`` plans for ``name`` (its diff)."""
    return next(e for e in stack.preview(spec, program_spec=program_spec) if e.name == name)


def _refresh_and_repair(stack: Stack, spec: ClusterSpec, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``pulumi refresh --target name``, the diff preview shows, then ``pulumi up --target name``."""
    refreshed = stack.refresh(spec, targets={name})[name]
    assert refreshed
    planned = _planned(stack, spec, name)
    assert planned.changes is True and not planned.replaces
    (event,) = stack.up(spec, targets={name})
    assert event.op == "update"
    return refreshed, stack.outputs(name)


def test_cluster_resource_drift_is_reported_and_repaired(tmp_path: Path) -> None:
    stack, spec, sim = _built(tmp_path)
    with sim.edit() as world:
        service = next(r for r in world.cluster.resources.values() if r.type == "Generic Service")
        service.parameters["UseNetworkName"] = 0
        service.dependencies = []
        world.nodes["SSO02"].entsso_start_type = "Automatic"
    assert not client_can_reach_secret_server(sim.load())[0]
    refreshed, repaired = _refresh_and_repair(stack, spec, "clustered-sso-service")
    assert refreshed["useNetworkName"] == 0
    assert refreshed["dependencies"] == []
    assert refreshed["startTypes"]["SSO02"] == "Automatic"
    assert repaired["useNetworkName"] == 1
    assert repaired["startTypes"]["SSO02"] == "Manual"
    ok, why = client_can_reach_secret_server(sim.load())
    assert ok, why


def test_secret_server_name_drift_is_repaired(tmp_path: Path) -> None:
    stack, spec, sim = _built(tmp_path)
    with sim.edit() as world:
        (database,) = world.databases.values()
        database.secret_server = "SSO02"
    refreshed, repaired = _refresh_and_repair(stack, spec, "secret-server-name")
    assert refreshed["secretServer"] == "SSO02"
    assert repaired["secretServer"] == "BIZTALKSSO"
    (database,) = sim.load().databases.values()
    assert database.secret_server == "BIZTALKSSO"


def test_lost_master_secret_is_restored(tmp_path: Path) -> None:
    stack, spec, sim = _built(tmp_path)
    with sim.edit() as world:
        world.nodes["SSO02"].ssoss.clear()
    refreshed, repaired = _refresh_and_repair(stack, spec, "master-secret-restore-sso02")
    assert refreshed["holdsMsid"] is False
    assert repaired["holdsMsid"] is True
    world = sim.load()
    (database,) = world.databases.values()
    assert database.msid in world.nodes["SSO02"].ssoss


def test_transient_error_in_read_raises_and_never_reports_gone(tmp_path: Path) -> None:
    stack, spec, sim = _built(tmp_path)
    with sim.edit() as world:
        world.faults.append(Fault(node="SSO02", script="Get-NodeFacts", kind="drop_before", remaining=10))
    with pytest.raises(EssoError) as err:
        stack.refresh(spec, targets={"sso-join-sso02"})
    assert err.value.code == "ESSO-031"
    assert "sso-join-sso02" in stack.state  # an error is not "gone"


def test_positive_evidence_reports_gone(tmp_path: Path) -> None:
    stack, spec, sim = _built(tmp_path)
    with sim.edit() as world:
        world.nodes["SSO02"].sso_server = None
        world.nodes["SSO02"].sso_database = None
    assert "sso-join-sso02" in stack.state
    assert stack.refresh(spec, targets={"sso-join-sso02"}) == {}  # read() returned no id: gone
    assert "sso-join-sso02" not in stack.state


def test_entsso_started_outside_the_cluster_is_reported_and_stopped(tmp_path: Path) -> None:
    """Reference section 8: a local ENTSSO on a node the cluster does not run it on breaks the next failover."""
    stack, spec, sim = _built(tmp_path)
    with sim.edit() as world:
        world.nodes["SSO02"].entsso_state = "Running"  # a monitoring tool ran `net start entsso`
    refreshed, repaired = _refresh_and_repair(stack, spec, "clustered-sso-service")
    assert refreshed["outsideCluster"] == ["SSO02"]
    assert repaired["outsideCluster"] == []
    assert sim.load().nodes["SSO02"].entsso_state == "Stopped"


def test_a_backup_password_rotated_outside_the_stack_is_noticed_and_backed_up_again(tmp_path: Path) -> None:
    """With the password in Secrets Manager the stack's inputs do not change; refresh compares the password the
    escrowed backup needs with the one in use now, and the next up takes and escrows a new backup."""
    stack, spec, _ = _built(tmp_path)
    before = stack.outputs("sso-system")["backupSha256"]
    rotated = demo_spec(tmp_path, backupPassword="Rotated-Backup-Pass-77")
    # the stack's own inputs did not change: without the refresh, diff sees nothing
    assert _planned(stack, rotated, "sso-system", program_spec=spec).changes is False
    read = stack.refresh(rotated, targets={"sso-system"})["sso-system"]
    assert read["backupPasswordCurrent"] is False
    planned = _planned(stack, rotated, "sso-system", program_spec=spec)
    assert planned.changes is True and not planned.replaces
    with pytest.warns(EscrowWarning, match="already has 1 other escrowed backup"):
        (event,) = stack.up(rotated, targets={"sso-system"}, program_spec=spec)
    assert event.op == "update"
    updated = stack.outputs("sso-system")
    assert updated["backupPasswordCurrent"] is True
    assert updated["backupSha256"] != before
    assert [s["step"] for s in updated["steps"] if s["changed"]] == [
        "Backup-MasterSecret",
        "escrow-backup",
        "Remove-MasterSecretBackup",  # the new backup leaves the node once escrowed and read back (M4)
    ]
