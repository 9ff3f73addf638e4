"""Issue 13, M6 over the real client: pypsrp against the loopback WinRM endpoint, a node that answers big.

The limit is applied where PSRP output is parsed (``parse_result``, called by ``PsrpRemote`` and again by
``Remote.run``), so an oversized answer is an ESSO error naming the node, not a model full of megabytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from provider import contracts
from provider.errors import EssoError
from provider.remote.psrp import close_pools
from tests.support.loopback import FakeBackend, Loopback
from tests.transport.kit import PASSWORD, USER, node_facts, remote

PARAMS = contracts.GetNodeFactsParams(service_account="CONTOSO\\svc-entsso", admin_group="CONTOSO\\SSO Administrators")


@pytest.fixture
def pools() -> Iterator[None]:
    close_pools()
    yield
    close_pools()


@pytest.mark.timeout(60)
def test_a_two_megabyte_node_fact_is_refused_over_psrp(pools: None) -> None:
    def answer(node: str, script: str, params: dict[str, Any]) -> dict[str, Any]:
        return node_facts(node, computerName="A" * 2_000_000)

    with Loopback(FakeBackend(answer=answer), ["SSO01"], tls=None, users={USER: PASSWORD}) as lb:
        r = remote(lb)
        with pytest.raises(EssoError) as err:
            r.run("SSO01", contracts.GET_NODE_FACTS, PARAMS)
    # PsrpRemote re-raises a parse failure as ESSO-037 naming the endpoint; the detail is parse_result's.
    assert err.value.code in ("ESSO-081", "ESSO-037") and err.value.node == "SSO01"
    assert "more than 1048576 characters" in err.value.detail
    assert "A" * 100 not in str(err.value)


@pytest.mark.timeout(60)
def test_an_ordinary_answer_passes_over_psrp(pools: None) -> None:
    with Loopback(
        FakeBackend(answer=lambda node, script, params: node_facts(node)), ["SSO01"], tls=None, users={USER: PASSWORD}
    ) as lb:
        assert remote(lb).run("SSO01", contracts.GET_NODE_FACTS, PARAMS).computer_name == "SSO01"
