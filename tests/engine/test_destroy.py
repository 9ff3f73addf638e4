"""Issue 5, scenario 7: destroy in reverse order, safe by default — through the host as a subprocess."""

from __future__ import annotations

from pathlib import Path

from tests.engine.world import SEED_ORDER, demo_stack, new_engine, sim
from tests.support.engine import learn

KEPT = "protected: the SSO system, its database, the master secret and the escrow are kept"


def _escrowed(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "escrow").rglob("*") if p.is_file())


def test_destroy_keeps_the_sso_system_by_default_and_says_why(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path, host="subprocess")
    engine.up(learn(config))
    escrowed = _escrowed(tmp_path)
    deployment = engine.destroy(config)
    assert deployment.host_mode == "subprocess"
    assert deployment.step_ops() == [("delete", name) for name in reversed(SEED_ORDER)]
    assert engine.state() == []
    world = sim(config).load()
    (database,) = world.databases.values()  # the SSO database stays
    assert world.nodes["SSO01"].sso_database == "SSODB" and database.msid in world.nodes["SSO01"].ssoss
    assert world.nodes["SSO02"].sso_server is None  # the join undid exactly what it did
    assert not any(r.type == "Generic Service" for r in world.cluster.resources.values())
    assert escrowed and all(p.exists() for p in escrowed)
    # delete() has no outputs: what it kept and why is on the host's stderr, one line per step
    log = deployment.host_stderr
    assert f"esso: [sso-system] SSO01 keep-sso-system ok ({KEPT})" in log
    assert "esso: [sso-domain-groups] - keep-groups ok" in log
    assert "esso: [secret-server-name] - keep-secret-server-name ok" in log


def test_destroy_removes_the_sso_system_once_an_up_recorded_the_opt_in(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path, host="subprocess")
    engine.up(learn(config))
    opt_in = config.with_(policy={"protectSsoSystem": False, "onDestroy": "remove"})
    recorded = engine.up(learn(opt_in))  # delete() acts on the policy stored in state
    assert recorded.names("update") == ["sso-system"]
    deployment = engine.destroy(opt_in)
    assert deployment.step_ops() == [("delete", name) for name in reversed(SEED_ORDER)]
    world = sim(config).load()
    assert world.databases == {}
    assert all(n.sso_server is None and n.ssoss == [] for n in world.nodes.values())
    assert _escrowed(tmp_path)  # the escrow is never deleted
    log = deployment.host_stderr
    assert "esso: [sso-system] SSO01 Remove-SsoDatabase changed" in log
    assert "keep-escrow ok (the escrowed master secret backup is never deleted)" in log


def test_destroy_without_the_recording_up_still_keeps_the_system(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    engine.destroy(config.with_(policy={"protectSsoSystem": False, "onDestroy": "remove"}))
    (database,) = sim(config).load().databases.values()
    assert database.name == "SSODB"
