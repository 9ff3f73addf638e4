"""The simulator answers as the real scripts do (issue 9 B): where the two differed, the script's behaviour wins.

Each test names the script lines it mirrors; the provider-side consequence is tested with it where there is one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from provider import contracts
from provider.errors import EssoError
from provider.remote.simulator import Simulator, client_can_reach_secret_server
from provider.remote.world import DomainGroup
from provider.resources.clustered_service import ClusteredSsoServiceProvider
from provider.resources.node_join import SsoNodeJoinProvider
from provider.spec import ClusterSpec
from tests.support.procedure import Stack, demo_spec


def _code(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(EssoError) as err:
        call(*args, **kwargs)
    return err.value.code


# ---------------------------------------------------------------------------- Set-ClusteredSsoService


def test_needs_cycle_is_reported_once_by_the_call_that_changed(driver: Any) -> None:
    """Set-ClusteredSsoService.ps1 computes needsCycle from this call's change only; the simulator too."""
    driver.full()
    with driver.sim.edit() as world:
        world.cluster.resources[driver.RESOURCE].parameters["UseNetworkName"] = 0
    assert driver.cluster_service().needs_cycle is True
    again = driver.cluster_service()
    assert again.changed is False and again.needs_cycle is False
    assert not client_can_reach_secret_server(driver.sim.load())[0]  # Windows still waits for the cycle


def test_other_dependencies_are_kept_and_another_network_name_gives_way(driver: Any) -> None:
    """The script adds the Name dependency with "and" and keeps what a person added (seed step 11, "Insert")."""
    driver.full()
    with driver.sim.edit() as world:
        service = world.cluster.resources[driver.RESOURCE]
        service.dependencies = ["SSO-IP", "MSDTC-Name"]
    repaired = driver.cluster_service()
    assert repaired.changed
    assert repaired.after.dependencies == ["SSO-IP", driver.NETNAME_RESOURCE]
    kept = driver.cluster_service()
    assert kept.changed is False and kept.after.dependencies == ["SSO-IP", driver.NETNAME_RESOURCE]


def _stack(tmp_path: Path) -> tuple[Stack, ClusterSpec]:
    """The demo stack, up."""
    spec = demo_spec(tmp_path)
    stack = Stack()
    stack.up(spec)
    return stack, spec


def test_drift_accepts_dependencies_a_person_added(tmp_path: Path) -> None:
    stack, spec = _stack(tmp_path)
    with Simulator(tmp_path / "world.json").edit() as world:
        service = next(r for r in world.cluster.resources.values() if r.type == "Generic Service")
        service.dependencies.append("SSO-IP")
    outs = stack.refresh(spec, targets={"clustered-sso-service"})["clustered-sso-service"]
    assert "SSO-IP" in outs["dependencies"]
    provider = ClusteredSsoServiceProvider()  # drift() is pure: the subject here, not a driver call
    assert "dependencies" not in provider.drift(provider.recorded(outs), provider.stored_inputs(outs))


def test_a_repair_that_needs_a_cycle_is_refused_before_it_is_made(tmp_path: Path) -> None:
    """Without allowDisruption the online resource is left as it is: no repair applied and never cycled."""
    stack, spec = _stack(tmp_path)
    sim = Simulator(tmp_path / "world.json")
    with sim.edit() as world:
        service = next(r for r in world.cluster.resources.values() if r.type == "Generic Service")
        service.parameters["UseNetworkName"] = 0
    strict = demo_spec(tmp_path, allowDisruption=False)
    assert _code(stack.update, strict, "clustered-sso-service") == "ESSO-019"
    service = next(r for r in sim.load().cluster.resources.values() if r.type == "Generic Service")
    assert service.parameters["UseNetworkName"] == 0 and not service.needs_cycle
    stack.update(spec, "clustered-sso-service")
    assert stack.outputs("clustered-sso-service")["useNetworkName"] == 1
    ok, why = client_can_reach_secret_server(sim.load())
    assert ok, why


def test_get_cluster_facts_types_each_resource_s_parameters(driver: Any) -> None:
    driver.full()
    facts = driver.run("SSO01", contracts.GET_CLUSTER_FACTS, contracts.GetClusterFactsParams(role_name="SSO"))
    by_type = {r.type: r.parameters for r in facts.resources}
    assert isinstance(by_type["Generic Service"], contracts.GenericServiceParameters)
    assert by_type["Generic Service"].use_network_name == 1
    assert isinstance(by_type["Network Name"], contracts.NetworkNameParameters)
    assert all(isinstance(d.parameters, contracts.DtcParameters) and d.parameters.cid for d in facts.msdtc)


# ---------------------------------------------------------------------------------- Configuration.exe


@pytest.mark.parametrize("step", ["install", "join"])
def test_a_hung_configuration_exe_fails_with_its_own_id_and_changes_nothing(driver: Any, step: str) -> None:
    driver.prepare()
    if step == "join":
        driver.install()
    node = "SSO01" if step == "install" else "SSO02"
    with driver.sim.edit() as world:
        world.nodes[node].configuration_exe_hangs = True
    with pytest.raises(EssoError) as err:
        driver.install() if step == "install" else driver.join("SSO02")
    assert err.value.code == "ESSO-027" and "log was kept" in str(err.value)
    assert driver.sim.load().nodes[node].sso_server is None


