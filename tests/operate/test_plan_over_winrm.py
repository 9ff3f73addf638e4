"""``esso plan`` over the real pypsrp client: only fact scripts cross the wire (issue 18, point 2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from provider import contracts
from provider.operate.plan import build_plan
from provider.remote.psrp import PsrpRemote, close_pools
from provider.remote.simulator import Simulator
from tests.support.loopback import Loopback, SimulatorBackend
from tests.support.procedure import BACKUP_PASSWORD, SERVICE_PASSWORD, demo_spec
from tests.transport.kit import PASSWORD, USER, transport


@pytest.fixture
def loopback(tmp_path: Path) -> Iterator[Loopback]:
    spec = demo_spec(tmp_path)
    Simulator(tmp_path / "world.json").seed(spec)
    close_pools()
    lb = Loopback(SimulatorBackend(tmp_path / "world.json"), list(spec.cluster.nodes), users={USER: PASSWORD})
    yield lb
    close_pools()
    lb.stop()


@pytest.mark.timeout(60)
def test_the_plan_sends_only_fact_scripts_over_winrm(tmp_path: Path, loopback: Loopback) -> None:
    spec = demo_spec(tmp_path)
    remote = PsrpRemote(
        transport(loopback, read_timeout=10.0, operation_timeout=5.0),
        username=USER,
        password=SecretStr(PASSWORD),
        resolver=loopback.resolver,
        second_hop=True,  # the simulator behind the endpoint serves SQL Server and the DC itself
    )
    try:
        plan = build_plan(spec, stack="demo", state={}, remote=remote)
    finally:
        remote.close()
    sent = [op.script for op in loopback.recorder.operations]
    assert sorted(set(sent)) == ["Get-ClusterFacts", "Get-DomainGroupFacts", "Get-NodeFacts", "Get-SsoDatabaseFacts"]
    assert not [s for s in sent if contracts.SCRIPTS[s].changes]
    assert len(plan.steps) > 10 and not plan.blocked  # the change steps ran in the twin only
    wire = loopback.recorder.wire_bytes() + loopback.recorder.decrypted_bytes()
    for secret in (SERVICE_PASSWORD, BACKUP_PASSWORD):
        assert secret.encode() not in wire
