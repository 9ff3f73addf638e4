"""Replacing the SSO system through the harness as the engine does it (issue 12): its dependents are deleted
first in a Go map's order, stay pending replacement, and are deleted again if the run fails half way.

Before issue 12 the harness deleted them in reverse dependency order, and a third of the real engine's
orders (both joins before the clustered service) failed with ESSO-035 at Move-SsoRole.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from provider.remote.simulator import Simulator, client_can_reach_secret_server
from tests.engine.world import SEED_ORDER, demo_stack, entsso_resource, new_engine, remote_calls, sim
from tests.support.engine import Deployment, EngineError, StackConfig, learn

NODES = ["SSO01", "SSO02"]
DEPENDENTS = SEED_ORDER[2:]


def _cascade_order(seed: int) -> list[str]:
    """The delete order the harness's cascade takes with ``seed`` (``StepGenerator.cascade``, back to front)."""
    order = list(DEPENDENTS)
    random.Random(seed).shuffle(order)
    return list(reversed(order))


def _joins_before_service(order: list[str]) -> bool:
    service = order.index("clustered-sso-service")
    return all(order.index(n) < service for n in order if n.startswith("sso-join-"))


# one seed whose order once failed (both joins before the service), one where it did not
HARD = next(s for s in range(1000) if _joins_before_service(_cascade_order(s)))
EASY = next(s for s in range(1000) if not _joins_before_service(_cascade_order(s)))


def _assert_on_the_new_database(config: StackConfig) -> None:
    """Every node serves the new database's master secret through the clustered ENTSSO; the old one is kept."""
    world = sim(config).load()
    assert set(world.databases) == {"sql01/ssodb", "sql01/ssodb2"}
    new = world.databases["sql01/ssodb2"]
    assert new.secret_server == "BIZTALKSSO"
    for node in NODES:
        assert (world.nodes[node].sso_database, new.msid in world.nodes[node].ssoss) == ("SSODB2", True), node
        assert world.nodes[node].entsso_start_type == "Manual", node
    service = entsso_resource(world)
    assert (int(service.parameters["UseNetworkName"]), sorted(service.possible_owners)) == (1, NODES)
    assert world.cluster.groups["SSO"].owner_node == NODES[0]
    ok, why = client_can_reach_secret_server(world)
    assert ok, why


def _deleted_first(deployment: Deployment) -> list[str]:
    return [n for op, n in deployment.step_ops() if op == "delete-replaced" and n != "sso-system"]


def _built(tmp_path: Path) -> tuple[StackConfig, StackConfig]:
    """A built stack with protection lifted; returns (config, config with a new database name)."""
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    lifted = config.with_(policy={"protectSsoSystem": False})
    engine.up(learn(lifted))
    return config, lifted.with_(database={"name": "SSODB2"})


@pytest.mark.parametrize("seed", [HARD, EASY], ids=["joins-before-service", "service-first"])
def test_the_system_is_replaced_whatever_order_its_dependents_are_deleted_in(tmp_path: Path, seed: int) -> None:
    config, renamed = _built(tmp_path)
    engine = new_engine(tmp_path, seed=seed)
    deployment = engine.up(learn(renamed))
    assert _deleted_first(deployment) == _cascade_order(seed)
    assert not any(r.pending_replacement for r in engine.state())
    assert engine.resource("sso-system").id == "SQL01/SSODB2"
    _assert_on_the_new_database(config)
    calls = remote_calls(config)
    assert engine.up(learn(renamed)).plan == dict.fromkeys(SEED_ORDER, "same")
    assert remote_calls(config) == calls


def test_a_replacement_that_failed_half_way_is_completed_by_the_next_up(tmp_path: Path) -> None:
    config, renamed = _built(tmp_path)
    engine = new_engine(tmp_path, seed=HARD)
    order = _cascade_order(HARD)
    failing = "sso-join-sso02"
    Simulator(config.simulator_state).inject("SSO02", "Remove-SsoNodeConfiguration", kind="drop_after")
    with pytest.raises(EngineError) as err:
        engine.up(learn(renamed))
    assert (err.value.resource, err.value.method) == (failing, "Delete")
    done = order[: order.index(failing)]
    state = {r.name: r for r in engine.state()}
    assert set(state) == set(SEED_ORDER)  # nothing left the state
    assert {n for n, r in state.items() if r.pending_replacement} == set(done)
    retried = engine.up(learn(renamed))
    # the engine deletes every dependent again, those already deleted included (DeleteStep.Apply)
    assert sorted(n for _, n in retried.provider_calls("Delete")) == sorted([*DEPENDENTS, "sso-system"])
    assert not any(r.pending_replacement for r in engine.state())
    assert engine.resource("sso-system").id == "SQL01/SSODB2"
    _assert_on_the_new_database(config)
