"""Adopting an existing SSO system (issue 16), through the six providers against the simulator.

Microsoft's "How to Move the Master Secret Server", section "To move the master secret from one server to a
Windows Server Cluster": every node joins, the secret server name becomes the Network Name, the clustered
resource is created and cycled, and the existing master secret is restored on every node. Nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from provider import contracts
from provider.errors import EssoError
from provider.remote.sim_existing import backup_blob, existing_world_for, retire_server, seed_existing, sso_client_read
from provider.remote.simulator import HANDLERS, Simulator
from provider.remote.world import World
from provider.resources.sso_system import SsoSystemProvider
from provider.spec import ClusterSpec, check_stack_file, load_stack_file
from tests.providers.test_procedure import assert_final_world
from tests.support.procedure import BACKUP_PASSWORD, Procedure, Stack, demo_spec, ops

SERVER = "BTS01"
# Scripts that may change something before the SSO system's checks run: the domain groups resource comes
# first in the component and only makes sure the accounts and rights the seed needs are in place.
GROUP_SCRIPTS = {contracts.SET_SSO_DOMAIN_GROUPS.name, contracts.GRANT_SERVICE_LOGON_RIGHT.name}


def seeded(tmp_path: Path, nodes: tuple[str, ...] = ("SSO01", "SSO02"), **overrides: Any) -> tuple[ClusterSpec, World]:
    """A stack that adopts from the live server BTS01, and its world (the cluster beside BTS01), seeded."""
    overrides.setdefault("existingSystem", {"masterSecretServer": SERVER})
    spec = demo_spec(tmp_path, nodes, **overrides)
    world = existing_world_for(spec, SERVER)
    world_of(spec).seed(world)
    return spec, world


def world_of(spec: ClusterSpec) -> Simulator:
    assert spec.simulator_state is not None
    return Simulator(spec.simulator_state)


def sso_of(world: World) -> Any:
    """What a refusal must leave exactly as it was: the database, and each node's SSO configuration."""
    nodes = {
        n: (x.sso_server, x.sso_database, x.entsso_account, list(x.ssoss), x.entsso_state)
        for n, x in world.nodes.items()
    }
    files = {n: sorted(x.files) for n, x in world.nodes.items()}
    return [d.model_dump() for d in world.databases.values()], nodes, files, world.cluster.model_dump()


def changes_made(world: World) -> list[str]:
    """Change scripts called, apart from the domain groups resource's."""
    return sorted(
        key
        for key, count in world.calls.items()
        if count and contracts.SCRIPTS[key.split("/", 1)[1]].changes and key.split("/", 1)[1] not in GROUP_SCRIPTS
    )


def assert_adopted(spec: ClusterSpec, outputs: dict[str, dict[str, Any]], msid: str, source: str) -> None:
    sim = world_of(spec)
    nodes = list(spec.cluster.nodes)
    assert_final_world(sim, nodes)
    world = sim.load()
    (database,) = world.databases.values()
    assert database.msid == msid  # MSID before == after
    system = outputs["sso-system"]
    assert system["msid"] == msid and system["escrowedMsid"] == msid
    assert system["adoptedFrom"] == source
    for node in nodes:
        restore = outputs[f"master-secret-restore-{node.lower()}"]
        assert restore["msid"] == msid and restore["holdsMsid"] is True
        # every node was restored (nodes[0] too: the move restores "on each node"), and failover proven
        assert restore["restoredFrom"] == system["escrowLocation"]
        # each node proven by its own restore (failover proven once per node), none still owed
        assert restore["verifiedNodes"] == [node] and restore["failoverVerifiedAt"] and not restore["failoverPending"]
        assert outputs[f"sso-join-{node.lower()}"]["configuredServer"] == "SQL01"
    # nothing is lost: a client asks the cluster's Network Name and decrypts every existing credential
    for app in ("ContosoERP", "ContosoCRM"):
        (credential,) = sso_client_read(world, "SQL01", "SSODB", app)
        assert credential.msid == msid


