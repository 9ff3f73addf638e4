"""Sequential round-trip levels (issue 15): the first ``up``'s critical path, counted by the operation's logical clock
(provider/remote/levels.py), never timed. Levels are stable where wall times are not."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bench.bench import Stack
from provider import contracts
from provider.remote.cache import FactsCache, Operation
from provider.remote.levels import Levels, bounded_levels
from provider.remote.simulator import Simulator, SimulatorRemote, demo_world
from provider.resources.base import CONCURRENCY_ENV

NODES = ["SSO01", "SSO02", "SSO03"]
FACTS = contracts.GetNodeFactsParams(service_account="CONTOSO\\svc-entsso", admin_group="CONTOSO\\SSO Administrators")
CLUSTER = contracts.GetClusterFactsParams(role_name="SSO")


def _remote(tmp_path: Path, concurrency: int, *, cache: bool = False) -> tuple[SimulatorRemote, Levels]:
    Simulator(tmp_path / "world.json").seed(demo_world(nodes=NODES))
    remote = SimulatorRemote(tmp_path / "world.json")
    remote.concurrency = concurrency
    levels = Levels()
    remote.levels = levels.track("test")
    remote.cache = FactsCache() if cache else None
    return remote, levels


def _read(remote: SimulatorRemote, node: str) -> contracts.NodeFacts:
    return remote.run(node, contracts.GET_NODE_FACTS, FACTS)


def test_calls_one_after_another_are_one_level_each(tmp_path: Path) -> None:
    remote, levels = _remote(tmp_path, 4)
    for node in NODES:
        _read(remote, node)
    assert levels.done == 3 and levels.by_script == {"Get-NodeFacts": 3}


@pytest.mark.parametrize(("concurrency", "expected"), [(3, 1), (2, 2), (1, 3)])
def test_a_fan_out_takes_the_levels_its_concurrency_allows(tmp_path: Path, concurrency: int, expected: int) -> None:
    remote, levels = _remote(tmp_path, concurrency)
    remote.fan_out(NODES, lambda node: _read(remote, node))
    assert levels.done == expected
    remote.run("SSO01", contracts.GET_CLUSTER_FACTS, CLUSTER)  # after the fan-out, not beside it
    assert levels.done == expected + 1


def test_a_read_started_in_the_background_shares_the_levels_of_the_calls_beside_it(tmp_path: Path) -> None:
    remote, levels = _remote(tmp_path, 2)

    def two_reads() -> None:
        _read(remote, "SSO02")
        _read(remote, "SSO03")

    pending = remote.start(two_reads)
    remote.run("SSO01", contracts.GET_CLUSTER_FACTS, CLUSTER)  # beside the first of the two
    pending()  # the caller goes on from the background's end
    assert levels.done == 2
    _read(remote, "SSO01")
    assert levels.done == 3


def test_a_cached_answer_is_ready_only_from_the_level_it_arrived_at(tmp_path: Path) -> None:
    """A hit costs no round trip, but a caller that uses a prefetched answer goes on from where it arrived."""
    remote, levels = _remote(tmp_path, 2, cache=True)

    kept = threading.Event()

    def prefetch() -> None:
        remote.run("SSO01", contracts.GET_CLUSTER_FACTS, CLUSTER)
        _read(remote, "SSO02")
        kept.set()

    pending = remote.start(prefetch)
    assert kept.wait(10)
    _read(remote, "SSO02")  # the prefetched answer, kept at level 2: a hit
    _read(remote, "SSO03")  # so this one runs after it
    pending()
    assert levels.done == 3
    assert levels.by_script == {"Get-ClusterFacts": 1, "Get-NodeFacts": 2}


def test_bounded_levels_deals_branches_out_in_order() -> None:
    assert bounded_levels([1] * 8, 4) == 2
    assert bounded_levels([1] * 8, 8) == 1
    assert bounded_levels([2, 1, 1], 2) == 3
    assert bounded_levels([], 4) == 0


@pytest.mark.parametrize(("n", "expected"), [(2, 29), (4, 39)])
def test_the_first_up_s_critical_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int, expected: int) -> None:
    """The first up's sequential round trips at the default concurrency (4): 49 at N=2 and 74 at N=4 before the
    restore chain was folded (issue 15); each further node costs its join (Join-SsoSystem, its facts) and its
    restore (the move and cycle beside the folder and copy, the restore, the proof's reads), 2 + 3 levels."""
    monkeypatch.setenv(CONCURRENCY_ENV, "4")
    stack = Stack(tmp_path, n)
    stack.up()
    operation = Operation._current
    assert operation is not None
    levels = operation.levels
    assert levels.done == expected
    nodes = [f"SSO{i:02d}" for i in range(2, n + 1)]
    assert all(levels.by_resource[f"sso-node-join {node}"] == 2 for node in nodes)
    # the last restore also moves the role home (seed step 7's fail-back)
    assert [levels.by_resource[f"master-secret-restore {node}"] for node in nodes] == [3] * (n - 2) + [4]