# ------------------------------------------------------------------------------------------ Get-NodeFacts


def test_a_failing_status_call_is_a_fact_not_a_failed_preflight(driver: Any) -> None:
    """Get-NodeFacts.ps1 catches GetServerStatus's COM error and reports flags -1 with the error (issue 9 A9)."""
    driver.full()
    with driver.sim.edit() as world:
        world.nodes["SSO01"].status_call_fails = True
    status = driver.facts("SSO01").secret_server_status
    assert (status.flags, status.running, status.clustered) == (-1, False, False)
    assert status.error and "0x800706ba" in status.error
    assert driver.facts("SSO02").secret_server_status.error is None


def test_a_node_without_the_active_directory_module_is_told_which_feature_to_install(driver: Any) -> None:
    """lib/AdGroup.ps1 checks the module before use (issue 9 A4); so does the simulator, for reads and changes."""
    with driver.sim.edit() as world:
        world.nodes[driver.home].ad_module = False
    with pytest.raises(EssoError) as err:
        driver.groups()
    assert err.value.code == "ESSO-028" and "RSAT-AD-PowerShell" in str(err.value)
    params = contracts.DomainGroupsParams(admin_group="SSO Administrators", affiliate_admin_group="x", members=[])
    assert _code(driver.run, driver.home, contracts.GET_DOMAIN_GROUP_FACTS, params) == "ESSO-028"


def test_an_unqualified_sso_group_in_the_answer_file_is_refused(driver: Any) -> None:
    """Install-SsoSystem.ps1 refuses a bare group name (it could bind a local group); the simulator too (A5)."""
    driver.prepare()
    assert _code(driver.install, admin=driver.ADMIN) == "ESSO-002"
    assert driver.sim.load().nodes["SSO01"].sso_server is None
    installed = driver.install()
    (database,) = driver.sim.load().databases.values()
    assert installed.changed and database.admin_group == driver.QUALIFIED_ADMIN


# ----------------------------------------------------------------------------- Remove-SsoNodeConfiguration


def test_unconfiguring_a_node_of_another_system_is_refused_as_the_script_does(driver: Any) -> None:
    driver.configure()
    config = contracts.RemoveNodeConfigParams(server=driver.SQL, database="OTHERDB")
    assert _code(driver.run, "SSO02", contracts.REMOVE_SSO_NODE_CONFIGURATION, config) == "ESSO-005"
    assert driver.sim.load().nodes["SSO02"].sso_database == driver.DB


def test_the_owner_is_refused_while_the_clustered_entsso_is_not_offline(driver: Any) -> None:
    driver.full()
    with driver.sim.edit() as world:
        world.cluster.resources[driver.RESOURCE].state = "Failed"
    config = contracts.RemoveNodeConfigParams(server=driver.SQL, database=driver.DB)
    assert _code(driver.run, "SSO01", contracts.REMOVE_SSO_NODE_CONFIGURATION, config) == "ESSO-014"


def test_a_join_with_another_service_account_is_refused_before_configuration_exe(tmp_path: Path) -> None:
    """Rule 5 on real nodes (issue 9 B): the provider compares with the account ENTSSO runs as elsewhere."""
    stack, _ = _stack(tmp_path)
    sim = Simulator(tmp_path / "world.json")
    with sim.edit() as world:
        world.nodes["SSO02"].sso_server = world.nodes["SSO02"].sso_database = None
    joins = sim.load().calls_for(node="SSO02", script="Join-SsoSystem")
    other = demo_spec(tmp_path, sso={"serviceAccount": "CONTOSO\\svc-other"})
    assert stack.state["sso-join-sso02"].cls is SsoNodeJoinProvider
    with pytest.raises(EssoError) as err:
        stack.update(other, "sso-join-sso02")
    assert err.value.code == "ESSO-006" and "svc-entsso" in str(err.value)
    assert sim.load().calls_for(node="SSO02", script="Join-SsoSystem") == joins


def test_adopting_a_node_whose_backup_file_is_missing_leaves_the_backup_to_backup_master_secret(driver: Any) -> None:
    """Install-SsoSystem.ps1's adopt branch no longer writes a missing backup file (issue 13 M4: the file leaves
    the node once escrowed, so missing is the normal case): it adopts the node unchanged. A run stopped before the
    backup was written (issue 14) is repaired by Backup-MasterSecret, which the caller runs when its escrow lacks
    the backup; the simulator too."""
    driver.prepare()
    installed = driver.install()
    with driver.sim.edit() as world:
        del world.nodes["SSO01"].files[installed.backup_file.lower()]
    again = driver.install()
    assert again.changed is False and again.msid == installed.msid
    assert installed.backup_file.lower() not in driver.sim.load().nodes["SSO01"].files
    backup = driver.backup()
    assert backup.changed is True and backup.after.msid == installed.msid
    assert backup.after.file.lower() in driver.sim.load().nodes["SSO01"].files


