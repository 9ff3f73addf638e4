"""The loopback answers as the recorded Windows servers do, and the transport maps what they send.

Issue 11 points 3 (access denied), 6 (ESSO-035 shows a thrown text once) and 7 (faults with subcodes and
xml:lang, 32 KiB fragments one per rsp:Stream, the first-use progress record, the BOM, ExitCode, and
w:InvalidSelectors for an unknown CommandId). The shapes come from tests/data/winrm/ (pypsrp's recordings).
"""

from __future__ import annotations

import base64
import struct
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from provider import contracts
from provider.errors import EssoError
from tests.support.loopback import FakeBackend, Fault, access_denied
from tests.support.loopback_recorder import Exchange
from tests.support.loopback_wire import NS
from tests.transport.kit import USER, node_facts, remote

FACTS = contracts.GetNodeFactsParams(service_account="CONTOSO\\svc-entsso", admin_group="CONTOSO\\SSO Administrators")
PROGRESS_RECORD = 0x00041010
PIPELINE_STATE = 0x00041006
PIPELINE_OUTPUT = 0x00041004
BOM = b"\xef\xbb\xbf"


def _messages(fragments: list[bytes]) -> list[tuple[int, bytes]]:
    """PSRP fragments (MS-PSRP 2.2.4) -> (message type, data) per complete message, in order."""
    partial: dict[int, bytes] = {}
    out: list[tuple[int, bytes]] = []
    for fragment in fragments:
        object_id, _fragment_id, flags, length = struct.unpack(">QQBI", fragment[:21])
        partial[object_id] = partial.get(object_id, b"") + fragment[21 : 21 + length]
        if flags & 0x2:  # end fragment
            message = partial.pop(object_id)
            out.append((struct.unpack("<I", message[4:8])[0], message[40:]))
    return out


def _streams(exchange: Exchange) -> list[bytes]:
    body = ET.fromstring(exchange.soap_response)  # noqa: S314 - the loopback's own answer
    return [base64.b64decode(s.text or "") for s in body.iter(f"{{{NS['rsp']}}}Stream")]


def test_a_pipeline_starts_with_the_first_use_progress_record_and_clixml_has_a_bom(start_loopback: Any) -> None:
    lb = start_loopback(FakeBackend(lambda node, script, params: node_facts(node)))
    remote(lb).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    receives = [e for e in lb.recorder.requests(script="Get-NodeFacts", action="Receive") if e.status == 200]
    messages = _messages([f for e in receives for f in _streams(e)])
    kinds = [kind for kind, _ in messages]
    assert kinds[0] == PROGRESS_RECORD and b"Preparing modules for first use." in messages[0][1]
    assert kinds == [PROGRESS_RECORD, PIPELINE_OUTPUT, PIPELINE_STATE]  # no PIPELINE_STATE Running
    assert all(data.startswith(BOM + b"<Obj") for _, data in messages)
    done = ET.fromstring(receives[-1].soap_response)  # noqa: S314
    state = done.find(".//rsp:CommandState", NS)
    assert state is not None and state.attrib["State"].endswith("/Done")
    assert state.findtext("rsp:ExitCode", namespaces=NS) == "0"
    assert done.attrib.get("{http://www.w3.org/XML/1998/namespace}lang") == "en-US"


def test_large_output_comes_in_32_kib_fragments_one_per_stream(start_loopback: Any) -> None:
    big = "x" * 150_000
    lb = start_loopback(FakeBackend(lambda node, script, params: node_facts(node, essoVersion=big)))
    facts = remote(lb).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert facts.esso_version == big
    receives = [e for e in lb.recorder.requests(script="Get-NodeFacts", action="Receive") if e.status == 200]
    fragments = [f for e in receives for f in _streams(e)]
    assert len(fragments) >= 5
    assert all(len(f) <= 32_768 for f in fragments) and max(len(f) for f in fragments) == 32_768
    assert len(receives) >= 2  # the client's envelope holds only some of them per Receive
    for e in receives:
        assert len(e.soap_response) <= e.max_envelope


