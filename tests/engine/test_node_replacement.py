"""Issue 6 through the engine harness: SSO02 died, SSO04 replaces it by a change of one name in the stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.world import SEED_ORDER, add_node, demo_stack, entsso_resource, new_engine, sim
from tests.support.engine import EngineError, StackConfig, learn
from tests.support.replacement import projection

NEW_NODES = ["SSO01", "SSO04"]


def _lose_sso02(config: StackConfig, *, evicted: bool) -> None:
    """SSO04 joins the cluster (prepared, nothing configured); SSO02 stops answering, and may be evicted."""
    with sim(config).edit() as world:
        add_node(world, "SSO04")
        world.nodes["SSO02"].reachable = False
        if evicted:
            del world.cluster.nodes["SSO02"]
            for resource in world.cluster.resources.values():
                if "SSO02" in resource.possible_owners and resource.type != "Generic Service":
                    resource.possible_owners.remove("SSO02")
        else:
            world.cluster.nodes["SSO02"] = "Down"


def test_replacing_a_dead_node_touches_only_its_resources_and_equals_a_fresh_build(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    _lose_sso02(config, evicted=True)
    replaced = config.with_(cluster={"nodes": NEW_NODES})
    preview = engine.preview(learn(replaced))
    deployment = engine.up(learn(replaced))
    assert preview.plan == deployment.plan
    assert deployment.names("create") == ["sso-join-sso04", "master-secret-restore-sso04"]
    assert deployment.names("delete") == ["master-secret-restore-sso02", "sso-join-sso02"]
    assert deployment.names("replace") == []
    # every resource records the node list; only the groups and the clustered service call a node for it
    assert deployment.names("update") == [n for n in SEED_ORDER if not n.endswith("sso02")]
    assert "esso: [sso-node-join] SSO02 forget-evicted-node ok (unreachable and evicted from the cluster)" in (
        deployment.host_stderr
    )
    world = sim(config).load()
    assert sorted(entsso_resource(world).possible_owners) == NEW_NODES
    assert [r.name for r in engine.state()] == [
        "sso-domain-groups",
        "sso-system",
        "sso-join-sso01",
        "sso-join-sso04",
        "secret-server-name",
        "clustered-sso-service",
        "master-secret-restore-sso01",
        "master-secret-restore-sso04",
    ]

    fresh = tmp_path / "fresh"
    fresh_config = demo_stack(fresh, cluster={"nodes": NEW_NODES})
    new_engine(fresh).up(learn(fresh_config))
    assert projection(world, NEW_NODES) == projection(sim(fresh_config).load(), NEW_NODES)


def test_an_unreachable_node_still_in_the_cluster_is_not_forgotten(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    _lose_sso02(config, evicted=False)
    replaced = learn(config.with_(cluster={"nodes": NEW_NODES}))
    with pytest.raises(EngineError) as err:
        engine.up(replaced)
    assert (err.value.resource, err.value.method) == ("sso-join-sso02", "Delete")
    assert "ESSO-021" in err.value.summary and "Evict the node" in err.value.summary
    assert "sso-join-sso02" in [r.name for r in engine.state()]  # still in state, to be deleted later
    with sim(config).edit() as world:  # Remove-ClusterNode
        del world.cluster.nodes["SSO02"]
    retried = engine.up(replaced)
    assert retried.names("delete") == ["sso-join-sso02"]
    assert [n for n, op in retried.plan.items() if op != "same"] == ["sso-join-sso02"]
