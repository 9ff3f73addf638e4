"""The demo stack's life under the SDK's dynamic provider host (in-process mode): issue 5, scenarios 1-6."""

from __future__ import annotations

from pathlib import Path

import pytest

from provider.remote.simulator import client_can_reach_secret_server, demo_world
from provider.remote.world import ClusterResource
from tests.engine.world import SEED_ORDER, demo_stack, entsso_resource, new_engine, remote_calls, sim
from tests.providers.test_procedure import assert_final_world
from tests.support.engine import EngineError, learn
from tests.support.engine_wire import Secret

NODES = ["SSO01", "SSO02"]


def test_the_program_registers_what_the_engine_plans_with(tmp_path: Path) -> None:
    program = learn(demo_stack(tmp_path))
    assert program.names() == SEED_ORDER
    system = program.named("sso-system")
    assert system.type == "pulumi-python:dynamic/esso:SsoSystem" and system.parent.endswith("::demo")
    for key in ("__provider", "serviceAccountPassword", "backupPassword"):
        assert isinstance(system.inputs[key], Secret), key
    assert set(system.additional_secret_outputs) == {
        "serviceAccountPasswordFingerprint",
        "backupPasswordFingerprint",
        "backupInUseFingerprint",
    }
    for name in SEED_ORDER[2:]:  # every dependent of the SSO system is replaced with it
        assert program.named(name).replace_with == (system.urn,), name
    assert set(program.named("master-secret-restore-sso02").dependencies) == {
        program.named("clustered-sso-service").urn,
        program.named("sso-join-sso02").urn,
        program.named("master-secret-restore-sso01").urn,  # restores run in sequence
    }
    assert not any(r.protect or r.retain_on_delete for r in program.dynamic)
    # the option follows the providers that answer deleteBeforeReplace (issue 12, point 4)
    assert [r.name for r in program.dynamic if r.delete_before_replace] == SEED_ORDER[1:]
    assert program.named("sso-domain-groups").delete_before_replace is None


def test_first_up_creates_in_the_seed_order_and_reaches_the_final_world(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path)
    program = learn(config)
    assert program.names() == SEED_ORDER
    deployment = engine.up(program)
    assert deployment.step_ops() == [("create", name) for name in SEED_ORDER]
    assert deployment.provider_calls("Create") == [("Create", name) for name in SEED_ORDER]
    assert_final_world(sim(config), NODES)
    state = {r.name: r for r in engine.state()}
    assert list(state) == SEED_ORDER
    system = state["sso-system"]
    assert system.id == "SQL01/SSODB"
    assert {"serviceAccountPasswordFingerprint", "backupPasswordFingerprint", "__provider"} <= set(
        system.secret_outputs
    )
    assert len(system.plain_outputs["backupSha256"]) == 64
    assert state["master-secret-restore-sso02"].plain_outputs["holdsMsid"] is True


