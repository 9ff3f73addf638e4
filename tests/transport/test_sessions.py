"""Pooled sessions: one per node and identity, shared by threads; one node serialized, nodes concurrent;
a fresh logon on demand (rule 13); a new session when the settings change or the node lost the shell."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from provider import contracts
from provider.errors import EssoError
from provider.remote.psrp import open_pool_count
from tests.transport.kit import PASSWORD, USER, MiniBackend, remote

FACTS = contracts.GetNodeFactsParams(service_account="CONTOSO\\svc-entsso", admin_group="CONTOSO\\SSO Administrators")


def test_threads_on_two_nodes_run_concurrently_and_one_node_is_serialized(start_loopback: Any) -> None:
    backend = MiniBackend()
    lb = start_loopback(backend, script_delay=0.1)
    results: list[tuple[str, str]] = []
    failures: list[BaseException] = []

    def worker(node: str) -> None:
        try:
            r = remote(lb)  # a Remote per thread, as provider calls do; the pool is shared
            for _ in range(3):
                results.append((node, r.run(node, contracts.GET_NODE_FACTS, FACTS).computer_name))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(node,)) for node in ("SSO01", "SSO02") for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not failures, failures
    assert sorted(results) == sorted([("SSO01", "SSO01")] * 9 + [("SSO02", "SSO02")] * 9)

    ops = lb.recorder.operations
    assert len(ops) == 18 and all(o.ended is not None for o in ops)
    for node in ("SSO01", "SSO02"):
        assert lb.recorder.overlaps(node) == [], f"operations on {node} overlapped"
        assert len(lb.recorder.requests(node=node, action="Create")) == 1  # one pooled session per node
    one = [o for o in ops if o.node == "SSO01"]
    two = [o for o in ops if o.node == "SSO02"]
    concurrent = [(a, b) for a in one for b in two if a.started < (b.ended or 0) and b.started < (a.ended or 0)]
    assert concurrent, "operations on different nodes never ran at the same time"
    assert open_pool_count() == 2


def test_renew_logon_opens_a_new_session(start_loopback: Any) -> None:
    backend = MiniBackend()
    lb = start_loopback(backend)
    r = remote(lb)
    r.run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    r.run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert backend.logons == [("SSO01", USER)]
    r.renew_logon("SSO01")
    assert len(lb.recorder.requests(node="SSO01", action="Delete")) == 1  # the old shell is closed on the node
    r.run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert backend.logons == [("SSO01", USER), ("SSO01", USER)]
    assert len(lb.recorder.requests(node="SSO01", action="Create")) == 2


def test_changed_credentials_never_reuse_a_session(start_loopback: Any) -> None:
    lb = start_loopback(MiniBackend())
    remote(lb).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    with pytest.raises(EssoError) as err:
        remote(lb, password="Wrong-" + PASSWORD).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert err.value.code == "ESSO-030"


def test_a_shell_the_node_dropped_is_reopened_without_running_twice(start_loopback: Any) -> None:
    backend = MiniBackend(start_type={"SSO01": "Automatic"})
    lb = start_loopback(backend)
    r = remote(lb)
    r.run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    lb.servers["SSO01"].server.service.shells.clear()  # idle timeout or WinRM restart on the node
    result = r.run("SSO01", contracts.SET_ENTSSO_START_MODE, contracts.StartModeParams(start_mode="Manual"))
    assert result.changed is True
    assert backend.calls["SSO01/Set-EntSsoStartMode"] == 1
    assert len(lb.recorder.requests(node="SSO01", action="Create")) == 2


def test_each_script_runs_in_its_own_scope_of_the_pooled_runspace(start_loopback: Any) -> None:
    """A script's parameters (SecureStrings among them) and variables do not stay behind for the next script in
    the shared session: AddScript with useLocalScope (review ps_fidelity F14)."""
    lb = start_loopback(MiniBackend())
    r = remote(lb)
    r.run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    r.run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert lb.recorder.operations and all(op.local_scope for op in lb.recorder.operations)
