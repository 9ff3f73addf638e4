"""The deadlines a stack sets (issue 11 point 2): Configuration.exe's timeout and per-script overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from provider import contracts
from provider.remote.psrp import PsrpRemote
from provider.remote.psrp.deadlines import deadline_for
from provider.spec import TransportSection
from tests.support.procedure import demo_spec


def _remote(tmp_path: Path, **transport: object) -> PsrpRemote:
    spec = demo_spec(tmp_path).model_copy(
        update={"transport": TransportSection.model_validate(transport), "winrm_password": SecretStr("Winrm-Pass-1!")}
    )
    return PsrpRemote.from_spec(spec)


def test_configuration_exe_gets_its_timeout_plus_time_to_report(tmp_path: Path) -> None:
    remote = _remote(tmp_path, configurationTimeoutMinutes=45)
    # the script kills Configuration.exe after 45 minutes and keeps its log (ESSO-027) before the transport gives up
    assert deadline_for(contracts.JOIN_SSO_SYSTEM, remote.deadlines) == 45 * 60 + 300
    assert deadline_for(contracts.INSTALL_SSO_SYSTEM, remote.deadlines) == 45 * 60 + 300
    assert deadline_for(contracts.GET_NODE_FACTS, remote.deadlines) == 120


def test_a_stack_overrides_a_named_script(tmp_path: Path) -> None:
    remote = _remote(tmp_path, scriptDeadlines={"Move-SsoRole": 1800})
    assert deadline_for(contracts.MOVE_SSO_ROLE, remote.deadlines) == 1800
    assert deadline_for(contracts.RESTART_SSO_CLUSTER_RESOURCE, remote.deadlines) == 900


def test_an_unknown_script_or_a_bad_value_is_refused_offline() -> None:
    with pytest.raises(ValidationError) as err:
        TransportSection.model_validate({"scriptDeadlines": {"Move-SSORole": 60}})
    assert "scriptDeadlines" in str(err.value) and "Move-SsoRole" in str(err.value)
    with pytest.raises(ValidationError):
        TransportSection.model_validate({"configurationTimeoutMinutes": 0})
