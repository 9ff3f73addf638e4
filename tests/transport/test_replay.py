"""Recorded responses of real Windows WinRM servers, replayed to the unmodified pypsrp client under PsrpRemote.

Issue 11 point 1. The recordings are pypsrp's (tests/data/winrm/, MIT): Server 2016 for most PSRP exchanges,
Server 2019 for the file-copy ones, a 2025 preview for Signal. ``replay.ReplayServer`` rewrites only the ids
that tie a response to its request; a response changed in any other way is ``derived`` and says how, and the
tests below mark those scenarios with ``DERIVED``. Every scenario ends with every step served, in order.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr

from provider import contracts
from provider.errors import EssoError
from provider.remote.base import TransientRemoteError
from provider.remote.psrp import PsrpRemote, close_pools
from provider.spec import TransportSection
from tests.support.certs import TlsFiles
from tests.transport import replay as rp
from tests.transport.kit import BACKUP_PASSWORD, PASSWORD, node_facts

FACTS = contracts.GetNodeFactsParams(service_account="CONTOSO\\svc-entsso", admin_group="CONTOSO\\SSO Administrators")
DERIVED = pytest.mark.derived  # a scenario that serves at least one derived (edited) response
Start = Callable[[list[rp.Step]], rp.ReplayServer]


@pytest.fixture
def replay(tls: TlsFiles) -> Iterator[Start]:
    servers: list[rp.ReplayServer] = []

    def start(steps: list[rp.Step]) -> rp.ReplayServer:
        server = rp.ReplayServer(steps, tls, PASSWORD)
        servers.append(server)
        return server

    yield start
    close_pools()
    for server in servers:
        server.stop()


def _remote(
    server: rp.ReplayServer, tls: TlsFiles, *, password: str = PASSWORD, deadlines: dict[str, float] | None = None
) -> PsrpRemote:
    t = TransportSection(
        auth="basic",
        ssl=True,
        ca_bundle=str(tls.ca_pem),
        connect_timeout=2.0,
        read_timeout=4.0,
        operation_timeout=1.0,
        retries=2,
        backoff=0.05,
    )
    return PsrpRemote(
        t, username=rp.ReplayServer.USER, password=SecretStr(password), resolver=server.resolver, deadlines=deadlines
    )


def _all_served(server: rp.ReplayServer) -> None:
    assert server.errors == []
    assert server.steps == [], [s.source for s in server.steps]


def _facts_call() -> list[rp.Step]:
    """Command (real CommandResponse), the contract's result (derived), Signal (real)."""
    return [rp.recorded("test_psrp_error_failed", 3), *rp.pipeline_result(node_facts("SSO01")), rp.signal()]


@DERIVED
def test_a_real_session_runs_a_contract_script(replay: Start, tls: TlsFiles) -> None:
    server = replay([*rp.session_open(), *_facts_call()])
    facts = _remote(server, tls).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert facts.computer_name == "SSO01" and facts.entsso.start_type == "Manual"
    _all_served(server)
    real = [s.source for s in server.served if s.derived is None]
    assert real[:4] == [f"test_psrp_open_runspace[{i}]" for i in (0, 1, 2)] + ["test_psrp_error_failed[3]"]
    assert [s.derived for s in server.served if s.derived]  # the result is derived, and says so


@pytest.mark.parametrize(
    ("name", "index", "code", "needles", "once"),
    [
        (
            "test_client_execute_ps_failure",
            4,
            "ESSO-035",
            ["'Get-ServiceTypo' is not recognized", "ObjectNotFound"],
            "",
        ),
        (
            "test_client_fetch_file_fail_missing",
            4,
            "ESSO-035",
            [],
            "The path at 'C:\\fakefile.txt' does not exist",
        ),
        ("test_client_copy_file_failure", 5, "ESSO-035", ["\r\nActual: 32d10c7b"], "Transport failure, hash mismatch"),
        ("test_psrp_error_failed", 4, "ESSO-035", ["terminating error: error"], ""),
        ("test_psrp_stream_output_invocation", 4, "ESSO-036", ["1 non-terminating error(s)"], ""),
        ("test_psrp_with_jea_configuration", 7, "ESSO-035", ["no-language mode", "1 earlier error(s)"], ""),
    ],
)
def test_each_recorded_error_kind_gets_its_id(
    replay: Start, tls: TlsFiles, name: str, index: int, code: str, needles: list[str], once: str
) -> None:
    steps = [*rp.session_open(), rp.recorded("test_psrp_error_failed", 3), rp.recorded(name, index), rp.signal()]
    server = replay(steps)
    with pytest.raises(EssoError) as err:
        _remote(server, tls).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert err.value.code == code, str(err.value)
    for needle in needles:
        assert needle in str(err.value)
    if once:  # a real throw fills message, target and error id with the text: it is shown once
        assert str(err.value).count(once) == 1, str(err.value)
    _all_served(server)


