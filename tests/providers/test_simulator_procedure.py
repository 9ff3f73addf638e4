"""The seed's procedure, script by script through SimulatorRemote.run, reaches the clustered final world;
every change repeated is a no-op; the world file never holds a password."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from provider import contracts
from provider.remote.sim_model import client_can_reach_secret_server, entsso_resources
from provider.remote.simulator import Simulator, SimulatorRemote
from tests.support.secrets_scan import find_secret


def assert_final_world(d: Any, sim: Simulator, nodes: list[str]) -> None:
    world = sim.load()
    (service,) = entsso_resources(world)
    assert service.name == d.RESOURCE
    assert service.group == d.ROLE
    assert service.parameters["ServiceName"] == "ENTSSO"
    assert int(service.parameters["UseNetworkName"]) == 1
    assert service.dependencies == [d.NETNAME_RESOURCE]
    assert sorted(service.possible_owners) == sorted(nodes)
    assert service.state == "Online"
    (database,) = world.databases.values()
    assert database.secret_server == d.NETNAME
    assert database.created_by == nodes[0]
    assert database.service_account == d.SERVICE
    for node in nodes:
        assert database.msid in world.nodes[node].ssoss, node
        assert world.nodes[node].entsso_start_type == "Manual", node
        assert world.nodes[node].sso_server == d.SQL, node
        assert world.nodes[node].entsso_account == d.SERVICE, node
        assert not world.nodes[node].protected_dirs, node
    assert world.cluster.groups[d.ROLE].owner_node == nodes[0]
    assert world.cluster.groups[d.ROLE].state == "Online"
    assert world.nodes[nodes[0]].entsso_state == "Running"
    assert all(world.nodes[n].entsso_state == "Stopped" for n in nodes[1:])
    ok, why = client_can_reach_secret_server(world)
    assert ok, why


@pytest.mark.parametrize("nodes", [("SSO01", "SSO02"), ("SSO01", "SSO02", "SSO03")])
def test_procedure_reaches_the_final_world(make_driver: Any, nodes: tuple[str, ...]) -> None:
    d = make_driver(nodes)
    d.prepare()
    installed = d.install()
    assert installed.changed and installed.before is None
    assert installed.backup_file == d.BACKUP_FILE
    assert d.database().msid == installed.msid
    assert d.database().secret_server == nodes[0]
    # Configuration.exe wrote the backup; Backup-MasterSecret with the same password is a no-op.
    assert d.backup().changed is False
    data = d.remote.fetch_file(nodes[0], d.BACKUP_FILE)
    for node in nodes[1:]:
        joined = d.join(node)
        assert joined.changed and joined.after.server == d.SQL
        assert d.facts(node).ssoss_msids == []  # the seed: the secret is restored later, not joined
    assert d.restart_service(nodes[0]).after.state == "Running"
    renamed = d.rename()
    assert (renamed.before.secret_server, renamed.after.secret_server) == (nodes[0], d.NETNAME)
    created = d.cluster_service()
    assert created.changed and not created.needs_cycle and created.after.state == "Offline"
    assert d.owners().after.owners == list(nodes)  # Add-ClusterResource made every cluster node an owner
    assert [d.start_mode(n).changed for n in nodes] == [True] * len(nodes)  # Configuration.exe left Automatic
    for k, node in enumerate(nodes[1:], start=1):
        moved = d.move(node)
        assert moved.changed and moved.after.owner_node == node
        assert d.facts(node).secret_server_status.running is False  # rule 10: started, serves nothing
        d.cycle(node)
        restored = d.restore(node, data)
        assert restored.changed and installed.msid in restored.after.msids
        d.failover(nodes[: k + 1])
    assert_final_world(d, d.sim, list(nodes))
    # A second SimulatorRemote on the same file sees the same world.
    other = SimulatorRemote(d.state)
    role = other.run(nodes[-1], contracts.GET_CLUSTER_FACTS, contracts.GetClusterFactsParams(role_name=d.ROLE)).role
    assert role is not None and role.owner_node == nodes[0]


def test_every_change_repeated_reports_no_change(driver: Any) -> None:
    data = driver.full()
    before = driver.sim.load().model_dump(exclude={"calls", "clock", "nodes"})
    again = [
        driver.groups(),
        *[driver.grant(n) for n in driver.nodes],
        driver.install(),
        driver.backup(),
        *[driver.join(n) for n in driver.nodes[1:]],
        driver.rename(),
        driver.cluster_service(),
        driver.owners(),
        *[driver.start_mode(n) for n in driver.nodes],
        driver.move(driver.home),
    ]
    assert [r.changed for r in again] == [False] * len(again)
    assert driver.cluster_service().needs_cycle is False
    assert driver.restore("SSO02", data).changed is False
    assert driver.sim.load().model_dump(exclude={"calls", "clock", "nodes"}) == before
    assert_final_world(driver, driver.sim, driver.nodes)


def test_the_world_file_never_holds_a_password(driver: Any) -> None:
    driver.full()
    rotated = "Rotated-Bak-Pw-0b9e"
    driver.backup(password=rotated, overwrite=True)
    raw = driver.state.read_bytes()
    secrets = (driver.SERVICE_PW, driver.BACKUP_PW, rotated)
    for secret in secrets:
        assert find_secret(raw, secret) == [], secret
    # Files on the nodes (the backup blob) are base64 in the world: decode and scan them as well.
    for node in driver.sim.load().nodes.values():
        for f in node.files.values():
            content = base64.b64decode(f.data_base64)
            for secret in secrets:
                assert find_secret(content, secret) == [], secret


def test_a_rotated_backup_password_replaces_the_backup(driver: Any) -> None:
    driver.full()  # once clustered, the backup runs where the clustered ENTSSO is online (issue 9 A10)
    assert driver.backup().changed is False
    with pytest.raises(Exception) as passive:
        driver.backup("SSO02", password="Another-Bak-Pw-1", overwrite=True)
    assert getattr(passive.value, "code", None) == "ESSO-029"
    rotated = driver.backup(password="Another-Bak-Pw-1", overwrite=True)
    assert rotated.changed and rotated.after.sha256 != rotated.before.sha256
    assert rotated.after.msid == driver.database().msid
    # as Backup-MasterSecret.ps1 (issue 9 B): Overwrite always backs up afresh; without it the file is kept
    again = driver.backup(password="Another-Bak-Pw-1", overwrite=True)
    assert again.changed and again.after.sha256 != rotated.after.sha256
    kept = driver.backup(password="Third-Pw", overwrite=False)
    assert kept.changed is False and kept.after.sha256 == again.after.sha256