def test_a_pending_clustered_entsso_is_the_cluster_s_and_not_stopped_locally(driver: Any) -> None:
    """Set-EntSsoStartMode.ps1 treats Online and *Pending on this node as the cluster's (review F15)."""
    driver.full()
    with driver.sim.edit() as world:
        world.cluster.resources[driver.RESOURCE].state = "OnlinePending"
    result = driver.start_mode("SSO01")
    assert result.changed is False and driver.sim.load().nodes["SSO01"].entsso_state == "Running"


# ---------------------------------------------------------------------------------- Log on as a service


def test_a_gpo_granting_the_right_to_a_group_of_the_account_counts(driver: Any) -> None:
    """The usual GPO grants "Log on as a service" to a group of service accounts (issue 9 A6, review F6)."""
    with driver.sim.edit() as world:
        world.domain.groups["Service Accounts"] = DomainGroup(name="Service Accounts", members=["svc-entsso"])
        for node in world.nodes.values():
            node.gpo_logon_right = ["CONTOSO\\Service Accounts"]
    facts = driver.facts("SSO01").logon_right
    assert (facts.granted, facts.via_gpo, facts.gpo_includes_account) == (True, True, True)
    assert driver.grant("SSO01").changed is False  # no ESSO-018: the GPO already grants it
    driver.prepare()
    assert driver.install().changed


def test_the_service_account_gets_full_cluster_access_once(driver: Any) -> None:
    """The clustering guide: "This account must also be granted Full Control access to the cluster" (issue 9 A7)."""
    driver.configure()
    world = driver.sim.load()
    assert world.cluster.full_access == [driver.SERVICE]
    again = driver.cluster_service()
    assert again.changed is False and again.after.service_account_full_access is True
    assert driver.sim.load().cluster.full_access == [driver.SERVICE]


def test_full_cluster_access_through_a_group_counts(driver: Any) -> None:
    driver.prepare()
    with driver.sim.edit() as world:
        world.cluster.full_access = ["CONTOSO\\SSO Administrators"]  # the service account is a member
    driver.install()
    driver.join("SSO02")
    created = driver.cluster_service()
    assert created.before.service_account_full_access is True
    assert driver.sim.load().cluster.full_access == ["CONTOSO\\SSO Administrators"]


# ------------------------------------------------------------------------------------------------- restore


def test_the_restore_copy_is_readable_by_the_service_account_only_besides_administrators(driver: Any) -> None:
    """Issue 9 A12: New-ProtectedTempDir -Reader adds the ENTSSO account; without it the restore is refused."""
    data = driver.configure()
    driver.move("SSO02")
    driver.cycle("SSO02")
    made = driver.run("SSO02", contracts.NEW_PROTECTED_TEMP_DIR, contracts.TempDirParams(run_id="no-reader"))
    path = f"{made.after.path}\\SSOSecret.bak"
    driver.remote.send_file("SSO02", path, data)
    params = contracts.RestoreParams(
        backup_file=path, backup_password=SecretStr(driver.BACKUP_PW), expected_msid=driver.database().msid
    )
    with pytest.raises(EssoError) as err:
        driver.run("SSO02", contracts.RESTORE_MASTER_SECRET, params)
    assert "0x80070005" in str(err.value)
    regranted = driver.run(
        "SSO02", contracts.NEW_PROTECTED_TEMP_DIR, contracts.TempDirParams(run_id="no-reader", reader=driver.SERVICE)
    )
    assert regranted.changed
    assert driver.run("SSO02", contracts.RESTORE_MASTER_SECRET, params).changed
    assert (
        _code(
            driver.run,
            "SSO02",
            contracts.NEW_PROTECTED_TEMP_DIR,
            contracts.TempDirParams(run_id="x", reader="CONTOSO\\nobody"),
        )
        == "ESSO-003"
    )


def test_the_provider_s_restore_copy_names_the_service_account_and_is_removed(tmp_path: Path) -> None:
    _stack(tmp_path)
    node = Simulator(tmp_path / "world.json").load().nodes["SSO02"]
    assert node.protected_dirs == [] and node.dir_readers == {}
    assert not any("esso-" in key for key in node.files)


def test_a_node_joining_a_clustered_system_does_not_run_entsso_outside_the_cluster(driver: Any) -> None:
    """Join-SsoSystem.ps1 sets ENTSSO Manual and stops it when the system is already clustered (review F17)."""
    driver.full()
    with driver.sim.edit() as world:
        world.nodes["SSO02"].sso_server = world.nodes["SSO02"].sso_database = None
        world.nodes["SSO02"].entsso_account = None
    assert driver.join("SSO02").changed
    node = driver.sim.load().nodes["SSO02"]
    assert (node.entsso_start_type, node.entsso_state) == ("Manual", "Stopped")
    ok, why = client_can_reach_secret_server(driver.sim.load())
    assert ok, why
