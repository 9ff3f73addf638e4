"""Master secret rotation under the SDK's dynamic provider host (issue 17): `preview --diff` shows an update of the
SSO system, `up` rotates on every node with one role move per node, a second `up` makes no remote call, and a
fault at each kind of step converges on the next `up`."""

from __future__ import annotations

from pathlib import Path

import pytest

from provider.remote.sim_existing import sso_client_read
from provider.remote.world import AffiliateCredential, secret_digest
from tests.engine.world import demo_stack, new_engine, remote_calls, sim
from tests.support.engine import EngineError, StackConfig, learn

LABEL = "2026-Q4"


def _with_credential(config: StackConfig) -> str:
    with sim(config).edit() as world:
        (db,) = world.databases.values()
        db.credentials.append(
            AffiliateCredential(
                application="PAYROLL", user="CONTOSO\\bob", msid=db.msid, credential_digest=secret_digest("b", "c")
            )
        )
        return db.msid


def _rotated_everywhere(config: StackConfig, nodes: list[str], old: str) -> str:
    world = sim(config).load()
    (db,) = world.databases.values()
    assert db.msid != old and db.reencrypt_to is None
    assert all(db.msid in world.nodes[n].ssoss for n in nodes)
    assert [c.user for c in sso_client_read(world, "SQL01", "SSODB", "PAYROLL")] == ["CONTOSO\\bob"]
    return db.msid


@pytest.mark.parametrize("nodes", [["SSO01", "SSO02"], ["SSO01", "SSO02", "SSO03"]])
def test_a_rotation_under_the_engine(tmp_path: Path, nodes: list[str]) -> None:
    config = demo_stack(tmp_path, cluster={"nodes": nodes})
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    old = _with_credential(config)
    old_location = engine.resource("sso-system").plain_outputs["escrowLocation"]
    rotated = config.with_(sso={"masterSecretRotation": LABEL})

    preview = engine.preview(learn(rotated))
    assert preview.plan["sso-system"] == "update"  # never a replacement
    assert {preview.plan[f"master-secret-restore-{n.lower()}"] for n in nodes} == {"update"}

    moves = sim(config).load().calls_for(script="Move-SsoRole")
    engine.up(learn(rotated))
    new = _rotated_everywhere(config, nodes, old)
    assert sim(config).load().calls_for(script="Move-SsoRole") - moves == len(nodes)  # one per other node, one home
    system = engine.resource("sso-system").plain_outputs
    assert (system["msid"], system["rotatedFor"], system["previousMsid"]) == (new, LABEL, old)
    assert system["rotatedAt"] and system["previousEscrowLocation"] == old_location
    assert Path(old_location).exists() and Path(system["escrowLocation"]).exists()
    for node in nodes:
        restore = engine.resource(f"master-secret-restore-{node.lower()}").plain_outputs
        assert restore["failoverVerifiedAt"] and not restore["failoverPending"]

    calls = remote_calls(config)
    again = engine.up(learn(rotated))
    assert set(again.plan.values()) == {"same"}
    assert remote_calls(config) == calls  # a second up makes no remote call


@pytest.mark.parametrize(
    ("node", "script", "kind"),
    [
        ("SSO01", "New-MasterSecret", "drop_after"),  # generated, the reply lost
        ("SSO01", "Read-FileChunk", "error"),  # the new backup not yet fetched
        ("SSO02", "Move-SsoRole", "drop_after"),  # moved and cycled (issue 15: one call), the reply lost
        ("SSO02", "Restore-MasterSecret", "error"),
        ("SSO02", "Write-FileChunk", "drop_after"),  # the backup copy left on the node, the reply lost
        ("SSO02", "Restore-MasterSecret", "drop_after"),  # restored, its copy removed in its finally, the reply lost
    ],
)
def test_a_fault_during_a_rotation_converges_on_the_next_up(tmp_path: Path, node: str, script: str, kind: str) -> None:
    nodes = ["SSO01", "SSO02"]
    config = demo_stack(tmp_path, cluster={"nodes": nodes})
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    old = _with_credential(config)
    rotated = config.with_(sso={"masterSecretRotation": LABEL})
    sim(config).inject(node, script, kind)
    with pytest.raises(EngineError):
        engine.up(learn(rotated))
    engine.up(learn(rotated))
    _rotated_everywhere(config, nodes, old)
    world = sim(config).load()
    assert world.calls_for(script="New-MasterSecret") >= 1
    assert not any(world.nodes[n].protected_dirs for n in nodes)  # no backup copy left on a node
    assert len(list((tmp_path / "escrow").rglob("*.bak"))) >= 2  # the previous backup and the new one
    calls = remote_calls(config)
    assert set(engine.up(learn(rotated)).plan.values()) == {"same"}
    assert remote_calls(config) == calls