@pytest.mark.parametrize("nodes", [("SSO01", "SSO02"), ("SSO01", "SSO02", "SSO03")])
def test_adopt_from_the_live_master_secret_server(tmp_path: Path, nodes: tuple[str, ...]) -> None:
    spec, world = seeded(tmp_path, nodes)
    msid = world.databases["sql01/ssodb"].msid
    outputs = Procedure(spec).up()
    assert_adopted(spec, outputs, msid, f"server:{SERVER}")
    after = world_of(spec).load()
    assert after.calls_for(script=contracts.INSTALL_SSO_SYSTEM.name) == 0  # "Join", never "Create"
    assert after.calls_for(script=contracts.JOIN_SSO_SYSTEM.name) == len(nodes)
    old = after.nodes[SERVER]  # the old master secret server keeps its service, as a plain SSO server
    assert old.entsso_state == "Running" and (old.sso_server, old.sso_database) == ("SQL01", "SSODB")
    assert after.calls_for(node=SERVER, script=contracts.BACKUP_MASTER_SECRET.name) == 1
    assert {k.split("/", 1)[1] for k in after.calls if k.startswith(f"{SERVER}/")} == {
        contracts.GET_NODE_FACTS.name,
        contracts.BACKUP_MASTER_SECRET.name,
        contracts.READ_FILE_CHUNK.name,
        contracts.REMOVE_MASTER_SECRET_BACKUP.name,  # escrowed and read back, the backup leaves the server (M4)
    }
    assert not [k for k in old.files if k.endswith(".bak") or k.endswith(".previous")]


def test_adopt_from_a_provided_backup_of_a_server_that_is_gone(tmp_path: Path) -> None:
    backup = tmp_path / "operator" / "SSOSecret-prod.bak"
    spec = demo_spec(tmp_path, existingSystem={"backupFile": str(backup)})
    world = existing_world_for(spec, SERVER)
    msid = world.databases["sql01/ssodb"].msid
    backup.parent.mkdir()
    backup.write_bytes(retire_server(world, SERVER, BACKUP_PASSWORD))
    world_of(spec).seed(world)
    outputs = Procedure(spec).up()
    assert_adopted(spec, outputs, msid, f"backup:{backup}")
    assert world_of(spec).load().calls_for(node=SERVER) == 0  # the gone server is never asked


def test_a_node_joined_by_hand_without_the_secret_is_adopted_and_restored(tmp_path: Path) -> None:
    spec, world = seeded(tmp_path)
    msid = world.databases["sql01/ssodb"].msid
    with world_of(spec).edit() as w:
        node = w.nodes["SSO01"]
        node.sso_server, node.sso_database, node.entsso_account = "SQL01", "SSODB", "CONTOSO\\svc-entsso"
    outputs = Procedure(spec).up()
    assert outputs["sso-join-sso01"]["steps"][-1] == {"node": "SSO01", "step": "Join-SsoSystem", "changed": False}
    assert_adopted(spec, outputs, msid, f"server:{SERVER}")


def test_an_existing_database_without_existing_system_is_refused_before_create(tmp_path: Path) -> None:
    spec, world = seeded(tmp_path, existingSystem={})
    before = sso_of(world)
    with pytest.raises(EssoError) as err:
        Procedure(spec).up()
    assert err.value.code == "ESSO-090" and "existingSystem" in str(err.value)
    after = world_of(spec).load()
    assert sso_of(after) == before and changes_made(after) == []


def _edit_server(attribute: str, value: Any) -> Callable[[World], None]:
    def edit(world: World) -> None:
        setattr(world.nodes[SERVER], attribute, value)

    return edit


def _other_system_on_sso02(world: World) -> None:
    node = world.nodes["SSO02"]
    node.sso_server, node.sso_database, node.entsso_account = "SQL02", "SSODB", "CONTOSO\\svc-entsso"


def _names_another_server(world: World) -> None:
    world.databases["sql01/ssodb"].secret_server = "BTS02"


def _no_database(world: World) -> None:
    world.databases.clear()


def _other_groups(world: World) -> None:
    world.databases["sql01/ssodb"].admin_group = "BizTalk SSO Admins"


def _other_account(world: World) -> None:
    world.nodes[SERVER].entsso_account = "CONTOSO\\svc-legacy"


def _lost_secret(world: World) -> None:
    world.nodes[SERVER].ssoss.clear()


def _hand_joined_as_another_account(world: World) -> None:
    node = world.nodes["SSO01"]
    node.sso_server, node.sso_database, node.entsso_account = "SQL01", "SSODB", "CONTOSO\\svc-legacy"