@DERIVED
def test_a_thrown_esso_refusal_keeps_its_id(replay: Start, tls: TlsFiles) -> None:
    def refuse(m: rp.Message) -> rp.Message:
        m.data = m.data.replace(
            b"The path at 'C:\\fakefile.txt' does not exist", b"ESSO-011 the role is owned by SSO02"
        )
        return m

    edit = "the thrown text replaced by a script's ESSO-011 refusal"
    received = rp.edit_messages("test_client_fetch_file_fail_missing", 4, edit, refuse)
    server = replay([*rp.session_open(), rp.recorded("test_psrp_error_failed", 3), received, rp.signal()])
    with pytest.raises(EssoError) as err:
        _remote(server, tls).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert err.value.code == "ESSO-011" and "owned by SSO02" in str(err.value)
    _all_served(server)


@DERIVED
def test_recorded_timeout_faults_during_a_pipeline_are_polled_through(replay: Start, tls: TlsFiles) -> None:
    timeouts = [rp.recorded("test_psrp_long_running_cmdlet", 4), rp.recorded("test_psrp_long_running_cmdlet", 5)]
    steps = [*rp.session_open(), rp.recorded("test_psrp_error_failed", 3), *timeouts]
    server = replay([*steps, *rp.pipeline_result(node_facts("SSO01")), rp.signal()])
    assert _remote(server, tls).run("SSO01", contracts.GET_NODE_FACTS, FACTS).computer_name == "SSO01"
    _all_served(server)
    assert sum(s.source.startswith("test_psrp_long_running_cmdlet") for s in server.served) == 2


def test_endless_recorded_timeout_faults_end_at_the_deadline(replay: Start, tls: TlsFiles) -> None:
    # A real node sends this fault after every OperationTimeout for as long as the script runs.
    endless = rp.recorded("test_psrp_long_running_cmdlet", 4, times=10**6)
    endless.delay = 0.2
    server = replay([*rp.session_open(), rp.recorded("test_psrp_error_failed", 3), endless])
    with pytest.raises(EssoError) as err:
        _remote(server, tls, deadlines={"Get-NodeFacts": 1.5}).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert err.value.code == "ESSO-060" and "may still be running" in str(err.value)
    assert sum(s is endless for s in server.served) >= 4
    assert server.errors == []


@DERIVED
def test_a_timeout_while_opening_the_pool_is_transient_and_a_read_is_retried(replay: Start, tls: TlsFiles) -> None:
    timed_out = rp.recorded("test_psrp_long_running_cmdlet", 4)  # the real w:TimedOut, on the pool's first Receive
    server = replay([rp.recorded("test_psrp_open_runspace", 0), timed_out, *rp.session_open(), *_facts_call()])
    assert _remote(server, tls).run("SSO01", contracts.GET_NODE_FACTS, FACTS).computer_name == "SSO01"
    _all_served(server)
    assert [s.action for s in server.served].count("Create") == 2


def test_a_timeout_while_opening_the_pool_does_not_resend_a_change(replay: Start, tls: TlsFiles) -> None:
    server = replay([rp.recorded("test_psrp_open_runspace", 0), rp.recorded("test_psrp_long_running_cmdlet", 4)])
    with pytest.raises(TransientRemoteError) as err:
        _remote(server, tls).run(
            "SSO01", contracts.SET_ENTSSO_START_MODE, contracts.StartModeParams(start_mode="Manual")
        )
    assert err.value.code == "ESSO-033" and err.value.may_have_run is False
    assert "Command" not in [s.action for s in server.served]
    _all_served(server)


@DERIVED
def test_a_lost_shell_is_replaced_and_the_script_sent_once(replay: Start, tls: TlsFiles) -> None:
    gone = rp.recorded("test_psrp_receive_failure", 3)  # the real w:InvalidSelectors fault
    gone.action, gone.derived = "Command", "the recorded fault of a Receive served for a Command"
    server = replay([*rp.session_open(), *_facts_call(), gone, *rp.session_open(), *_facts_call()])
    r = _remote(server, tls)
    assert r.run("SSO01", contracts.GET_NODE_FACTS, FACTS).computer_name == "SSO01"
    assert r.run("SSO01", contracts.GET_NODE_FACTS, FACTS).computer_name == "SSO01"
    _all_served(server)
    assert [s.action for s in server.served].count("Create") == 2


