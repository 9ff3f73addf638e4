"""Live progress: each step shows on its resource while it runs, through the engine's Log RPC (issue 18, point 5).

The harness starts the SDK's dynamic provider host as the engine does, with the engine's address as the last
argument, and serves a recording Engine service there (tests/support/engine_log.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from provider.config import load_spec
from provider.operate.progress import QUIET_KEY, RunContext, engine_address
from tests.engine.world import demo_stack, new_engine, sim
from tests.support.engine import EngineError, learn
from tests.support.engine_log import RecordingEngine
from tests.support.engine_wire import strip_secrets


def test_the_rebuilt_urn_is_the_one_the_engine_computes(tmp_path: Path) -> None:
    program = learn(demo_stack(tmp_path))
    assert len(program.dynamic) == 8
    for registration in program.dynamic:
        context = RunContext.from_props(strip_secrets(registration.inputs))
        assert context is not None, registration.name
        assert context.urn == registration.urn  # the URN the engine computed for this registration
        assert (context.stack, context.project, context.name) == ("demo", "esso-cluster", registration.name)
        assert context.type == registration.type
    # a wrong piece anywhere gives another URN (the check can fail)
    first = RunContext.from_props(strip_secrets(program.dynamic[0].inputs))
    assert first is not None
    assert first.model_copy(update={"parent_type": ""}).urn != program.dynamic[0].urn


def test_engine_address_is_the_last_argument_only_when_it_is_one() -> None:
    assert engine_address(["host.py", "127.0.0.1:51234"]) == "127.0.0.1:51234"
    assert engine_address(["host.py"]) is None
    assert engine_address(["pytest", "tests/operate"]) is None
    assert engine_address(["host.py", "evil.example:80/x"]) is None


def test_each_step_shows_on_its_resource_while_up_runs(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    program = learn(config)
    with RecordingEngine.serve() as service:
        engine = new_engine(tmp_path, host="subprocess", engine_address=service.address)
        deployment = engine.up(program)
    assert service.records, "the provider sent no Log request to the engine"
    assert all(r.ephemeral and r.severity == 1 for r in service.records)
    urns = {r.urn for r in program.dynamic}
    assert {r.urn for r in service.records} <= urns
    system = program.named("sso-system").urn
    messages = service.for_urn(system)
    # while it runs: the script is announced before it is sent, then its outcome
    start = messages.index("SSO01 Install-SsoSystem running")
    assert messages[start + 1 :].count("SSO01 Install-SsoSystem changed") == 1
    assert "esso: [sso-system] SSO01 Install-SsoSystem changed" in deployment.host_stderr  # the fallback stays
    for secret in config.secret_values():
        assert all(secret not in r.message for r in service.records)


def test_a_failing_resource_shows_the_steps_it_did_before_it_failed(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    sim(config).seed(load_spec(dict(config.values)))
    sim(config).inject("SSO02", "Join-SsoSystem", "error")
    program = learn(config)
    with RecordingEngine.serve() as service:
        engine = new_engine(tmp_path, host="subprocess", engine_address=service.address)
        with pytest.raises(EngineError, match="ESSO-041"):
            engine.up(program)
    join = service.for_urn(program.named("sso-join-sso02").urn)
    # the preflight it did (its reads answered by the operation's facts cache: the adopted join of SSO01 read
    # the same facts and changed nothing), then the script that failed, shown before it was sent
    assert join == [
        "SSO02 preflight ok",
        "SSO02 Join-SsoSystem running",
    ]


def test_without_an_engine_address_only_stderr_shows_the_steps(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path, host="subprocess")
    deployment = engine.up(learn(config))
    assert "esso: [sso-system] SSO01 Install-SsoSystem changed" in deployment.host_stderr
    assert QUIET_KEY in engine.resource("sso-system").outputs  # refresh and destroy know the URN and the stack


def test_the_in_process_host_gets_the_address_the_same_way(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    program = learn(config)
    with RecordingEngine.serve() as service:
        engine = new_engine(tmp_path, host="in-process", engine_address=service.address)
        engine.up(program)
    restore = service.for_urn(program.named("master-secret-restore-sso02").urn)
    assert "SSO02 Restore-MasterSecret running" in restore
    assert restore.index("SSO02 Move-SsoRole running") < restore.index("SSO02 Restore-MasterSecret running")
