"""Dropped connections: a read is retried and succeeds; a change is never re-sent, and the caller converges
by re-reading the facts (the outcome is right whether or not the change had applied)."""

from __future__ import annotations

from typing import Any

import pytest

from provider import contracts
from provider.remote.base import Remote, TransientRemoteError
from tests.support.loopback import Fault
from tests.transport.kit import MiniBackend, remote

FACTS = contracts.GetNodeFactsParams(service_account="CONTOSO\\svc-entsso", admin_group="CONTOSO\\SSO Administrators")
MANUAL = contracts.StartModeParams(start_mode="Manual")


@pytest.mark.parametrize("kind", ["drop_before", "drop_after"])
def test_a_read_dropped_mid_call_is_retried_and_succeeds(start_loopback: Any, kind: str) -> None:
    backend = MiniBackend()
    lb = start_loopback(backend)
    lb.inject(Fault(kind, node="SSO01", script="Get-NodeFacts"))  # type: ignore[arg-type]
    facts = remote(lb).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert facts.computer_name == "SSO01"
    assert len(lb.recorder.requests(script="Get-NodeFacts", action="Command")) == 2
    assert [e.dropped for e in lb.recorder.requests(script="Get-NodeFacts", action="Command")] == [True, False]
    assert backend.calls["SSO01/Get-NodeFacts"] == (2 if kind == "drop_after" else 1)


def converge_start_mode(r: Remote, node: str) -> list[str]:
    """What a provider does: run the change; if the connection dropped, re-read the facts and decide.

    Returns the steps taken, for the assertions.
    """
    steps = ["set"]
    try:
        r.run(node, contracts.SET_ENTSSO_START_MODE, MANUAL)
        return steps
    except TransientRemoteError as err:
        assert err.may_have_run, "a dropped change must be reported as possibly applied"
        steps.append("re-read")
    facts = r.run(node, contracts.GET_NODE_FACTS, FACTS)
    if facts.entsso.start_type != "Manual":
        steps.append("set-again")
        r.run(node, contracts.SET_ENTSSO_START_MODE, MANUAL)
    return steps


@pytest.mark.parametrize(
    ("kind", "expected_steps"),
    [("drop_before", ["set", "re-read", "set-again"]), ("drop_after", ["set", "re-read"])],
)
def test_a_change_dropped_mid_call_is_not_resent_and_converges(
    start_loopback: Any, kind: str, expected_steps: list[str]
) -> None:
    backend = MiniBackend(start_type={"SSO01": "Automatic"})
    lb = start_loopback(backend)
    lb.inject(Fault(kind, node="SSO01", script="Set-EntSsoStartMode"))  # type: ignore[arg-type]
    r = remote(lb)

    with pytest.raises(TransientRemoteError) as err:
        r.run("SSO01", contracts.SET_ENTSSO_START_MODE, MANUAL)
    assert err.value.code == "ESSO-031" and err.value.may_have_run is True
    # Exactly one request carried the change: the transport did not re-send it.
    assert len(lb.recorder.requests(script="Set-EntSsoStartMode", action="Command")) == 1
    applied = backend.start_type["SSO01"] == "Manual"
    assert applied is (kind == "drop_after")

    # Now the caller's side, from a fresh drop of the same kind: re-read, act only on a difference.
    backend.start_type["SSO01"] = "Automatic"
    backend.calls.clear()
    lb.recorder.clear()
    lb.inject(Fault(kind, node="SSO01", script="Set-EntSsoStartMode"))  # type: ignore[arg-type]
    assert converge_start_mode(r, "SSO01") == expected_steps
    assert backend.start_type["SSO01"] == "Manual"
    assert backend.calls["SSO01/Set-EntSsoStartMode"] == 1  # applied exactly once either way
    assert len(lb.recorder.requests(script="Set-EntSsoStartMode", action="Command")) == len(expected_steps) - 1


def test_retries_are_bounded_for_reads(start_loopback: Any) -> None:
    backend = MiniBackend()
    lb = start_loopback(backend)
    lb.inject(Fault("drop_before", node="SSO01", script="Get-NodeFacts", remaining=10))
    r = remote(lb)
    with pytest.raises(TransientRemoteError):
        r.run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert len(lb.recorder.requests(script="Get-NodeFacts", action="Command")) == r.retries + 1
    assert backend.calls == {}
