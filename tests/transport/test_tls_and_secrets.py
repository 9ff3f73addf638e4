"""TLS trust through a CA bundle path; secrets only as SecureString, proven by scanning what was recorded.

The scan covers, in every encoding ``find_secret`` knows (plain, UTF-16LE, base64 of both at any
alignment, XML-, JSON- and CLIXML-escaped):
* over HTTP (NTLM with message encryption): the bytes on the wire;
* over HTTPS (Basic): what the endpoint decrypted, i.e. the TLS plaintext, the SOAP and the PSRP payloads.
A planted plain-text parameter proves the scan finds what it looks for in those very bytes.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from provider import contracts
from provider.errors import EssoError
from provider.remote.base import TransientRemoteError
from tests.support.certs import TlsFiles
from tests.support.loopback import FakeBackend, Loopback
from tests.support.secrets_scan import find_secret
from tests.transport.kit import (
    BACKUP_PASSWORD,
    LOCAL_USER,
    PASSWORD,
    SERVICE_PASSWORD,
    USER,
    bound,
    node_facts,
    remote,
)

FACTS = contracts.GetNodeFactsParams(service_account="CONTOSO\\svc-entsso", admin_group="CONTOSO\\SSO Administrators")
PLANTED = 'Planted-<Secret>&"0042"'


class PlantedParams(contracts.GetNodeFactsParams):
    """A test-only contract mistake: a secret sent as a plain string."""

    planted: str


PLANTED_SCRIPT = contracts.Script("Get-NodeFacts", PlantedParams, contracts.NodeFacts, changes=False)


def _answer(node: str, script: str, params: dict[str, Any]) -> dict[str, Any]:
    if script == "Get-NodeFacts":
        return node_facts(node)
    if script == "Install-SsoSystem":
        return {
            "changed": True,
            "before": None,
            "after": {"server": params["Server"], "database": params["Database"]},
            "msid": "{0F4C3A59-5A43-4D2E-9C7B-6A1B2C3D4E5F}",
            "backupFile": "C:\\SSOSecret.bak",
        }
    return {"changed": True, "before": None, "after": {"file": "C:\\SSOSecret.bak", "sha256": "0" * 64, "msid": "m"}}


def _use_secrets(lb: Loopback, *, user: str = USER, **overrides: Any) -> None:
    r = remote(lb, user=user, second_hop="none", **overrides)
    r.run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    r.run(
        "SSO01",
        contracts.BACKUP_MASTER_SECRET,
        contracts.BackupParams(
            backup_file="C:\\SSOSecret.bak", backup_password=SecretStr(BACKUP_PASSWORD), reminder="r", overwrite=True
        ),
    )


def test_ntlm_over_https_with_a_ca_bundle(start_loopback: Any, tls: TlsFiles) -> None:
    backend = FakeBackend(_answer)
    lb = start_loopback(backend, https=True)
    r = remote(lb, ca_bundle=str(tls.ca_pem))
    assert r.transport.auth == "ntlm" and r.transport.ssl and r.transport.cert_validation
    assert r.run("SSO01", contracts.GET_NODE_FACTS, FACTS).computer_name == "SSO01"
    assert backend.calls == {"SSO01/Get-NodeFacts": 1}
    assert backend.logons == [("SSO01", USER)]


def test_basic_over_https_logs_on_a_local_account(start_loopback: Any, tls: TlsFiles) -> None:
    backend = FakeBackend(_answer)
    lb = start_loopback(backend, https=True, users={LOCAL_USER: PASSWORD})
    r = remote(lb, user=LOCAL_USER, auth="basic", ca_bundle=str(tls.ca_pem))
    assert r.run("SSO01", contracts.GET_NODE_FACTS, FACTS).computer_name == "SSO01"
    assert backend.logons == [("SSO01", LOCAL_USER)]


def test_basic_with_a_domain_account_is_refused_by_the_transport(start_loopback: Any, tls: TlsFiles) -> None:
    lb = start_loopback(FakeBackend(_answer), https=True)
    with pytest.raises(EssoError) as err:
        remote(lb, auth="basic", ca_bundle=str(tls.ca_pem))
    assert err.value.code == "ESSO-040" and "transport.auth" in str(err.value)
    assert "local accounts" in str(err.value) and USER in str(err.value)
    assert lb.recorder.exchanges == []  # refused before anything was sent


def test_the_endpoint_refuses_basic_for_a_domain_account_as_windows_does(start_loopback: Any, tls: TlsFiles) -> None:
    # WinRM answers 401 to Basic with DOMAIN\user even when the password is right (local accounts only).
    lb = start_loopback(FakeBackend(_answer), https=True)
    for user, status in ((USER, 401), ("someone@contoso.com", 401)):
        answer = requests.post(
            f"https://127.0.0.1:{lb.port('SSO01')}/wsman",
            data=b"",
            auth=(user, PASSWORD),
            verify=str(tls.ca_pem),
            timeout=5,
        )
        assert answer.status_code == status, user


def test_the_same_certificate_is_refused_without_the_bundle(start_loopback: Any) -> None:
    lb = start_loopback(FakeBackend(_answer), https=True)
    r = remote(lb)  # validation on (the default), no caBundle
    started = time.monotonic()
    with pytest.raises(EssoError) as err:
        r.run("SSO01", contracts.GET_NODE_FACTS, FACTS)
    assert time.monotonic() - started <= bound(r.transport)
    assert err.value.code == "ESSO-032" and not isinstance(err.value, TransientRemoteError)
    assert "caBundle" in str(err.value) and f"127.0.0.1:{lb.port('SSO01')}" in str(err.value)
    assert all(e.soap_request == b"" for e in lb.recorder.exchanges)  # nothing got past the handshake


def test_ntlm_over_http_encrypts_every_message_and_leaks_no_secret(start_loopback: Any) -> None:
    lb = start_loopback(FakeBackend(_answer))
    _use_secrets(lb)
    soap = [e for e in lb.recorder.exchanges if e.soap_request]
    assert soap and all(e.encrypted for e in soap)  # WinRM message encryption on every SOAP request
    assert all(b"multipart/encrypted" in e.wire_response for e in soap)
    wire = lb.recorder.wire_bytes()
    for secret in (PASSWORD, BACKUP_PASSWORD):
        assert find_secret(wire, secret) == [], secret
    clear = lb.recorder.decrypted_bytes()
    assert find_secret(clear, BACKUP_PASSWORD) == []  # even decrypted, the password is an <SS> cipher text
    assert re.search(rb"<SS[ >]", clear)  # the parameter travelled as a SecureString
    assert lb.recorder.decrypted_secrets == [BACKUP_PASSWORD]  # ... which the node could decrypt


def test_https_basic_decrypted_traffic_holds_no_secure_string_value(start_loopback: Any, tls: TlsFiles) -> None:
    lb = start_loopback(FakeBackend(_answer), https=True, users={LOCAL_USER: PASSWORD})
    _use_secrets(lb, ca_bundle=str(tls.ca_pem), user=LOCAL_USER, auth="basic")
    clear = lb.recorder.decrypted_bytes()
    for secret in (PASSWORD, BACKUP_PASSWORD):
        assert find_secret(clear, secret) == [], secret
    assert lb.recorder.decrypted_secrets == [BACKUP_PASSWORD]
    # Basic itself carries the WinRM password, base64-encoded, inside TLS: the scan sees it in the headers.
    assert find_secret(lb.recorder.wire_bytes(), PASSWORD) == ["base64(utf-8)"]


def test_the_scan_finds_a_planted_secret_in_recorded_traffic(start_loopback: Any, tls: TlsFiles) -> None:
    https = start_loopback(FakeBackend(_answer), ("SSO01",), https=True)
    remote(https, ca_bundle=str(tls.ca_pem)).run(
        "SSO01", PLANTED_SCRIPT, PlantedParams(service_account="a", admin_group="b", planted=PLANTED)
    )
    found = find_secret(https.recorder.decrypted_bytes(), PLANTED)
    assert "xml-escaped" in found and "clixml-escaped" in found

    http = start_loopback(FakeBackend(_answer), ("SSO01",))
    remote(http).run("SSO01", PLANTED_SCRIPT, PlantedParams(service_account="a", admin_group="b", planted=PLANTED))
    assert find_secret(http.recorder.decrypted_bytes(), PLANTED) != []
    assert find_secret(http.recorder.wire_bytes(), PLANTED) == []  # message encryption hid it on the wire


@pytest.mark.parametrize(
    ("form", "encode"),
    [
        ("plain", lambda s: s.encode()),
        ("utf-16le", lambda s: s.encode("utf-16-le")),
        ("base64(utf-8)", lambda s: __import__("base64").b64encode(b"xy" + s.encode())),
        ("base64(utf-16le)", lambda s: __import__("base64").b64encode(b"z" + s.encode("utf-16-le"))),
        ("xml-escaped", lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()),
        ("json-escaped", lambda s: __import__("json").dumps({"k": s}).encode()),
    ],
)
def test_the_scanner_recognises_each_encoding(form: str, encode: Any) -> None:
    secret = SERVICE_PASSWORD + '<&>"'
    assert form in find_secret(b"prefix " + encode(secret) + b" suffix", secret)
    assert find_secret(b"prefix " + encode('Other-Value-123<&>"') + b" suffix", secret) == []
