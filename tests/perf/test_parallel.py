"""Independent per-node calls run in parallel (issue 15, point 3) and the simulator lets them (point 6)."""

from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from provider import contracts
from provider.errors import EssoError
from provider.remote import simulator
from provider.remote.base import Remote
from provider.remote.simulator import Simulator, SimulatorRemote, demo_world
from provider.resources import preflight
from provider.resources.base import CONCURRENCY_ENV, DEFAULT_CONCURRENCY, concurrency_setting


class Meeting(Remote):
    """Every call waits until ``parties`` calls are in flight at once: only a parallel caller gets through."""

    def __init__(self, parties: int) -> None:
        super().__init__(second_hop=True)
        self.barrier = threading.Barrier(parties, timeout=5)

    def _invoke(self, node: str, script: contracts.Script[Any, Any], params: contracts.Params) -> Any:
        self.barrier.wait()
        return node

    def renew_logon(self, node: str) -> None:
        pass


def test_fan_out_runs_the_nodes_at_once_and_keeps_their_order() -> None:
    remote = Meeting(parties=3)
    remote.concurrency = 3
    answers = remote.fan_out(
        ["SSO03", "SSO01", "SSO02"], lambda n: remote._invoke(n, contracts.GET_NODE_FACTS, contracts.NoParams())
    )
    assert list(answers) == ["SSO03", "SSO01", "SSO02"]


def test_fan_out_with_concurrency_one_runs_in_turn() -> None:
    remote = Meeting(parties=2)  # two calls would have to meet: in turn, the first one waits in vain
    remote.concurrency = 1
    with pytest.raises(threading.BrokenBarrierError):
        remote.fan_out(["SSO01", "SSO02"], lambda n: remote._invoke(n, contracts.GET_NODE_FACTS, contracts.NoParams()))


def test_fan_out_raises_the_first_error_in_node_order_after_all_calls_end() -> None:
    remote = Meeting(parties=1)
    remote.concurrency = 4
    ended: list[str] = []

    def call(node: str) -> str:
        ended.append(node)
        if node in ("SSO02", "SSO03"):
            raise EssoError("ESSO-041", f"failed on {node}", node=node, step="test")
        return node

    with pytest.raises(EssoError) as err:
        remote.fan_out(["SSO01", "SSO02", "SSO03", "SSO04"], call)
    assert err.value.node == "SSO02" and sorted(ended) == ["SSO01", "SSO02", "SSO03", "SSO04"]


def test_the_preflight_reads_every_node_in_parallel(tmp_path: Path) -> None:
    nodes = ["SSO01", "SSO02", "SSO03"]
    Simulator(tmp_path / "world.json").seed(demo_world(nodes=nodes))
    remote = SimulatorRemote(tmp_path / "world.json")
    remote.concurrency = 3
    barrier = threading.Barrier(3, timeout=5)
    real = remote._invoke

    def meet(node: str, script: contracts.Script[Any, Any], params: contracts.Params) -> Any:
        barrier.wait()  # all three node reads are in flight at once, or this times out
        return real(node, script, params)

    remote._invoke = meet  # type: ignore[method-assign]
    facts = preflight.gather_node_facts(remote, nodes, service_account="CONTOSO\\svc-entsso", admin_group="x")
    assert list(facts) == nodes and all(f.computer_name == n for n, f in facts.items())


def test_the_simulator_sleeps_its_latency_outside_its_state_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = Simulator(tmp_path / "world.json")
    world = demo_world()
    world.latency_ms = 5
    sim.seed(world)
    held: list[bool] = []

    def sleep(seconds: float) -> None:
        with open(sim.lock_path, "a", encoding="utf-8") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held.append(True)
            else:
                fcntl.flock(lock, fcntl.LOCK_UN)
                held.append(False)

    monkeypatch.setattr(time, "sleep", sleep)  # the simulator's own module reference is the same module
    SimulatorRemote(sim.path).run(
        "SSO01",
        contracts.GET_NODE_FACTS,
        contracts.GetNodeFactsParams(service_account="CONTOSO\\svc-entsso", admin_group="x"),
    )
    assert held == [False]


def test_the_latency_profile_weighs_scripts_and_scales() -> None:
    profile = simulator.WINDOWS_LIKE
    assert (
        profile.delay(contracts.JOIN_SSO_SYSTEM.name)
        > profile.delay(contracts.MOVE_SSO_ROLE.name)
        > profile.delay(contracts.GET_NODE_FACTS.name)
    )
    assert profile.delay(contracts.WRITE_FILE_CHUNK.name) == profile.default_change * profile.scale
    assert simulator.call_latency(0, contracts.GET_NODE_FACTS.name) == 0.0  # no profile set: the world's latency


@pytest.mark.parametrize("value", ["0", "33", "four", "-1"])
def test_a_bad_concurrency_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(EssoError) as err:
        concurrency_setting(value)
    assert err.value.code == "ESSO-040" and CONCURRENCY_ENV in str(err.value)


def test_concurrency_defaults_and_reads() -> None:
    assert concurrency_setting(None) == DEFAULT_CONCURRENCY
    assert concurrency_setting("8") == 8


def test_start_reads_in_the_background_beside_the_foreground() -> None:
    remote = Meeting(parties=2)
    remote.concurrency = 2
    pending = remote.start(lambda: remote._invoke("SSO01", contracts.GET_CLUSTER_FACTS, contracts.NoParams()))
    assert (
        remote._invoke("SSO02", contracts.GET_NODE_FACTS, contracts.NoParams()) == "SSO02"
    )  # meets the background call
    assert pending() == "SSO01"


def test_start_with_concurrency_one_runs_when_asked() -> None:
    ran: list[str] = []
    remote = Meeting(parties=1)
    remote.concurrency = 1

    def read() -> str:
        ran.append("read")
        return "answer"

    pending = remote.start(read)
    assert ran == []
    assert pending() == "answer" and ran == ["read"]
