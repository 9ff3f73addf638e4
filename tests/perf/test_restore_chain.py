"""The folded restore chain (issue 15): Restore-MasterSecret -RemoveCopy removes the backup's folder itself, in a
finally, so the copy never outlives the restore, and refuses a folder that is not a per-run folder before it acts."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from provider import contracts
from provider.errors import EssoError
from provider.remote.script_source import assembled
from provider.remote.simulator import Simulator, demo_world
from tests.support.driver import Driver


def _staged(driver: Driver, node: str = "SSO02") -> tuple[bytes, str]:
    """A configured cluster, the role on ``node`` and cycled, the backup copied into a protected folder there."""
    data = driver.configure()
    driver.move(node)
    driver.cycle(node)
    made = driver.run(
        node, contracts.NEW_PROTECTED_TEMP_DIR, contracts.TempDirParams(run_id="r1", reader=driver.SERVICE)
    )
    path = f"{made.after.path}\\SSOSecret.bak"
    driver.remote.send_file(node, path, data)
    return data, path


def _params(driver: Driver, path: str, *, password: str | None = None) -> contracts.RestoreParams:
    msid = driver.database().msid
    assert msid
    return contracts.RestoreParams(
        backup_file=path, backup_password=SecretStr(password or driver.BACKUP_PW), expected_msid=msid, remove_copy=True
    )


def _left(driver: Driver, node: str) -> list[str]:
    world = Simulator(driver.state).load().nodes[node]
    return [*world.protected_dirs, *(k for k in world.files if "esso-" in k)]


def test_the_restore_removes_its_copy_when_it_succeeds(tmp_path: Path) -> None:
    driver = Driver(tmp_path)
    _, path = _staged(driver)
    assert _left(driver, "SSO02")
    restored = driver.run("SSO02", contracts.RESTORE_MASTER_SECRET, _params(driver, path))
    assert restored.changed and driver.database().msid in restored.after.msids
    assert _left(driver, "SSO02") == []


def test_a_failed_restore_removes_its_copy_too_and_reports_its_own_error(tmp_path: Path) -> None:
    driver = Driver(tmp_path)
    _, path = _staged(driver)
    with pytest.raises(EssoError) as err:
        driver.run("SSO02", contracts.RESTORE_MASTER_SECRET, _params(driver, path, password="not-the-password-1!"))
    assert err.value.code == "ESSO-012"
    assert _left(driver, "SSO02") == []
    assert driver.database().msid not in driver.facts("SSO02").ssoss_msids


def test_a_backup_outside_a_per_run_folder_is_refused_before_the_restore(tmp_path: Path) -> None:
    driver = Driver(tmp_path)
    _staged(driver)
    outside = "C:\\Program Files\\Common Files\\Enterprise Single Sign-On\\SSOSecret.bak"
    with pytest.raises(EssoError) as err:
        driver.run("SSO02", contracts.RESTORE_MASTER_SECRET, _params(driver, outside))
    assert err.value.code == "ESSO-035"
    assert driver.database().msid not in driver.facts("SSO02").ssoss_msids


def test_the_script_removes_the_copy_in_a_finally_after_checking_the_folder_first() -> None:
    """The PowerShell side of the same contract: the folder is resolved (Resolve-ProtectedPath) before the restore,
    and removed in the finally around it."""
    _in_order(
        contracts.RESTORE_MASTER_SECRET.name,
        "$copyFolder = $null",
        "Resolve-ProtectedPath -Path (Split-Path -Path $BackupFile -Parent)",
        "'RestoreSecret'",
        "finally {\n    if ($null -ne $copyFolder",
        "Remove-ProtectedItem -Path $copyFolder",  # lib/ProtectedPath.ps1: removes it, throws when it stays
    )


def _in_order(script: str, *needles: str) -> None:
    """Each needle occurs in the assembled script, after the one before it."""
    text = assembled(script)
    at = 0
    for needle in needles:
        at = text.index(needle, at)


def test_a_first_up_leaves_no_copy_on_any_node(tmp_path: Path) -> None:
    from bench.bench import Stack

    stack = Stack(tmp_path, 3)
    calls = stack.up()
    world = stack.sim.load()
    for name, node in world.nodes.items():
        assert node.protected_dirs == [], name
        assert not any("esso-" in key for key in node.files), name
    # the copy is removed by the restore itself: Remove-ProtectedPath runs only as the creator's sweep
    assert sum(v for k, v in calls.items() if k.endswith("/Remove-ProtectedPath")) == 1
    assert calls["SSO01/Remove-ProtectedPath"] == 1


def _first_chunk(driver: Driver, data: bytes, run_id: str, *, name: str = "SSOSecret.bak", digest: str = "") -> Any:
    params = contracts.WriteFileChunkParams(
        path=name,
        data_base64=base64.b64encode(data).decode("ascii"),
        offset=0,
        final=True,
        expected_sha256=digest or hashlib.sha256(data).hexdigest(),
        run_id=run_id,
        reader=driver.SERVICE,
    )
    return driver.run("SSO02", contracts.WRITE_FILE_CHUNK, params)


def test_the_folder_and_the_copy_are_made_in_one_call(tmp_path: Path) -> None:
    driver = Driver(tmp_path)
    data = driver.configure()
    written = _first_chunk(driver, data, "r2")
    assert written.size == len(data) and written.sha256 == hashlib.sha256(data).hexdigest()
    assert driver.remote.fetch_file("SSO02", written.path) == data
    folder = written.path.rpartition("\\")[0]
    made = driver.run(
        "SSO02", contracts.NEW_PROTECTED_TEMP_DIR, contracts.TempDirParams(run_id="r2", reader=driver.SERVICE)
    )
    assert made.after.path == folder and not made.changed  # the very folder New-ProtectedTempDir makes, its ACL too
    world = Simulator(driver.state).load().nodes["SSO02"]
    assert all(f.admin_only_acl for k, f in world.files.items() if "esso-r2" in k)
    # the restore reads it as the service account: the folder's one reader (issue 9 A12)
    driver.move("SSO02")
    driver.cycle("SSO02")
    assert driver.run("SSO02", contracts.RESTORE_MASTER_SECRET, _params(driver, written.path)).changed
    assert _left(driver, "SSO02") == []


def test_a_copy_whose_hash_differs_is_deleted_and_reported(tmp_path: Path) -> None:
    driver = Driver(tmp_path)
    data = driver.configure()
    with pytest.raises(EssoError) as err:
        _first_chunk(driver, data, "r3", digest=hashlib.sha256(b"other").hexdigest())
    assert err.value.code == "ESSO-022"
    assert not any("esso-r3\\" in key for key in Simulator(driver.state).load().nodes["SSO02"].files)


@pytest.mark.parametrize("name", ["..\\x.bak", "C:\\Windows\\Temp\\esso-r4\\x.bak"])
def test_with_a_run_id_the_path_must_be_a_plain_name(tmp_path: Path, name: str) -> None:
    driver = Driver(tmp_path)
    driver.configure()
    with pytest.raises(EssoError) as err:
        _first_chunk(driver, b"x", "r4", name=name)
    assert err.value.code == "ESSO-035"
    assert _left(driver, "SSO02") == []


def test_the_move_cycles_the_resource_so_the_restore_may_follow(tmp_path: Path) -> None:
    """Seed steps 2-3 in one Move-SsoRole call: the role on the node and ENTSSO cycled there (rule 9)."""
    driver = Driver(tmp_path)
    data = driver.configure()
    moved = driver.run(
        "SSO02",
        contracts.MOVE_SSO_ROLE,
        contracts.MoveRoleParams(role_name=driver.ROLE, node="SSO02", cycle_resource=driver.RESOURCE),
    )
    assert moved.changed and moved.after.owner_node == "SSO02" and moved.after.state == "Online"
    assert Simulator(driver.state).load().cluster.cycled_on["SSO02"]
    assert driver.restore("SSO02", data).changed
    # already there: the cycle alone is still a change
    again = driver.run(
        "SSO02",
        contracts.MOVE_SSO_ROLE,
        contracts.MoveRoleParams(role_name=driver.ROLE, node="SSO02", cycle_resource=driver.RESOURCE),
    )
    assert again.changed


def test_a_move_without_the_cycle_leaves_the_restore_refused(tmp_path: Path) -> None:
    driver = Driver(tmp_path)
    data = driver.configure()
    driver.move("SSO02")
    with pytest.raises(EssoError) as err:
        driver.restore("SSO02", data)
    assert err.value.code == "ESSO-011"


def test_a_cycle_resource_that_does_not_exist_is_refused_before_the_role_moves(tmp_path: Path) -> None:
    driver = Driver(tmp_path)
    driver.configure()
    owner = driver.cluster().role
    assert owner is not None
    with pytest.raises(EssoError) as err:
        driver.run(
            "SSO02",
            contracts.MOVE_SSO_ROLE,
            contracts.MoveRoleParams(role_name=driver.ROLE, node="SSO02", cycle_resource="No Such Resource"),
        )
    assert err.value.code == "ESSO-035"
    after = driver.cluster().role
    assert after is not None and after.owner_node == owner.owner_node


def test_the_move_script_checks_the_resource_first_and_cycles_after_the_move() -> None:
    _in_order(
        contracts.MOVE_SSO_ROLE.name,
        "Assert-ClusterMember\n$targets",
        "(Get-ResourceState -Name $CycleResource)['exists']",
        "Move-ClusterGroup -Name $RoleName",
        "Invoke-EntSsoResourceCycle -Name $CycleResource",
    )


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_failed_move_leaves_no_copy_and_the_next_up_converges(tmp_path: Path, concurrency: int) -> None:
    """The copy is staged beside the move (concurrency > 1) or after it (1); a move that fails leaves nothing on the
    node either way, and in turn the copy is never even written."""
    from provider.remote.cache import Operation
    from tests.support.procedure import Stack as ProviderStack
    from tests.support.procedure import demo_spec

    spec = demo_spec(tmp_path, ("SSO01", "SSO02"))
    sim = Simulator(tmp_path / "world.json")
    sim.seed(demo_world(nodes=["SSO01", "SSO02"]))
    stack = ProviderStack()

    def up() -> None:
        operation = Operation(concurrency=concurrency)
        original = ProviderStack._provider

        def provider(cls: Any, spec: Any) -> Any:
            made = original(cls, spec)
            made.use_spec(spec, operation)
            return made

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ProviderStack, "_provider", staticmethod(provider))
            stack.up(spec)

    sim.inject("SSO02", "Move-SsoRole", "error")
    with pytest.raises(EssoError):
        up()
    world = sim.load()
    assert _left_in(world, "SSO02") == []
    writes = world.calls_for(node="SSO02", script="Write-FileChunk")
    assert writes == (0 if concurrency == 1 else 1)
    up()
    world = sim.load()
    assert _left_in(world, "SSO02") == [] and world.databases
    assert any(m in world.nodes["SSO02"].ssoss for m in world.nodes["SSO01"].ssoss)


def _left_in(world: Any, node: str) -> list[str]:
    found = world.nodes[node]
    return [*found.protected_dirs, *(k for k in found.files if "esso-" in k)]