@pytest.mark.parametrize(
    ("edit", "code", "says"),
    [
        (_edit_server("reachable", False), "ESSO-092", "cannot be reached"),
        (_names_another_server, "ESSO-092", "masterSecretServer to BTS02"),
        (_lost_secret, "ESSO-092", "does not hold the master secret"),
        (_other_system_on_sso02, "ESSO-005", "SQL02/SSODB"),
        (_no_database, "ESSO-090", "no SSO database"),
        (_other_groups, "ESSO-091", "BizTalk SSO Admins"),
        (_other_account, "ESSO-091", "svc-legacy"),
        (_hand_joined_as_another_account, "ESSO-091", "svc-legacy"),
    ],
)
def test_a_bad_starting_point_is_refused_before_any_change(
    tmp_path: Path, edit: Callable[[World], None], code: str, says: str
) -> None:
    spec, _ = seeded(tmp_path)
    sim = world_of(spec)
    with sim.edit() as world:
        edit(world)
    before = sso_of(sim.load())
    with pytest.raises(EssoError) as err:
        Procedure(spec).up()
    assert err.value.code == code and says in str(err.value), str(err.value)
    assert "nothing was changed" in str(err.value)
    after = sim.load()
    assert sso_of(after) == before
    assert changes_made(after) == []


def test_a_provided_backup_that_is_missing_is_refused_before_any_change(tmp_path: Path) -> None:
    spec, world = seeded(tmp_path, existingSystem={"backupFile": str(tmp_path / "nowhere.bak")})
    before = sso_of(world)
    with pytest.raises(EssoError) as err:
        Procedure(spec).up()
    assert err.value.code == "ESSO-093" and "nowhere.bak" in str(err.value)
    after = world_of(spec).load()
    assert sso_of(after) == before and changes_made(after) == []


def test_an_update_of_an_adopted_system_never_creates(tmp_path: Path) -> None:
    """A rotated backup password re-backs up the adopted system from a node that holds it: no Create."""
    spec, world = seeded(tmp_path)
    msid = world.databases["sql01/ssodb"].msid
    stack = Stack()
    stack.up(spec)
    rotated = demo_spec(tmp_path, existingSystem={"masterSecretServer": SERVER}, backupPassword="Bak-Rotated-51c2$")
    assert ops(stack.up(rotated, targets={"sso-system"})) == {"sso-system": "update"}
    result = stack.outputs("sso-system")
    assert result["adoptedFrom"] == f"server:{SERVER}" and result["msid"] == msid
    steps = [(s["node"], s["step"], s["changed"]) for s in result["steps"]]
    assert ("SSO01", "serve-from", False) in steps and ("SSO01", contracts.BACKUP_MASTER_SECRET.name, True) in steps
    assert world_of(spec).load().calls_for(script=contracts.INSTALL_SSO_SYSTEM.name) == 0


def test_destroy_keeps_an_adopted_system(tmp_path: Path) -> None:
    spec, _ = seeded(tmp_path, policy={"protectSsoSystem": False, "onDestroy": "remove"})
    stack = Stack()
    stack.up(spec)
    system = stack.outputs("sso-system")
    assert ops([stack.delete(spec, "sso-system")]) == {"sso-system": "delete"}
    after = world_of(spec).load()
    assert "sql01/ssodb" in after.databases
    assert after.calls_for(script=contracts.REMOVE_SSO_DATABASE.name) == 0
    assert after.calls_for(script=contracts.REMOVE_SSO_NODE_CONFIGURATION.name) == 0
    assert Path(system["escrowLocation"]).exists()
    assert system["msid"] in after.nodes[SERVER].ssoss


def test_the_simulated_client_loses_data_sealed_under_another_secret(tmp_path: Path) -> None:
    """The client check can fail: a credential sealed under an MSID no server holds is unreadable."""
    spec, world = seeded(tmp_path)
    Procedure(spec).up()
    sim = world_of(spec)
    with sim.edit() as w:
        w.databases["sql01/ssodb"].credentials[0].msid = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(EssoError) as err:
        sso_client_read(sim.load(), "SQL01", "SSODB", "ContosoERP")
    assert err.value.code == "ESSO-026"
    assert backup_blob(world.databases["sql01/ssodb"].msid, BACKUP_PASSWORD)  # the backup writer is shared


