"""Each rule of docs/design.md (1-13) as a scenario the simulator refuses with its documented ESSO code."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from provider import contracts
from provider.errors import EssoError
from provider.remote.sim_model import client_can_reach_secret_server, require_client_reach
from provider.remote.simulator import SimulatorRemote, handle
from provider.remote.world import DomainGroup


def code_of(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(EssoError) as err:
        call(*args, **kwargs)
    assert "Fix:" in str(err.value)
    return err.value.code


# ------------------------------------------------------------------------------------------ rule 1


def test_rule1_nlb_node_refuses_install_join_and_restore(driver: Any) -> None:
    driver.prepare()
    with driver.sim.edit() as world:
        world.nodes["SSO01"].nlb = True
    assert code_of(driver.install) == "ESSO-001"
    with driver.sim.edit() as world:
        world.nodes["SSO01"].nlb = False
    driver.install()
    with driver.sim.edit() as world:
        world.nodes["SSO02"].nlb = True
    assert code_of(driver.join, "SSO02") == "ESSO-001"
    with driver.sim.edit() as world:
        world.nodes["SSO02"].nlb = False
    driver.join("SSO02")
    driver.rename()
    driver.cluster_service()
    data = driver.remote.fetch_file("SSO01", driver.BACKUP_FILE)
    driver.move("SSO02")
    driver.cycle("SSO02")
    with driver.sim.edit() as world:
        world.nodes["SSO02"].nlb = True
    assert code_of(driver.restore, "SSO02", data) == "ESSO-001"
    assert driver.sim.load().nodes["SSO02"].ssoss == []


# ------------------------------------------------------------------------------------------ rule 2


@pytest.mark.parametrize(("scope", "category"), [("DomainLocal", "Security"), ("Global", "Distribution")])
def test_rule2_existing_non_global_security_group_is_not_reused(driver: Any, scope: str, category: str) -> None:
    with driver.sim.edit() as world:
        world.domain.groups[driver.ADMIN] = DomainGroup.model_validate(
            {"name": driver.ADMIN, "scope": scope, "category": category}
        )
    assert code_of(driver.groups) == "ESSO-002"
    world = driver.sim.load()
    assert driver.AFFILIATE not in world.domain.groups  # refused before creating anything


def test_rule2_install_refuses_local_or_missing_groups(driver: Any) -> None:
    driver.prepare()
    with driver.sim.edit() as world:
        world.domain.groups[driver.AFFILIATE].scope = "DomainLocal"
    assert code_of(driver.install) == "ESSO-002"
    with driver.sim.edit() as world:
        world.domain.groups[driver.AFFILIATE].scope = "Global"
    assert code_of(driver.install, admin="SSO Admins That Do Not Exist") == "ESSO-002"
    assert driver.install().changed


# ------------------------------------------------------------------------------------------ rule 3


def test_rule3_service_account_needs_the_logon_right(driver: Any) -> None:
    driver.groups()
    driver.remote.renew_logon("SSO01")
    assert code_of(driver.install) == "ESSO-003"  # no "Log on as a service" yet
    driver.grant("SSO01")
    with driver.sim.edit() as world:  # a GPO defines the right without the account: the local grant is void
        world.nodes["SSO01"].gpo_logon_right = ["CONTOSO\\svc-other"]
    assert code_of(driver.install) == "ESSO-003"
    assert code_of(driver.grant, "SSO01") == "ESSO-018"
    with driver.sim.edit() as world:
        world.nodes["SSO01"].gpo_logon_right = ["contoso\\SVC-ENTSSO"]
    assert driver.grant("SSO01").changed is False
    assert driver.install().changed


def test_rule3_service_account_must_be_in_sso_administrators(driver: Any) -> None:
    driver.prepare()
    with driver.sim.edit() as world:
        world.domain.groups[driver.ADMIN].members.remove("svc-entsso")
    assert code_of(driver.install) == "ESSO-003"


def test_rule3_join_checks_the_rights_too(driver: Any) -> None:
    driver.prepare()
    driver.install()
    with driver.sim.edit() as world:
        world.nodes["SSO02"].logon_right.clear()
    assert code_of(driver.join, "SSO02") == "ESSO-003"


def test_rule3_configuring_token_needs_sso_administrators(driver: Any) -> None:
    driver.prepare()
    with driver.sim.edit() as world:
        world.nodes["SSO01"].tokens["CONTOSO\\esso-config"].groups = []
    assert code_of(driver.install) == "ESSO-004"


# ------------------------------------------------------------------------------------------ rule 4


def test_rule4_node_of_another_sso_system_refuses(driver: Any) -> None:
    driver.prepare()
    with driver.sim.edit() as world:
        world.nodes["SSO01"].sso_server = "SQL09"
        world.nodes["SSO01"].sso_database = "OTHERDB"
    assert code_of(driver.install) == "ESSO-005"
    with driver.sim.edit() as world:
        world.nodes["SSO01"].sso_server = world.nodes["SSO01"].sso_database = None
    driver.install()
    with driver.sim.edit() as world:
        world.nodes["SSO02"].sso_server = "SQL09"
        world.nodes["SSO02"].sso_database = "OTHERDB"
    assert code_of(driver.join, "SSO02") == "ESSO-005"


# ------------------------------------------------------------------------------------------ rule 5


def test_rule5_join_needs_the_database_and_the_same_service_account(driver: Any) -> None:
    driver.prepare()
    assert code_of(driver.join, "SSO02") == "ESSO-006"  # no database yet
    driver.install()
    with driver.sim.edit() as world:
        world.domain.users["svc-other"] = world.domain.users["svc-entsso"].model_copy(update={"sam": "svc-other"})
    assert code_of(driver.join, "SSO02", account="CONTOSO\\svc-other") == "ESSO-006"
    assert driver.join("SSO02").changed


# ------------------------------------------------------------------------------------------ rule 6


def test_rule6_update_file_from_a_non_secret_server_holds_only_secret_server(driver: Any) -> None:
    driver.prepare()
    driver.install()
    driver.join("SSO02")
    extras = [("ssoAdminAccount", "CONTOSO\\SSO Administrators")]
    assert code_of(driver.rename, "SSO02", xml=driver.update_xml(driver.NETNAME, extras)) == "ESSO-007"
    assert driver.database().secret_server == "SSO01"
    # The current secret server may send the full globalInfo; only the name is applied here.
    assert driver.rename("SSO01", xml=driver.update_xml(driver.NETNAME, extras)).changed


def test_rule6_the_name_must_be_a_network_name(driver: Any) -> None:
    driver.prepare()
    driver.install()
    assert code_of(driver.rename, name="NOTANETNAME") == "ESSO-007"
    assert driver.rename("SSO01").after.secret_server == driver.NETNAME


# ------------------------------------------------------------------------------------------ rule 7


def _configured(driver: Any) -> None:
    driver.prepare()
    driver.install()
    driver.join("SSO02")


def test_rule7_needs_a_clustered_msdtc_with_its_own_cid(driver: Any) -> None:
    _configured(driver)
    with driver.sim.edit() as world:
        world.nodes["SSO02"].dtc_cid = str(world.cluster.resources["MSDTC"].parameters["CID"])
    # as Set-ClusteredSsoService.ps1: the node it runs on compares its own local CID (the preflight compares all)
    assert code_of(driver.cluster_service, via="SSO02") == "ESSO-008"
    driver.cluster_service(via="SSO01")  # SSO01's own CID differs: the script there cannot see SSO02's clone
    with driver.sim.edit() as world:
        del world.cluster.resources[driver.RESOURCE]
    with driver.sim.edit() as world:
        del world.cluster.resources["MSDTC"]
    assert code_of(driver.cluster_service) == "ESSO-008"
    assert driver.sim.load().cluster.resources.get(driver.RESOURCE) is None


@pytest.mark.parametrize("missing", ["SSO-IP", "SSO-NetName"])
def test_rule7_needs_a_role_with_ip_address_and_network_name(driver: Any, missing: str) -> None:
    _configured(driver)
    with driver.sim.edit() as world:
        del world.cluster.resources[missing]
    assert code_of(driver.cluster_service) == "ESSO-009"


def test_rule7_the_dependency_must_be_a_network_name_of_the_role(driver: Any) -> None:
    _configured(driver)
    assert code_of(driver.cluster_service, netname="MSDTC-Name") == "ESSO-009"
    assert code_of(driver.cluster_service, netname="SSO-IP") == "ESSO-009"


# ------------------------------------------------------------------------------------------ rule 8


@pytest.mark.parametrize("breaks", ["use-network-name", "dependency", "local-start"])
def test_rule8_unregistered_clustered_entsso_gives_0x800706d9(driver: Any, breaks: str) -> None:
    driver.full()
    assert client_can_reach_secret_server(driver.sim.load())[0]
    with driver.sim.edit() as world:
        service = world.cluster.resources[driver.RESOURCE]
        if breaks == "use-network-name":
            service.parameters["UseNetworkName"] = 0
        elif breaks == "dependency":
            service.dependencies = []
        else:
            world.nodes["SSO01"].local_start_while_clustered = True
    world = driver.sim.load()
    ok, why = client_can_reach_secret_server(world)
    assert not ok and "0x800706D9" in why
    with pytest.raises(EssoError) as err:
        require_client_reach(world)
    assert err.value.code == "ESSO-010"
    status = driver.facts("SSO01").secret_server_status
    assert status.clustered is False and not status.flags & 0x20


def test_rule8_a_repair_takes_effect_after_a_cycle(driver: Any) -> None:
    driver.full()
    with driver.sim.edit() as world:
        world.cluster.resources[driver.RESOURCE].parameters["UseNetworkName"] = 0
    repaired = driver.cluster_service()
    assert repaired.changed and repaired.needs_cycle and repaired.after.use_network_name == 1
    assert not client_can_reach_secret_server(driver.sim.load())[0]  # still registered with the old values
    driver.cycle("SSO01")
    ok, why = client_can_reach_secret_server(driver.sim.load())
    assert ok, why
    assert driver.cluster_service().needs_cycle is False


# ------------------------------------------------------------------------------------------ rule 9


def test_rule9_restore_needs_the_role_here_and_a_cycle_here(driver: Any) -> None:
    data = driver.configure()
    assert code_of(driver.restore, "SSO02", data) == "ESSO-011"  # role still on SSO01
    driver.move("SSO02")
    assert code_of(driver.restore, "SSO02", data) == "ESSO-011"  # not cycled on SSO02
    driver.cycle("SSO02")
    driver.move("SSO01")
    driver.move("SSO02")
    assert code_of(driver.restore, "SSO02", data) == "ESSO-011"  # the moves reset the cycle
    driver.cycle("SSO02")
    assert driver.restore("SSO02", data).changed


def test_rule9_backup_file_and_password_must_match(driver: Any) -> None:
    data = driver.configure()
    driver.move("SSO02")
    driver.cycle("SSO02")
    assert code_of(driver.restore, "SSO02", data, password="wrong-password") == "ESSO-012"
    assert code_of(driver.restore, "SSO02", b"not a backup") == "ESSO-012"
    assert code_of(driver.restore, "SSO02", data, msid="00000000-0000-0000-0000-000000000000") == "ESSO-012"
    params = contracts.RestoreParams(
        backup_file="C:\\nowhere\\SSOSecret.bak", backup_password=SecretStr("x"), expected_msid="m"
    )
    # a missing file is ESSO-025, as Restore-MasterSecret.ps1 throws it (issue 9 C: the ids the script throws)
    assert code_of(driver.run, "SSO02", contracts.RESTORE_MASTER_SECRET, params) == "ESSO-025"
    assert driver.sim.load().nodes["SSO02"].ssoss == []
    assert driver.restore("SSO02", data).changed


# ----------------------------------------------------------------------------------------- rule 10


def test_rule10_entsso_without_the_msid_serves_nothing(driver: Any) -> None:
    data = driver.configure()
    joined = driver.facts("SSO02")
    # Join started ENTSSO; clustering stopped it there (it ran outside the cluster, reference section 8)
    assert joined.entsso.state == "Stopped" and joined.secret_server_status.flags & 0x2 == 0
    driver.move("SSO02")
    driver.cycle("SSO02")
    status = driver.facts("SSO02").secret_server_status
    assert (status.running, status.clustered, status.flags) == (False, True, 0x20)
    ok, why = client_can_reach_secret_server(driver.sim.load())
    assert not ok and "10520" in why
    driver.restore("SSO02", data)
    assert driver.facts("SSO02").secret_server_status.flags == 0x22
    assert driver.facts("SSO01").secret_server_status.clustered is False  # not the owner
    driver.move("SSO01")
    assert driver.facts("SSO01").secret_server_status.flags == 0x22


# ----------------------------------------------------------------------------------------- rule 11


def test_rule11_clustered_entsso_is_never_restarted_by_the_service_controller(driver: Any) -> None:
    _configured(driver)
    assert driver.restart_service("SSO01").changed
    driver.cluster_service()
    assert code_of(driver.restart_service, "SSO01") == "ESSO-014"
    assert code_of(driver.restart_service, "SSO02") == "ESSO-014"


# ----------------------------------------------------------------------------------------- rule 12


def test_rule12_second_hop_refused_before_sending_and_again_in_the_handler(driver: Any) -> None:
    driver.prepare()
    remote = SimulatorRemote(driver.state, second_hop=False)
    params = contracts.SsoDatabaseParams(server=driver.SQL, database=driver.DB)
    with pytest.raises(EssoError) as err:
        remote.run("SSO01", contracts.GET_SSO_DATABASE_FACTS, params)
    assert err.value.code == "ESSO-015"
    assert driver.sim.load().calls_for(script="Get-SsoDatabaseFacts") == 0  # nothing was sent
    with pytest.raises(EssoError) as err:  # a transport that skips Remote.run still meets the handler's refusal
        remote._invoke("SSO01", contracts.GET_SSO_DATABASE_FACTS, params)
    assert err.value.code == "ESSO-015"
    assert driver.sim.load().calls_for(script="Get-SsoDatabaseFacts") == 1
    world = driver.sim.load()
    for name, script in contracts.SCRIPTS.items():
        if script.second_hop:
            with pytest.raises(EssoError) as err:
                handle(world, "SSO01", name, {}, identity=driver.CONFIGURER, second_hop=False)
            assert err.value.code == "ESSO-015", name


# ----------------------------------------------------------------------------------------- rule 13


def test_rule13_a_session_opened_before_the_membership_does_not_carry_it(driver: Any) -> None:
    assert driver.facts("SSO01").token_has_admin_group is False  # the session opens here, before step 4
    driver.groups()
    for node in driver.nodes:
        driver.grant(node)
    assert driver.facts("SSO01").token_has_admin_group is False  # same session, same token
    assert code_of(driver.install) == "ESSO-004"
    assert driver.sim.load().databases == {}
    driver.remote.renew_logon("SSO01")
    assert driver.facts("SSO01").token_has_admin_group is True
    assert driver.install().changed


def test_rule13_a_new_remote_opens_a_new_session_unless_it_reuses_one(driver: Any) -> None:
    driver.facts("SSO01")
    driver.groups()
    stale = SimulatorRemote(driver.state, reuse_sessions=True)
    params = contracts.GetNodeFactsParams(service_account=driver.SERVICE, admin_group=driver.QUALIFIED_ADMIN)
    assert stale.run("SSO01", contracts.GET_NODE_FACTS, params).token_has_admin_group is False
    fresh = SimulatorRemote(driver.state)
    assert fresh.run("SSO01", contracts.GET_NODE_FACTS, params).token_has_admin_group is True
    token = driver.sim.load().nodes["SSO01"].tokens[driver.CONFIGURER]
    assert driver.ADMIN in token.groups
    # Removing the membership later does not change a token already issued.
    with driver.sim.edit() as world:
        world.domain.groups[driver.ADMIN].members.remove("esso-config")
    assert fresh.run("SSO01", contracts.GET_NODE_FACTS, params).token_has_admin_group is True
    fresh.renew_logon("SSO01")
    assert fresh.run("SSO01", contracts.GET_NODE_FACTS, params).token_has_admin_group is False


# ------------------------------------------------------------------------------------ XML secrets


@pytest.mark.parametrize("where", ["password", "confirm", "service", "sql"])
def test_configuration_xml_with_a_filled_password_node_is_refused(driver: Any, where: str) -> None:
    driver.prepare()
    assert code_of(driver.install, filled={where: "something"}) == "ESSO-035"
    assert driver.sim.load().databases == {}


def test_configuration_xml_carrying_a_secret_anywhere_is_refused(driver: Any) -> None:
    driver.prepare()
    assert code_of(driver.install, reminder=driver.BACKUP_PW) == "ESSO-035"
    assert code_of(driver.install, reminder="fine reminder", backup_file=f"C:\\{driver.SERVICE_PW}.bak") == "ESSO-035"


def test_rule8_a_local_entsso_running_when_the_resource_comes_online_is_not_registered(driver: Any) -> None:
    """Reference section 8 (apacbiztalk): a local ENTSSO started before the clustered resource comes online
    keeps the RPC registration from happening; clients see 0x800706D9 until the cluster cycles it."""
    driver.configure()
    with driver.sim.edit() as world:
        world.nodes["SSO02"].entsso_state = "Running"  # someone ran `net start entsso` on SSO02
    driver.move("SSO02")
    status = driver.facts("SSO02").secret_server_status
    assert not status.clustered
    ok, why = client_can_reach_secret_server(driver.sim.load())
    assert not ok and "0x800706D9" in why
    driver.cycle("SSO02")  # the cluster stops and starts it: registered again
    assert driver.facts("SSO02").secret_server_status.clustered
