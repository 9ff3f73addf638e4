"""Results: the one hashtable becomes a dict, PowerShell's null spellings map onto the result model."""

from __future__ import annotations

from typing import Any

from provider import contracts
from provider.remote.psrp import normalise_result
from tests.support.loopback import FakeBackend
from tests.transport.kit import node_facts, remote


def test_empty_string_is_null_only_where_the_model_allows_null() -> None:
    raw = node_facts("SSO01", essoVersion="", ssoConfig="", dtcCid="", computerName="")
    out = normalise_result(contracts.NodeFacts, raw)
    assert out["essoVersion"] is None and out["ssoConfig"] is None and out["dtcCid"] is None
    assert out["entsso"]["account"] is None  # nested model
    assert out["computerName"] == ""  # not optional: left for validation to judge
    contracts.NodeFacts.model_validate(out)


def test_unrolled_arrays_become_lists_again() -> None:
    raw = node_facts("SSO01", ssossMsids=None)
    assert normalise_result(contracts.NodeFacts, raw)["ssossMsids"] == []  # @() unrolls to $null
    raw = node_facts("SSO01", ssossMsids="0f4c3a59")
    assert normalise_result(contracts.NodeFacts, raw)["ssossMsids"] == ["0f4c3a59"]  # @('x') unrolls to 'x'


def test_generic_change_results_are_normalised() -> None:
    raw = {"changed": True, "before": "", "after": {"server": "SQL01", "database": "SSODB"}}
    result = contracts.ChangeResult[contracts.SsoConfigState].model_validate(
        normalise_result(contracts.ChangeResult[contracts.SsoConfigState], raw)
    )
    assert result.before is None and result.after.server == "SQL01"


def test_a_script_result_round_trips_over_the_wire(start_loopback: Any) -> None:
    def answer(node: str, script: str, params: dict[str, Any]) -> dict[str, Any]:
        return node_facts(
            node, essoVersion="", ssossMsids="0f4c3a59", ssoConfig={"server": "SQL01", "database": "SSODB"}
        )

    lb = start_loopback(FakeBackend(answer))
    facts = remote(lb).run(
        "SSO02",
        contracts.GET_NODE_FACTS,
        contracts.GetNodeFactsParams(service_account="CONTOSO\\svc", admin_group="CONTOSO\\SSO Admins"),
    )
    assert facts.esso_version is None
    assert facts.ssoss_msids == ["0f4c3a59"]
    assert facts.sso_config == contracts.SsoConfigState(server="SQL01", database="SSODB")
    assert facts.secret_server_status.flags == 0