def test_the_current_server_is_reached_only_because_the_stack_names_it(tmp_path: Path) -> None:
    """CallPolicy (ESSO-070): BTS01 joins the allowed hosts from existingSystem.masterSecretServer, never from a
    node's reply; a stack that adopts from a backup cannot reach it, and the adopt step never tries."""
    spec, _ = seeded(tmp_path, existingSystem={"backupFile": str(tmp_path / "SSOSecret.bak")})
    provider = Procedure(spec).provider(SsoSystemProvider)
    inputs = SsoSystemProvider.inputs_model.model_validate(SsoSystemProvider._own(Procedure(spec).resources()[1][2]))
    with provider.remote(inputs) as remote, pytest.raises(EssoError) as err:
        remote.run(
            SERVER,
            contracts.GET_NODE_FACTS,
            contracts.GetNodeFactsParams(service_account="CONTOSO\\svc-entsso", admin_group="x"),
        )
    assert err.value.code == "ESSO-070"
    assert world_of(spec).load().calls_for(node=SERVER) == 0


def test_simulator_init_seeds_an_existing_system_on_a_standalone_server(tmp_path: Path) -> None:
    """The logic of ``simulator init --existing-server BTS01 [--retired-backup FILE]`` (sim_existing.seed_existing)."""
    world = seed_existing(tmp_path / "live.json", nodes=["SSO01", "SSO02"], server=SERVER)
    (db,) = world.databases.values()
    assert db.secret_server == SERVER and world.nodes[SERVER].ssoss == [db.msid] and db.credentials
    assert SERVER not in world.cluster.nodes and Simulator(tmp_path / "live.json").load() == world
    backup = tmp_path / "out" / "SSOSecret-prod.bak"
    gone = seed_existing(
        tmp_path / "gone.json", nodes=["SSO01", "SSO02"], retired_backup=backup, backup_password=BACKUP_PASSWORD
    )
    assert not gone.nodes[SERVER].reachable and backup.read_bytes()
    assert BACKUP_PASSWORD.encode() not in backup.read_bytes()
    assert BACKUP_PASSWORD not in (tmp_path / "gone.json").read_text()


def test_a_hand_joined_first_node_without_the_secret_never_crashes_the_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit's case B on the real script path: Install-SsoSystem.ps1 adopts a node configured for the
    database and reports msid '' when SSOSS is empty. The create stops with ESSO-090, not a bare ValueError."""
    spec, _ = seeded(tmp_path, existingSystem={})
    with world_of(spec).edit() as w:
        node = w.nodes["SSO01"]
        node.sso_server, node.sso_database, node.entsso_account = "SQL01", "SSODB", "CONTOSO\\svc-entsso"

    def script_path(
        _ctx: Any, p: contracts.InstallSsoParams
    ) -> contracts.InstallSsoResult:  # Install-SsoSystem.ps1:76-85
        state = contracts.SsoConfigState(server=p.server, database=p.database)
        return contracts.InstallSsoResult(changed=False, before=state, after=state, msid="", backup_file="C:\\x.bak")

    monkeypatch.setitem(HANDLERS, contracts.INSTALL_SSO_SYSTEM.name, script_path)
    monkeypatch.setattr(SsoSystemProvider, "_refuse_existing_database", staticmethod(lambda *_a: None))
    with pytest.raises(EssoError) as err:
        Procedure(spec).up()
    assert err.value.code == "ESSO-090" and err.value.node == "SSO01"
    assert "holds no master secret" in str(err.value)


def test_the_adopt_stack_checks_offline_and_its_world_seeds_itself(tmp_path: Path) -> None:
    """stacks/Pulumi.demo-adopt.yaml (docs/adopt.md's demo): valid offline; its simulator world starts with the
    existing system on BTS01 (``world_for``), and up moves it into the cluster."""
    stack = Path(__file__).resolve().parents[2] / "stacks" / "Pulumi.demo-adopt.yaml"
    assert check_stack_file(stack, allow_missing_secrets=True) == []
    spec = load_stack_file(stack, secrets={"serviceAccountPassword": "Svc-Adopt-1!", "backupPassword": "Bak-Adopt-1!"})
    spec = spec.model_copy(
        update={
            "simulator_state": str(tmp_path / "adopt-world.json"),
            "escrow": spec.escrow.model_copy(update={"path": str(tmp_path / "escrow")}),
        }
    )
    outputs = Procedure(spec).up()
    world = world_of(spec).load()
    (db,) = world.databases.values()
    assert outputs["sso-system"]["adoptedFrom"] == "server:BTS01" and outputs["sso-system"]["msid"] == db.msid
    assert db.secret_server == "BIZTALKSSO" and db.created_by == SERVER
    assert sso_client_read(world, "SQL01", "SSODB", "ContosoERP")
