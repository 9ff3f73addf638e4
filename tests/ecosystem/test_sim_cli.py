"""The simulator's command line refuses bad input with the fix and shows a converged world in a few lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from provider.contracts import SCRIPTS
from provider.errors import EssoError
from provider.remote.sim_cli import main
from provider.remote.sim_model import demo_world
from provider.remote.simulator import Simulator
from provider.remote.simulator import main as delegated_main
from tests.support.procedure import Procedure, demo_spec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "world.json"
    Simulator(path).seed(demo_world())
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_fault_refuses_an_unknown_node_and_lists_the_nodes(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "fault", "--state", str(state), "--node", "SSO09", "--script", "Join-SsoSystem")
    assert code == 2
    assert "--node: SSO09 is not a node" in err and "SSO01, SSO02" in err
    assert Simulator(state).load().faults == []


def test_fault_refuses_an_unknown_script_and_lists_them(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "fault", "--state", str(state), "--node", "SSO02", "--script", "JoinSsoSystem")
    assert code == 2
    assert "unknown script JoinSsoSystem" in err
    assert all(name in err for name in SCRIPTS)
    assert Simulator(state).load().faults == []


def test_fault_refuses_a_count_below_one(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["fault", "--state", str(state), "--node", "SSO02", "--script", "Join-SsoSystem", "--remaining", "-3"]
    code, _, err = run(capsys, *argv)
    assert code == 2 and "--remaining" in err
    assert Simulator(state).load().faults == []


def test_faults_are_added_listed_and_cleared(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = str(state)
    assert run(capsys, "fault", "--state", s, "--list")[1].strip() == "no faults"
    assert run(capsys, "fault", "--state", s, "--node", "sso02", "--script", "Join-SsoSystem")[0] == 0
    assert run(capsys, "fault", "--state", s, "--node", "SSO01", "--script", "*", "--kind", "hang")[0] == 0
    listed = run(capsys, "fault", "--state", s, "--list")[1].splitlines()
    assert listed == ["error on SSO02/Join-SsoSystem x1", "hang on SSO01/* x1"]
    assert run(capsys, "fault", "--state", s, "--clear", "--node", "SSO01")[1].strip() == "cleared 1 fault(s)"
    assert [f.node for f in Simulator(state).load().faults] == ["SSO02"]
    assert run(capsys, "fault", "--state", s, "--clear")[1].strip() == "cleared 1 fault(s)"
    assert Simulator(state).load().faults == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("root:x:0:0:root:/root:/bin/bash\n", "is not a simulator world"),
        ('{"domain": {"name": "CONTOSO"}}', "is not a simulator world"),
        ("\xff\xfe", "is not a simulator world"),
    ],
)
def test_a_bad_state_file_is_a_clear_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="latin-1")
    for argv in (["show"], ["show", "--summary"], ["fault", "--list"]):
        code, _, err = run(capsys, *argv, "--state", str(bad))
        assert code == 1
        assert expected in err and "init --state" in err and "Traceback" not in err


def test_a_directory_as_state_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "show", "--state", str(tmp_path))
    assert code == 1 and f"cannot read {tmp_path}" in err


def test_a_missing_world_says_how_to_make_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "show", "--summary", "--state", str(tmp_path / "none.json"))
    assert code == 1 and "make demo" in err and "init --state" in err


@pytest.mark.parametrize("nodes", ["SSO01", "a.b.c,SSO02", "SSO01,bad name", "SSO01,sso01"])
def test_init_refuses_bad_nodes(tmp_path: Path, capsys: pytest.CaptureFixture[str], nodes: str) -> None:
    code, _, err = run(capsys, "init", "--state", str(tmp_path / "w.json"), "--nodes", nodes)
    assert code == 2 and err.startswith("--nodes:")
    assert not (tmp_path / "w.json").exists()


def test_summary_of_a_converged_world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = demo_spec(tmp_path)
    Procedure(spec).up()
    code, out, _ = run(capsys, "show", "--summary", "--state", str(tmp_path / "world.json"))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) < 15
    assert "  role SSO: Online on SSO01" in lines
    assert any("UseNetworkName=1" in line and "Online" in line for line in lines)
    assert any("secret server BIZTALKSSO" in line for line in lines)
    assert sum("holds the master secret" in line for line in lines) == 2
    assert "  faults: none" in lines


def test_summary_of_a_fresh_world_says_nothing_is_configured(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "show", "--summary", "--state", str(state))[1]
    assert "clustered service: none yet" in out and "SSO database: none yet" in out
    assert "node SSO01: reachable, ENTSSO Stopped (Manual), SSO not configured, no master secret" in out


def test_simulator_module_delegates_to_the_cli(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert delegated_main(["fault", "--state", str(state), "--list"]) == 0
    assert capsys.readouterr().out.strip() == "no faults"
    done = subprocess.run(
        [sys.executable, "-m", "provider.remote.simulator", "show", "--summary", "--state", str(state)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert "role SSO: Online on SSO01" in done.stdout


def test_the_readme_failure_walkthrough(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """init, a drop_after fault on SSO02's join, a first run that stops with ESSO-031, a re-run that finishes."""
    state = str(tmp_path / "world.json")
    assert main(["init", "--state", state]) == 0
    argv = ["fault", "--state", state, "--node", "SSO02", "--script", "Join-SsoSystem", "--kind", "drop_after"]
    assert main(argv) == 0
    with pytest.raises(EssoError) as err:
        Procedure(demo_spec(tmp_path)).up()
    assert err.value.code == "ESSO-031" and err.value.node == "SSO02"
    Procedure(demo_spec(tmp_path)).up()
    capsys.readouterr()
    assert main(["show", "--summary", "--state", state]) == 0
    out = capsys.readouterr().out
    assert sum("holds the master secret" in line for line in out.splitlines()) == 2 and "faults: none" in out


def test_init_seeds_an_existing_sso_system_on_a_standalone_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The adopt demo (docs/adopt.md): the database and its MSID already exist, held by BTS01 outside the cluster."""
    state = tmp_path / "world.json"
    code, out, _ = run(capsys, "init", "--state", str(state), "--existing-server", "BTS01")
    assert code == 0 and "existing SSO system on BTS01" in out
    world = Simulator(state).load()
    assert "BTS01" in world.nodes and world.databases, "BTS01 serves an SSO database that already exists"


def test_init_existing_refuses_a_cluster_node_and_a_password_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "world.json"
    code, _, err = run(capsys, "init", "--state", str(state), "--existing-server", "SSO01")
    assert code == 2 and "is a cluster node" in err
    monkeypatch.delenv("ESSO_SIM_BACKUP_PASSWORD", raising=False)
    backup = tmp_path / "old.bak"
    args = ("init", "--state", str(state), "--existing-server", "BTS01", "--retired-backup", str(backup))
    code, _, err = run(capsys, *args)
    assert code == 2 and "ESSO_SIM_BACKUP_PASSWORD" in err and not state.exists()
    monkeypatch.setenv("ESSO_SIM_BACKUP_PASSWORD", "Retired-Backup-Pass-1!")
    code, out, _ = run(capsys, *args)
    assert code == 0 and backup.stat().st_size > 0 and "is gone" in out