@DERIVED
def test_the_key_exchange_carries_a_secure_string_the_node_can_decrypt(replay: Start, tls: TlsFiles) -> None:
    result = {"changed": True, "before": None, "after": {"file": "C:\\SSOSecret.bak", "sha256": "0" * 64, "msid": "m"}}
    steps = [*rp.session_open(), *rp.key_exchange(), rp.recorded("test_psrp_error_failed", 3)]
    server = replay([*steps, *rp.pipeline_result(result), rp.signal()])
    params = contracts.BackupParams(
        backup_file="C:\\SSOSecret.bak", backup_password=SecretStr(BACKUP_PASSWORD), reminder="r", overwrite=True
    )
    assert _remote(server, tls).run("SSO01", contracts.BACKUP_MASTER_SECRET, params).changed is True
    _all_served(server)
    assert server.secure_strings() == [BACKUP_PASSWORD]
    assert all(BACKUP_PASSWORD not in request for request in server.requests)  # only as <SS> cipher text


def test_real_output_fragmented_over_three_receives_is_reassembled(replay: Start, tls: TlsFiles) -> None:
    receives = [rp.recorded("test_client_fetch_file", i) for i in (4, 5, 6)]  # 12 x 32 KiB fragments, Server 2019
    server = replay([*rp.session_open(), rp.recorded("test_psrp_error_failed", 3), *receives, rp.signal()])
    with pytest.raises(EssoError) as err:
        _remote(server, tls).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert err.value.code == "ESSO-037" and "emitted 2 object(s) (str, str)" in str(err.value)
    _all_served(server)


@DERIVED
def test_a_large_result_in_32_kib_fragments_arrives_intact(replay: Start, tls: TlsFiles) -> None:
    data = bytes(range(256)) * 440  # ~110 KB: ~150 KB of base64
    chunk = {
        "dataBase64": base64.b64encode(data).decode(),
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    results = rp.pipeline_result(chunk, per_receive=3)
    assert len(results) >= 2
    server = replay([*rp.session_open(), rp.recorded("test_psrp_error_failed", 3), *results, rp.signal()])
    got = _remote(server, tls).run(
        "SSO01", contracts.READ_FILE_CHUNK, contracts.ReadFileChunkParams(path="C:\\f", offset=0, length=len(data))
    )
    assert base64.b64decode(got.data_base64) == data
    _all_served(server)


@DERIVED
@pytest.mark.parametrize(
    ("code", "sender"), [("2147942405", False), ("5", True)], ids=["w:InternalError-0x80070005", "w:AccessDenied-5"]
)
def test_access_denied_on_create_is_esso_061(replay: Start, tls: TlsFiles, code: str, sender: bool) -> None:
    def deny(body: str) -> str:
        body = body.replace('Code="2147942402"', f'Code="{code}"').replace(
            "The system cannot find the file specified.", "Access is denied."
        )
        return (
            body.replace(
                "<s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:InternalError",
                "<s:Value>s:Sender</s:Value><s:Subcode><s:Value>w:AccessDenied",
            )
            if sender
            else body
        )

    denied = rp.derived("test_winrs_no_cmd_shell", 1, f"fault code -> {code}, text -> Access is denied.", deny)
    denied.action = "Create"
    server = replay([denied])
    with pytest.raises(EssoError) as err:
        _remote(server, tls).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert err.value.code == "ESSO-061" and "Access is denied." in str(err.value)
    _all_served(server)


@DERIVED
def test_http_413_is_esso_034_naming_the_envelope_quota(replay: Start, tls: TlsFiles) -> None:
    too_large = rp.Step("Command", "", "no recording", 413, derived="HTTP 413, empty body (ansible.windows#391, #620)")
    server = replay([*rp.session_open(), too_large])
    with pytest.raises(EssoError) as err:
        _remote(server, tls).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert err.value.code == "ESSO-034" and "HTTP 413" in str(err.value) and "MaxEnvelopeSizekb" in str(err.value)
    assert not isinstance(err.value, TransientRemoteError)
    _all_served(server)


def test_a_wrong_password_is_esso_030(replay: Start, tls: TlsFiles) -> None:
    server = replay([])
    with pytest.raises(EssoError) as err:
        _remote(server, tls, password="Wrong-" + PASSWORD).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert err.value.code == "ESSO-030"


@pytest.mark.parametrize(
    ("name", "index", "needle"),
    [
        ("test_psrp_is_alive_other_wsman_error", 3, "0x8033800F"),
        ("test_winrs_no_cmd_shell", 1, "0x80070002: The system cannot find the file specified."),
    ],
)
def test_other_recorded_faults_are_esso_034_with_code_and_reason(
    replay: Start, tls: TlsFiles, name: str, index: int, needle: str
) -> None:
    fault = rp.recorded(name, index)
    fault.action = "Command"  # the recorded fault, answered to the pipeline's Command
    server = replay([*rp.session_open(), fault])
    with pytest.raises(EssoError) as err:
        _remote(server, tls).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert err.value.code == "ESSO-034" and needle in str(err.value)
    _all_served(server)
