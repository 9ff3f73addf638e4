"""Issue 13, low finding L1: with the root logger at DEBUG, a connection writes no NTLM token and no password.

The real client (pypsrp, pyspnego, requests, urllib3) logs on onto the loopback WinRM endpoint with NTLM over HTTP,
every record at every logger is captured, and the log is searched for NTLM messages (base64 ``NTLMSSP\\0``, the
NetNTLMv2 response an offline guess needs), HTTP authentication headers, and the password in every encoding.
The control test runs the same connection with the libraries' loggers left as they were before the fix and finds
the tokens, so the scan can fail.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from provider import contracts
from provider.remote.psrp import TRANSPORT_LOGGERS, close_pools, quiet_transport_loggers
from provider.remote.psrp import config as psrp_config
from tests.support.loopback import FakeBackend, Loopback
from tests.support.secrets_scan import find_secret
from tests.transport.kit import PASSWORD, USER, node_facts, remote

PARAMS = contracts.GetNodeFactsParams(service_account="CONTOSO\\svc-entsso", admin_group="CONTOSO\\SSO Administrators")
# base64 of "NTLMSSP\0" (every NTLM message starts with it), hex of the same, and the HTTP auth headers' schemes
TOKEN = re.compile(r"TlRMTVNTUA|4e544c4d53535000|(Negotiate|NTLM|Kerberos|CredSSP) [A-Za-z0-9+/=]{16,}", re.I)


@pytest.fixture
def library_levels() -> Iterator[None]:
    """Restore the transport loggers' levels after a test changes them."""
    saved = {name: logging.getLogger(name).level for name in TRANSPORT_LOGGERS}
    close_pools()
    yield
    close_pools()
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def _debug_log_of_a_connection(caplog: pytest.LogCaptureFixture) -> str:
    """Every record (logger name and message) of one NTLM logon and one script, with the root logger at DEBUG."""
    caplog.set_level(logging.DEBUG)
    backend = FakeBackend(answer=lambda node, script, params: node_facts(node))
    with Loopback(backend, ["SSO01"], tls=None, users={USER: PASSWORD}) as lb:
        assert remote(lb).run("SSO01", contracts.GET_NODE_FACTS, PARAMS).computer_name == "SSO01"
    return "\n".join(f"{r.name}: {r.getMessage()}" for r in caplog.records)


@pytest.mark.timeout(60)
def test_debug_logging_writes_no_ntlm_token_and_no_password(
    caplog: pytest.LogCaptureFixture, library_levels: None
) -> None:
    for name in TRANSPORT_LOGGERS:  # as a user's logging.config could leave them: following the root's DEBUG
        logging.getLogger(name).setLevel(logging.NOTSET)
    log = _debug_log_of_a_connection(caplog)
    token = TOKEN.search(log)
    assert token is None, f"a token in the DEBUG log: {log[max(0, token.start() - 80) : token.end() + 40]!r}"
    assert find_secret(log, PASSWORD) == []
    assert not [r for r in caplog.records if r.name.split(".")[0] in TRANSPORT_LOGGERS and r.levelno < logging.INFO]


@pytest.mark.timeout(60)
def test_without_the_quiet_loggers_the_same_connection_logs_the_ntlm_tokens(
    caplog: pytest.LogCaptureFixture, library_levels: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the defect the review reproduced (spnego's "NTLM step output"), found by the same scan."""
    monkeypatch.setattr(psrp_config, "quiet_transport_loggers", lambda: None)
    for name in TRANSPORT_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    log = _debug_log_of_a_connection(caplog)
    assert TOKEN.search(log) is not None
    assert "spnego" in log


def test_an_operators_higher_level_is_kept(library_levels: None) -> None:
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    logging.getLogger("spnego").setLevel(logging.DEBUG)
    quiet_transport_loggers()
    assert logging.getLogger("urllib3").level == logging.ERROR
    assert logging.getLogger("spnego").level == logging.INFO
    assert logging.getLogger("spnego._ntlm").getEffectiveLevel() == logging.INFO
