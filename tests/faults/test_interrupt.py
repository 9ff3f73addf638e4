"""The simulator's ``interrupt`` fault (issue 14, point 3): a multi-step change script stopped at a named phase
keeps what it did before that phase, and the provider sees a dropped connection after which the script may have
run. The phases are part of the contract (``Script.phases``); the simulator refuses any other name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from provider import contracts
from provider.errors import EssoError
from provider.remote import sim_handlers
from provider.remote.base import TransientRemoteError
from provider.remote.sim_model import Ctx
from provider.remote.simulator import Simulator
from tests.faults import matrix
from tests.support.procedure import Stack

NODES = ("SSO01", "SSO02")


def _first_up_interrupted(tmp_path: Path, node: str, script: str, phase: str) -> tuple[Simulator, EssoError]:
    matrix.install_ledger()
    sim = matrix.seeded(tmp_path, NODES)
    sim.inject(node, script, "interrupt", phase=phase)
    with pytest.raises(EssoError) as err:
        Stack().up(matrix.spec_for(tmp_path, NODES))
    return sim, err.value


def test_an_install_interrupted_after_configuration_exe_keeps_the_system_without_its_backup(tmp_path: Path) -> None:
    sim, err = _first_up_interrupted(tmp_path, "SSO01", "Install-SsoSystem", "configured")
    assert isinstance(err, TransientRemoteError) and err.may_have_run and err.code == "ESSO-031"
    assert (err.node, err.step) == ("SSO01", "Install-SsoSystem") and "interrupted at configured" in str(err)
    world = sim.load()
    node = world.nodes["SSO01"]
    (database,) = world.databases.values()
    assert node.sso_database == "SSODB" and node.ssoss == [database.msid]
    assert not any(key.endswith("ssosecret.bak") for key in node.files)  # the backup was never written
    folder = sim_handlers.config_work_folder("create")
    assert folder in node.protected_dirs  # the answer file's folder: the next run of the step removes it
    assert any(key.startswith(folder + "\\") for key in node.files)


def test_a_role_move_interrupted_half_way_leaves_the_role_offline_on_the_target(tmp_path: Path) -> None:
    sim, err = _first_up_interrupted(tmp_path, "SSO02", "Move-SsoRole", "moved-offline")
    assert err.step == "Move-SsoRole"
    world = sim.load()
    group = world.cluster.groups["SSO"]
    assert group.owner_node != "SSO01" or group.state != "Online"
    assert group.state == "Offline"


def test_an_unknown_phase_is_refused_before_the_world_changes(tmp_path: Path) -> None:
    sim = matrix.seeded(tmp_path, NODES)
    before = sim.load()
    with pytest.raises(ValueError, match="configured"):
        sim.inject("SSO01", "Install-SsoSystem", "interrupt", phase="half-way")
    with pytest.raises(ValueError, match="single-step"):
        sim.inject("SSO01", "Restore-MasterSecret", "interrupt", phase="configured")
    assert sim.load() == before


def test_a_handler_may_only_stop_at_a_declared_phase() -> None:
    ctx = Ctx.__new__(Ctx)
    ctx.script, ctx.interrupt = contracts.INSTALL_SSO_SYSTEM, None
    ctx.phase("configured")  # declared, not armed: nothing happens
    with pytest.raises(AssertionError, match="declares no phase"):
        ctx.phase("undeclared")


def test_the_command_line_needs_a_declared_phase_for_an_interrupt(tmp_path: Path) -> None:
    state = tmp_path / "world.json"
    matrix.seeded(tmp_path, NODES)

    def fault(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "provider.remote.simulator", "fault", "--state", str(state), *args]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    refused = fault("--node", "SSO02", "--script", "Join-SsoSystem", "--kind", "interrupt")
    assert refused.returncode == 2 and "marker-written, configured" in refused.stderr
    armed = fault("--node", "SSO02", "--script", "Join-SsoSystem", "--kind", "interrupt", "--phase", "configured")
    assert armed.returncode == 0, armed.stderr
    assert "interrupt at configured on SSO02/Join-SsoSystem" in armed.stdout
    (armed_fault,) = Simulator(state).load().faults
    assert armed_fault.phase == "configured"
