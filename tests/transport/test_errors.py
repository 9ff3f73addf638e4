"""Every documented transport error, with its stable ID, within (retries + 1) x timeout + 2 s (1 s timeouts).

Each error must name the node, the endpoint (host:port) and the script, and never show the WinRM
password or a SecureString value in any encoding.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr

from provider import contracts
from provider.errors import EssoError
from provider.remote.base import TransientRemoteError
from provider.remote.psrp import PsrpRemote
from tests.support.loopback import FakeBackend, Fault, Loopback, closed_port, silent_port
from tests.support.secrets_scan import find_secret
from tests.transport.kit import BACKUP_PASSWORD, PASSWORD, USER, MiniBackend, bound, node_facts, remote, transport

FACTS = contracts.GetNodeFactsParams(service_account="CONTOSO\\svc-entsso", admin_group="CONTOSO\\SSO Administrators")
BACKUP = contracts.BackupParams(
    backup_file=r"C:\Program Files\Common Files\Enterprise Single Sign-On\SSOSecret.bak",
    backup_password=SecretStr(BACKUP_PASSWORD),
    reminder="escrow",
    overwrite=False,
)


def _facts_backend() -> FakeBackend:
    def answer(node: str, script: str, params: dict[str, Any]) -> dict[str, Any]:
        if script == "Get-NodeFacts":
            return node_facts(node)
        return {"changed": False, "before": None, "after": {"file": "f", "sha256": "0" * 64, "msid": "m"}}

    return FakeBackend(answer)


def _expect(
    call: Callable[[], Any], code: str, limit: float, *, node: str = "SSO01", script: str = "Get-NodeFacts"
) -> EssoError:
    started = time.monotonic()
    with pytest.raises(EssoError) as info:
        call()
    elapsed = time.monotonic() - started
    err = info.value
    assert err.code == code, str(err)
    assert elapsed <= limit, f"{code} took {elapsed:.1f}s, limit {limit:.1f}s"
    text = str(err)
    assert node in text and script in text, text
    assert err.node == node and err.step == script
    for secret in (PASSWORD, BACKUP_PASSWORD):
        assert find_secret(text + repr(err.args) + repr(vars(err)), secret) == [], text
    return err


def test_wrong_password_is_esso_030(start_loopback: Any) -> None:
    lb = start_loopback(_facts_backend())
    r = remote(lb, password="Wrong-" + PASSWORD)
    err = _expect(lambda: r.run("SSO01", contracts.GET_NODE_FACTS, FACTS), "ESSO-030", bound(r.transport))
    assert f"127.0.0.1:{lb.port('SSO01')}" in str(err)
    assert not isinstance(err, TransientRemoteError)  # never retried: a lockout policy counts attempts
    assert len([e for e in lb.recorder.exchanges if e.status == 401]) <= 3


def test_wrong_password_over_https_basic_is_esso_030(start_loopback: Any, tls: Any) -> None:
    lb = start_loopback(_facts_backend(), https=True)
    r = remote(lb, password="Wrong-" + PASSWORD, ca_bundle=str(tls.ca_pem))
    _expect(lambda: r.run("SSO01", contracts.GET_NODE_FACTS, FACTS), "ESSO-030", bound(r.transport))


def test_closed_port_is_esso_031_and_provably_not_run() -> None:
    port = closed_port()
    t = transport(None)
    r = PsrpRemote(t, username=USER, password=SecretStr(PASSWORD), resolver=lambda node: ("127.0.0.1", port))
    err = _expect(
        lambda: r.run("SSO01", contracts.BACKUP_MASTER_SECRET, BACKUP),
        "ESSO-031",
        bound(t),
        script="Backup-MasterSecret",
    )
    assert isinstance(err, TransientRemoteError)
    assert err.may_have_run is False  # refused: the change never reached the node
    assert f"127.0.0.1:{port}" in str(err)


def test_a_server_that_never_answers_is_esso_033() -> None:
    t = transport(None)
    with silent_port() as port:
        r = PsrpRemote(t, username=USER, password=SecretStr(PASSWORD), resolver=lambda node: ("127.0.0.1", port))
        err = _expect(lambda: r.run("SSO01", contracts.GET_NODE_FACTS, FACTS), "ESSO-033", bound(t))
    assert isinstance(err, TransientRemoteError)
    assert "read timeout" in str(err)


def test_a_node_that_stops_answering_mid_call_is_esso_033_and_the_change_may_have_run(start_loopback: Any) -> None:
    lb = start_loopback(_facts_backend())
    lb.inject(Fault("hang", node="SSO01", script="Backup-MasterSecret"))
    r = remote(lb)
    err = _expect(
        lambda: r.run("SSO01", contracts.BACKUP_MASTER_SECRET, BACKUP),
        "ESSO-033",
        bound(r.transport),
        script="Backup-MasterSecret",
    )
    assert isinstance(err, TransientRemoteError) and err.may_have_run is True
    assert len(lb.recorder.requests(script="Backup-MasterSecret", action="Command")) == 1  # never re-sent


def test_a_winrm_fault_is_esso_034_with_code_and_reason(start_loopback: Any) -> None:
    lb = start_loopback(_facts_backend())
    lb.inject(
        Fault(
            "wsman_fault", node="SSO01", script="Get-NodeFacts", code=0x803381A4, reason="Quota exceeded for this user"
        )
    )
    r = remote(lb)
    err = _expect(lambda: r.run("SSO01", contracts.GET_NODE_FACTS, FACTS), "ESSO-034", bound(r.transport))
    assert "0x803381A4" in str(err) and "Quota exceeded for this user" in str(err)
    assert not isinstance(err, TransientRemoteError)


def test_an_escaped_operation_timeout_fault_is_transient_and_retried_for_reads(start_loopback: Any) -> None:
    backend = _facts_backend()
    lb = start_loopback(backend)
    lb.inject(Fault("wsman_fault", node="SSO01", script=None, code=0x80338029, reason="OperationTimeout", remaining=1))
    r = remote(lb)
    facts = r.run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert facts.computer_name == "SSO01"
    assert backend.calls == {"SSO01/Get-NodeFacts": 1}


def test_http_503_is_transient_retried_for_a_read(start_loopback: Any) -> None:
    backend = _facts_backend()
    lb = start_loopback(backend)
    lb.inject(Fault("http_503", node="SSO01", script="Get-NodeFacts", remaining=2))
    r = remote(lb)
    assert r.run("SSO01", contracts.GET_NODE_FACTS, FACTS).computer_name == "SSO01"
    assert len(lb.recorder.requests(script="Get-NodeFacts", action="Command")) == 3
    assert backend.calls == {"SSO01/Get-NodeFacts": 1}


def test_http_503_on_a_change_is_not_resent_and_did_not_run(start_loopback: Any) -> None:
    backend = _facts_backend()
    lb = start_loopback(backend)
    lb.inject(Fault("http_503", node="SSO01", script="Backup-MasterSecret"))
    r = remote(lb)
    err = _expect(
        lambda: r.run("SSO01", contracts.BACKUP_MASTER_SECRET, BACKUP),
        "ESSO-031",
        bound(r.transport),
        script="Backup-MasterSecret",
    )
    assert isinstance(err, TransientRemoteError) and err.may_have_run is False
    assert len(lb.recorder.requests(script="Backup-MasterSecret", action="Command")) == 1
    assert backend.calls == {}


def test_a_terminating_error_is_esso_035_with_message_category_and_target(start_loopback: Any) -> None:
    from psrpcore.types import ErrorCategory

    lb = start_loopback(_facts_backend())
    lb.inject(
        Fault(
            "terminating",
            node="SSO01",
            script="Get-NodeFacts",
            message="Cannot find path 'HKLM:\\SOFTWARE\\Microsoft\\ENTSSO' because it does not exist.",
            category=ErrorCategory.ObjectNotFound,
            target="HKLM:\\SOFTWARE\\Microsoft\\ENTSSO",
        )
    )
    r = remote(lb)
    err = _expect(lambda: r.run("SSO01", contracts.GET_NODE_FACTS, FACTS), "ESSO-035", bound(r.transport))
    text = str(err)
    assert "Cannot find path" in text and "ObjectNotFound" in text and "HKLM:\\SOFTWARE\\Microsoft\\ENTSSO" in text
    assert len(lb.recorder.requests(script="Get-NodeFacts", action="Command")) == 1  # a script error is not retried


def test_a_known_windows_failure_gets_the_seeds_advice(start_loopback: Any) -> None:
    """A raw 0x800706D9 from a script is ESSO-010 (UseNetworkName and the Name dependency), text kept."""
    from psrpcore.types import ErrorCategory

    lb = start_loopback(_facts_backend())
    message = (
        "Failed to retrieve master secrets. Secret Server Name: ENTSSO Error Code: 0x800706D9, there are no more "
        "endpoints available from the endpoint mapper."
    )
    lb.inject(
        Fault(
            "terminating",
            node="SSO01",
            script="Get-NodeFacts",
            message=message,
            category=ErrorCategory.ConnectionError,
            target="ENTSSO",
        )
    )
    r = remote(lb)
    err = _expect(lambda: r.run("SSO01", contracts.GET_NODE_FACTS, FACTS), "ESSO-010", bound(r.transport))
    assert "0x800706D9" in str(err) and "Use Network Name for computer name" in str(err)


def test_non_terminating_errors_are_esso_036_and_listed(start_loopback: Any) -> None:
    from psrpcore.types import ErrorCategory

    lb = start_loopback(_facts_backend())
    lb.inject(
        Fault(
            "non_terminating",
            node="SSO01",
            script="Get-NodeFacts",
            message="Access to the cluster service was denied",
            category=ErrorCategory.PermissionDenied,
            target="SSO-CLUSTER",
            errors=2,
        )
    )
    r = remote(lb)
    err = _expect(lambda: r.run("SSO01", contracts.GET_NODE_FACTS, FACTS), "ESSO-036", bound(r.transport))
    text = str(err)
    assert "2 non-terminating error(s)" in text
    assert "denied #1" in text and "denied #2" in text and "PermissionDenied" in text and "SSO-CLUSTER" in text


def test_a_script_refusal_keeps_its_own_esso_id(start_loopback: Any) -> None:
    def answer(node: str, script: str, params: dict[str, Any]) -> dict[str, Any]:
        raise EssoError("ESSO-011", "the role SSO is owned by SSO01, not SSO02.", node=node, step=script)

    lb = start_loopback(FakeBackend(answer))
    r = remote(lb)
    err = _expect(lambda: r.run("SSO02", contracts.GET_NODE_FACTS, FACTS), "ESSO-011", bound(r.transport), node="SSO02")
    assert "owned by SSO01" in str(err)


def test_output_that_breaks_the_contract_is_esso_037(start_loopback: Any) -> None:
    lb = start_loopback(FakeBackend(lambda node, script, params: {"computerName": node}))
    r = remote(lb)
    _expect(lambda: r.run("SSO01", contracts.GET_NODE_FACTS, FACTS), "ESSO-037", bound(r.transport))


def test_secrets_never_appear_in_script_errors(start_loopback: Any) -> None:
    # A careless script echoing its parameter: the transport scrubs the value out of the message.
    def answer(node: str, script: str, params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError(f"bad password {params['BackupPassword']}")

    lb = start_loopback(FakeBackend(answer))
    r = remote(lb)
    err = _expect(
        lambda: r.run("SSO01", contracts.BACKUP_MASTER_SECRET, BACKUP), "ESSO-035", 5, script="Backup-MasterSecret"
    )
    assert "********" in str(err)


def test_errors_name_the_endpoint(start_loopback: Any) -> None:
    lb: Loopback = start_loopback(MiniBackend())
    lb.inject(Fault("terminating", node="SSO02", script="Get-NodeFacts"))
    r = remote(lb)
    with pytest.raises(EssoError) as err:
        r.run("SSO02", contracts.GET_NODE_FACTS, FACTS)
    assert f"http://127.0.0.1:{lb.port('SSO02')}/wsman" in str(err.value)