def test_an_idle_receive_faults_w_timedout_with_subcode_and_language(start_loopback: Any) -> None:
    lb = start_loopback(FakeBackend(lambda node, script, params: node_facts(node)))
    lb.inject(Fault("runs_long", node="SSO01", script="Get-NodeFacts", seconds=1.2))
    remote(lb).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    faults = [e for e in lb.recorder.requests(action="Receive") if e.status == 500]
    assert faults
    text = faults[0].soap_response.decode()
    assert "<s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:TimedOut</s:Value></s:Subcode>" in text
    assert '<s:Text xml:lang="en-US">' in text and 'Code="2150858793"' in text


def test_a_receive_for_an_unknown_command_is_w_invalidselectors(start_loopback: Any) -> None:
    lb = start_loopback(FakeBackend(lambda node, script, params: node_facts(node)))
    remote(lb).run("SSO01", contracts.GET_NODE_FACTS, FACTS)  # leaves the pooled shell open
    service = lb.servers["SSO01"].server.service
    (shell_id,) = service.shells
    soap = (
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:wsa="{NS["wsa"]}" xmlns:wsman="{NS["wsman"]}" xmlns:rsp="{NS["rsp"]}">'
        "<s:Header><wsa:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive</wsa:Action>"
        "<wsa:MessageID>uuid:1</wsa:MessageID><wsman:OperationTimeout>PT1S</wsman:OperationTimeout>"
        f'<wsman:SelectorSet><wsman:Selector Name="ShellId">{shell_id}</wsman:Selector></wsman:SelectorSet>'
        f'</s:Header><s:Body><rsp:Receive><rsp:DesiredStream CommandId="{uuid.uuid4()}">stdout</rsp:DesiredStream>'
        "</rsp:Receive></s:Body></s:Envelope>"
    ).encode()
    status, answer = service.handle(soap, USER, Exchange(node="SSO01", started=0.0))
    assert status == 500
    text = answer.decode()
    assert "<s:Value>s:Sender</s:Value>" in text and "w:InvalidSelectors" in text and 'Code="2150858843"' in text


@pytest.mark.parametrize("hresult", [False, True], ids=["w:AccessDenied-5", "w:InternalError-0x80070005"])
def test_access_denied_is_esso_061_with_its_own_advice(start_loopback: Any, hresult: bool) -> None:
    backend = FakeBackend(lambda node, script, params: node_facts(node))
    lb = start_loopback(backend)
    lb.inject(access_denied("SSO01", hresult=hresult))
    with pytest.raises(EssoError) as err:
        remote(lb).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert err.value.code == "ESSO-061"  # not ESSO-030 (it authenticated) nor ESSO-034 (no quota)
    assert "Access is denied." in str(err.value)
    assert "Remote Management Users" in err.value.fix and "MaxEnvelopeSize" not in err.value.fix
    assert backend.calls == {}
    created = lb.recorder.requests(action="Create")
    assert created and created[0].status == 500
    subcode = "w:InternalError" if hresult else "w:AccessDenied"
    assert f"<s:Subcode><s:Value>{subcode}</s:Value>" in created[0].soap_response.decode()


def test_a_thrown_text_appears_once_in_esso_035(start_loopback: Any) -> None:
    text = "Cannot find the backup file C:\\Temp\\SSOSecret.bak on this node."

    def answer(node: str, script: str, params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError(text)  # the loopback throws it as PowerShell does: message = target = error id

    lb = start_loopback(FakeBackend(answer))
    with pytest.raises(EssoError) as err:
        remote(lb).run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert err.value.code == "ESSO-035"
    assert str(err.value).count(text) == 1, str(err.value)
    assert "target" not in err.value.detail and "id " not in err.value.detail  # they would only repeat it
