"""Every script call has an overall deadline, however many w:TimedOut faults the node sends (issue 11 point 2).

A real node answers an idle Receive with the w:TimedOut fault after each OperationTimeout for as long as the
script runs (recordings test_psrp_long_running_cmdlet, test_winrs_operation_timeout); pypsrp polls again after
each. The loopback's ``runs_long`` fault does the same, so these tests are the Windows behaviour.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import SecretStr

from provider import contracts
from provider.errors import EssoError
from provider.remote.base import TransientRemoteError
from provider.remote.psrp import PsrpRemote
from provider.remote.psrp.deadlines import (
    CHANGE_S,
    CONFIGURATION_EXE_S,
    FACT_READ_S,
    ROLE_MOVE_S,
    deadline_for,
    default_deadline,
)
from tests.support.loopback import Fault
from tests.transport.kit import PASSWORD, USER, MiniBackend, transport

FACTS = contracts.GetNodeFactsParams(service_account="CONTOSO\\svc-entsso", admin_group="CONTOSO\\SSO Administrators")


def _remote(lb: Any, **deadlines: float) -> PsrpRemote:
    return PsrpRemote(
        transport(lb), username=USER, password=SecretStr(PASSWORD), resolver=lb.resolver, deadlines=deadlines
    )


def _timed_out(lb: Any) -> int:
    return sum(1 for e in lb.recorder.exchanges if e.action == "Receive" and b"w:TimedOut" in e.soap_response)


def test_a_script_that_never_ends_fails_at_its_deadline_with_esso_060(start_loopback: Any) -> None:
    backend = MiniBackend()
    lb = start_loopback(backend)
    lb.inject(Fault("runs_long", node="SSO01", script="Get-NodeFacts"))  # for ever
    r = _remote(lb, **{"Get-NodeFacts": 2.0})
    started = time.monotonic()
    with pytest.raises(EssoError) as err:
        r.run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    elapsed = time.monotonic() - started
    assert err.value.code == "ESSO-060" and not isinstance(err.value, TransientRemoteError)  # never re-sent
    assert 2.0 <= elapsed <= 2.0 + r.transport.read_timeout + 1.0
    text = str(err.value)
    assert "may still be running" in text and "2s" in text and "SSO01" in text and "Get-NodeFacts" in text
    assert "Configuration.exe" in err.value.fix  # what to check on the node
    assert _timed_out(lb) >= 3  # many w:TimedOut faults arrived; none of them ended the call
    assert len(lb.recorder.requests(script="Get-NodeFacts", action="Command")) == 1
    assert backend.calls == {}  # the script never finished


def test_the_node_is_usable_again_after_a_deadline(start_loopback: Any) -> None:
    lb = start_loopback(MiniBackend())
    lb.inject(Fault("runs_long", node="SSO01", script="Get-NodeFacts"))
    r = _remote(lb, **{"Get-NodeFacts": 1.0})
    with pytest.raises(EssoError):
        r.run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    creates = len(lb.recorder.requests(action="Create"))
    assert r.run("SSO01", contracts.GET_NODE_FACTS, FACTS).computer_name == "SSO01"
    assert len(lb.recorder.requests(action="Create")) == creates + 1  # the abandoned session was not reused


def test_a_slow_script_within_its_deadline_succeeds_through_the_timeouts(start_loopback: Any) -> None:
    backend = MiniBackend(start_type={"SSO01": "Automatic"})
    lb = start_loopback(backend)
    lb.inject(Fault("runs_long", node="SSO01", script="Set-EntSsoStartMode", seconds=2.0))
    r = _remote(lb)  # the default deadline of a change: minutes
    result = r.run("SSO01", contracts.SET_ENTSSO_START_MODE, contracts.StartModeParams(start_mode="Manual"))
    assert result.changed is True and backend.start_type["SSO01"] == "Manual"
    assert _timed_out(lb) >= 2


def test_deadlines_are_generous_for_configuration_exe_and_role_moves_and_short_for_reads() -> None:
    assert (
        default_deadline(contracts.INSTALL_SSO_SYSTEM)
        == default_deadline(contracts.JOIN_SSO_SYSTEM)
        == CONFIGURATION_EXE_S
    )
    assert (
        default_deadline(contracts.MOVE_SSO_ROLE)
        == default_deadline(contracts.RESTART_SSO_CLUSTER_RESOURCE)
        == ROLE_MOVE_S
    )
    assert default_deadline(contracts.GET_NODE_FACTS) == default_deadline(contracts.READ_FILE_CHUNK) == FACT_READ_S
    assert default_deadline(contracts.WRITE_FILE_CHUNK) == CHANGE_S
    assert FACT_READ_S < CHANGE_S < ROLE_MOVE_S < CONFIGURATION_EXE_S
    for script in contracts.SCRIPTS.values():
        expected = FACT_READ_S if not script.changes else default_deadline(script)
        assert default_deadline(script) == expected >= FACT_READ_S
    assert deadline_for(contracts.INSTALL_SSO_SYSTEM, {"Install-SsoSystem": 3600}) == 3600.0


@pytest.mark.parametrize(
    ("overrides", "needle"), [({"Install-SsoSytem": 10}, "not a contract script"), ({"Get-NodeFacts": 0}, "positive")]
)
def test_a_bad_deadline_override_is_refused(overrides: dict[str, float], needle: str) -> None:
    with pytest.raises(EssoError) as err:
        PsrpRemote(transport(None), username=USER, password=SecretStr(PASSWORD), deadlines=overrides)
    assert err.value.code == "ESSO-040" and needle in str(err.value)