def test_a_second_up_changes_nothing_and_calls_no_node(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    calls = remote_calls(config)
    again = engine.up(learn(config))
    assert again.plan == dict.fromkeys(SEED_ORDER, "same")
    assert [c.response.changes for c in again.calls if c.method == "Diff"] == [1] * len(SEED_ORDER)  # DIFF_NONE
    assert again.provider_calls("Create", "Update", "Delete", "Read") == []
    assert remote_calls(config) == calls


def test_a_new_network_name_updates_the_name_and_repoints_the_dependency(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    before = {r.name: set(r.outputs) for r in engine.state()}
    with sim(config).edit() as world:
        world.cluster.resources["SSO-NetName2"] = ClusterResource(
            name="SSO-NetName2",
            type="Network Name",
            group="SSO",
            state="Online",
            parameters={"Name": "BIZTALKSSO2", "DnsName": "BIZTALKSSO2"},
            dependencies=["SSO-IP"],
            possible_owners=list(NODES),
        )
    renamed = config.with_(cluster={"networkName": "BIZTALKSSO2"})
    preview = engine.preview(learn(renamed))
    assert "replace" not in preview.plan.values()
    deployment = engine.up(learn(renamed))
    assert "replace" not in deployment.plan.values()
    assert deployment.plan["secret-server-name"] == "update"
    assert deployment.plan["clustered-sso-service"] == "update"
    # every input carries the network name, so every resource records it; only two of them call a node
    assert deployment.names("update") == SEED_ORDER
    world = sim(config).load()
    (database,) = world.databases.values()
    assert database.secret_server == "BIZTALKSSO2"
    assert entsso_resource(world).dependencies == ["SSO-NetName2"]
    ok, why = client_can_reach_secret_server(world)
    assert ok, why
    service = engine.resource("clustered-sso-service").plain_outputs
    assert service["networkNameResource"] == "SSO-NetName2" and service["dependencies"] == ["SSO-NetName2"]
    # update() returned full outputs: no resource lost an output key
    assert {r.name: set(r.outputs) for r in engine.state()} == before


def test_a_new_database_name_is_refused_while_the_system_is_protected(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    calls, state = remote_calls(config), engine.store.raw()
    renamed = learn(config.with_(database={"name": "SSODB2"}))
    for run in (engine.preview, engine.up):
        with pytest.raises(EngineError) as err:
            run(renamed)
        assert (err.value.resource, err.value.method) == ("sso-system", "Diff")
        assert "ESSO-020" in err.value.summary
        assert "policy.protectSsoSystem: false" in err.value.summary
        assert "allowDisruption: true" in err.value.summary
    assert remote_calls(config) == calls
    assert engine.store.raw() == state


def test_a_new_database_name_replaces_the_system_in_a_safe_order_once_allowed(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    escrow = tmp_path / "escrow"
    escrowed = sorted(p for p in escrow.rglob("*") if p.is_file())
    assert escrowed
    # lifting protection is recorded in state by an up, without touching a node
    lifted = config.with_(policy={"protectSsoSystem": False})
    calls = remote_calls(config)
    lifting = engine.up(learn(lifted))
    assert lifting.plan == {**dict.fromkeys(SEED_ORDER, "same"), "sso-system": "update"}
    assert remote_calls(config) == calls
    renamed = learn(lifted.with_(database={"name": "SSODB2"}))
    preview = engine.preview(renamed)
    assert preview.plan == {**dict.fromkeys(SEED_ORDER, "replace"), "sso-domain-groups": "same"}
    assert remote_calls(config) == calls
    deployment = engine.up(renamed)
    mutations = [(op, n) for op, n in deployment.step_ops() if op in ("delete-replaced", "create-replacement")]
    dependents = SEED_ORDER[2:]
    seed = deployment.seed
    # the engine deletes the dependents first in a Go map's order (findDependentCascadeReplacements): any order
    deleted = [n for op, n in mutations[: len(dependents)]]
    assert sorted(deleted) == sorted(dependents), f"seed {seed}"
    assert {op for op, _ in mutations[: len(dependents)]} == {"delete-replaced"}, f"seed {seed}"
    assert mutations[len(dependents) :] == [
        ("delete-replaced", "sso-system"),
        ("create-replacement", "sso-system"),
        *[("create-replacement", n) for n in dependents],
    ], f"seed {seed}"
    # no dependent is left pending replacement, and none was diffed on the way back
    assert not any(r.pending_replacement for r in engine.state())
    assert not [name for method, name in deployment.provider_calls("Diff") if name in dependents]
    world = sim(config).load()
    assert set(world.databases) == {"sql01/ssodb", "sql01/ssodb2"}  # the old database is kept
    new = world.databases["sql01/ssodb2"]
    assert new.secret_server == "BIZTALKSSO"
    for node in NODES:
        assert (world.nodes[node].sso_database, new.msid in world.nodes[node].ssoss) == ("SSODB2", True)
    assert int(entsso_resource(world).parameters["UseNetworkName"]) == 1
    assert all(p.exists() for p in escrowed)  # the escrow is kept
    assert engine.resource("sso-system").id == "SQL01/SSODB2"


def test_a_third_node_joins_and_leaves_touching_only_its_own_resources(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    three = ["SSO01", "SSO02", "SSO03"]
    sim(config).seed(demo_world(nodes=three))  # the cluster has a third member the stack does not use yet
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    grown = config.with_(cluster={"nodes": three})
    added = engine.up(learn(grown))
    assert added.names("create") == ["sso-join-sso03", "master-secret-restore-sso03"]
    assert added.names("replace") == [] and added.names("delete") == []
    # updates elsewhere: every resource records the node list; the node-touching ones are groups and service
    assert added.names("update") == SEED_ORDER
    assert_final_world(sim(config), three)

    seen: list[tuple[str, list[str], str | None]] = []

    def watch(method: str, name: str) -> None:
        if method == "Delete":
            world = sim(config).load()
            seen.append((name, sorted(entsso_resource(world).possible_owners), world.nodes["SSO03"].sso_server))

    engine.before_call = watch
    removed = engine.up(learn(config))
    assert removed.names("delete") == ["master-secret-restore-sso03", "sso-join-sso03"]
    assert removed.names("create") == [] and removed.names("replace") == []
    assert removed.names("update") == SEED_ORDER
    # when the join is deleted, the node has already left the possible owners and is still configured
    assert ("sso-join-sso03", NODES, "SQL01") in seen
    world = sim(config).load()
    assert world.nodes["SSO03"].sso_server is None and world.nodes["SSO03"].ssoss == []
    assert_final_world(sim(config), NODES)


def test_drift_is_reported_by_refresh_and_repaired_by_the_next_up(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    # a refresh right after the first up finds only the clustered resource's informational state: it was
    # recorded Offline at its creation and the restore brought it Online (not drift; see the README)
    baseline = engine.refresh(config)
    assert baseline.refreshed == {**{name: [] for name in SEED_ORDER}, "clustered-sso-service": ["state"]}
    with sim(config).edit() as world:
        service = entsso_resource(world)
        service.parameters["UseNetworkName"] = 0
        service.dependencies = []
        (database,) = world.databases.values()
        database.secret_server = "SSO02"
        world.nodes["SSO02"].entsso_start_type = "Automatic"
    assert not client_can_reach_secret_server(sim(config).load())[0]
    refresh = engine.refresh(config)
    assert refresh.refreshed == {
        **{name: [] for name in SEED_ORDER},
        "secret-server-name": ["secretServer"],
        "clustered-sso-service": ["dependencies", "startTypes", "useNetworkName"],
    }
    assert refresh.gone == []
    service_out = engine.resource("clustered-sso-service").plain_outputs
    assert (service_out["useNetworkName"], service_out["startTypes"]["SSO02"]) == (0, "Automatic")
    repair = engine.up(learn(config))
    assert repair.names("update") == ["secret-server-name", "clustered-sso-service"]
    assert_final_world(sim(config), NODES)
    calls = remote_calls(config)
    assert engine.up(learn(config)).plan == dict.fromkeys(SEED_ORDER, "same")
    assert remote_calls(config) == calls
