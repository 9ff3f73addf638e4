"""Failover proofs under the SDK's dynamic provider host: once per node on a first `up`, and a proof a node owes
is reported by `refresh` and run by the next `up` (issues 14 and 15)."""

from __future__ import annotations

from pathlib import Path

from tests.engine.world import SEED_ORDER, demo_stack, new_engine, remote_calls, sim
from tests.providers.test_procedure import assert_final_world
from tests.support.engine import learn

NODES = ["SSO01", "SSO02"]


def test_a_first_up_moves_the_role_three_times_on_two_nodes(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    assert sim(config).load().calls_for(script="Move-SsoRole") == len(NODES) + 1
    for node in NODES:
        restore = engine.resource(f"master-secret-restore-{node.lower()}").plain_outputs
        assert (restore["verifiedNodes"], restore["failoverPending"]) == ([node], False)
        assert restore["failoverVerifiedAt"]


def test_a_node_found_without_its_secret_is_reported_pending_by_refresh_and_proven_by_the_next_up(
    tmp_path: Path,
) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    with sim(config).edit() as world:
        world.nodes["SSO02"].ssoss.clear()
    refresh = engine.refresh(config)
    assert refresh.refreshed == {
        **{name: [] for name in SEED_ORDER},
        "clustered-sso-service": ["state"],  # informational, recorded Offline at its creation
        "master-secret-restore-sso02": ["failoverPending", "failoverVerifiedAt", "holdsMsid", "verifiedNodes"],
    }
    restore = engine.resource("master-secret-restore-sso02").plain_outputs
    assert (restore["holdsMsid"], restore["failoverPending"], restore.get("failoverVerifiedAt")) == (False, True, None)

    repair = engine.up(learn(config))
    assert repair.names("update") == ["master-secret-restore-sso02"]
    restore = engine.resource("master-secret-restore-sso02").plain_outputs
    assert (restore["holdsMsid"], restore["failoverPending"], restore["verifiedNodes"]) == (True, False, ["SSO02"])
    assert restore["failoverVerifiedAt"]
    assert_final_world(sim(config), NODES)
    calls = remote_calls(config)
    assert engine.up(learn(config)).plan == dict.fromkeys(SEED_ORDER, "same")
    assert remote_calls(config) == calls
