"""Issue 13, M3: no silent transport downgrade.

The review's reproductions (``r08_transport.py``, ``r14_silent_downgrade_preview.py``): NTLM and CredSSP over HTTP,
Basic and CredSSP with certificate validation off were accepted with no warning, and ``pulumi preview --diff``
showed nothing. Now: Basic and CredSSP need a validated certificate; every weakened default needs
``transport.acceptWeakerTransport``; every run warns; the acknowledgement is a recorded-only input of every
resource, so preview shows an update (never a replacement, never a remote call).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.clustered_master_secret import ClusteredMasterSecret, ProgramSecrets
from provider.config.problems import SpecError
from provider.remote.psrp import config as psrp_config
from provider.remote.simulator import Simulator
from provider.spec import ClusterSpec, TransportSection
from tests.support.engine_program import run_under_mocks
from tests.support.procedure import demo_spec
from tests.support.replacement import Stack

HTTPS_VALIDATED = {"ssl": True, "certValidation": True}


@pytest.mark.parametrize(
    ("transport", "key", "fix"),
    [
        pytest.param(
            {"auth": "ntlm", "ssl": False}, "acceptWeakerTransport", "acceptWeakerTransport: [http]", id="ntlm-http"
        ),
        pytest.param(
            {"auth": "credssp", "ssl": False, "acceptWeakerTransport": ["http"]}, "auth", "ssl: true", id="credssp-http"
        ),
        pytest.param(
            {"auth": "basic", "certValidation": False, "acceptWeakerTransport": ["certValidation"]},
            "auth",
            "certValidation: true",
            id="basic-https-unvalidated",
        ),
        pytest.param(
            {"auth": "credssp", "certValidation": False, "acceptWeakerTransport": ["certValidation"]},
            "auth",
            "certValidation: true",
            id="credssp-https-unvalidated",
        ),
        pytest.param(
            {"auth": "ntlm", "certValidation": False},
            "acceptWeakerTransport",
            "acceptWeakerTransport: [certValidation]",
            id="ntlm-https-unvalidated",
        ),
        pytest.param(
            {"encryption": "never"}, "acceptWeakerTransport", "acceptWeakerTransport: [encryption]", id="never"
        ),
        pytest.param(
            {"auth": "ntlm", "ssl": False, "certValidation": False, "acceptWeakerTransport": ["http"]},
            "acceptWeakerTransport",
            "acceptWeakerTransport: [http, certValidation]",
            id="partly-acknowledged",
        ),
        pytest.param({"acceptWeakerTransport": ["http"]}, "acceptWeakerTransport", "do not weaken", id="stale"),
        pytest.param(
            {"auth": "ntlm", "ssl": False, "acceptWeakerTransport": ["http", "http"]},
            "acceptWeakerTransport",
            "twice",
            id="twice",
        ),
    ],
)
def test_a_downgrade_is_refused_offline_naming_the_key_and_the_fix(
    tmp_path: Path, transport: dict[str, Any], key: str, fix: str
) -> None:
    spec_transport = {"auth": "negotiate", "secondHop": "none", **transport}
    with pytest.raises(SpecError) as err:
        demo_spec(tmp_path, transport=spec_transport)
    text = str(err.value)
    assert f"transport.{key}:" in text and fix in text, text


@pytest.mark.parametrize(
    "transport",
    [
        pytest.param({"auth": "ntlm", "ssl": False, "acceptWeakerTransport": ["http"]}, id="ntlm-http"),
        pytest.param(
            {"certValidation": False, "acceptWeakerTransport": ["certValidation"]}, id="negotiate-unvalidated"
        ),
        pytest.param({"encryption": "never", "acceptWeakerTransport": ["encryption"]}, id="never-over-https"),
        pytest.param({"auth": "credssp", "secondHop": "credssp", **HTTPS_VALIDATED}, id="credssp-validated"),
    ],
)
def test_an_acknowledged_weakening_is_accepted(tmp_path: Path, transport: dict[str, Any]) -> None:
    spec = demo_spec(tmp_path, transport={"auth": "negotiate", "secondHop": "none", **transport})
    assert list(spec.transport.accept_weaker_transport) == transport.get("acceptWeakerTransport", [])


def _warnings(spec: ClusterSpec, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the program warns (``pulumi.log.warn``) when it builds the component for ``spec``."""
    seen: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: seen.append(message))

    def program() -> None:
        secrets = ProgramSecrets(pulumi.Output.secret("Svc-Pa55-word!"), pulumi.Output.secret("Bak-Pa55-word!"))
        ClusteredMasterSecret("demo", spec, secrets)

    run_under_mocks(program)
    return seen


def test_every_run_warns_while_the_transport_is_weakened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weak = demo_spec(tmp_path, transport={"encryption": "never", "acceptWeakerTransport": ["encryption"]})
    warned = _warnings(weak, monkeypatch)
    assert len(warned) == 1
    assert "transport.acceptWeakerTransport" in warned[0] and "encryption is never" in warned[0]
    assert _warnings(demo_spec(tmp_path), monkeypatch) == []


def test_the_provider_warns_on_stderr_once_per_process(capsys: pytest.CaptureFixture[str]) -> None:
    psrp_config._WARNED.clear()
    weak = TransportSection(auth="ntlm", ssl=False, accept_weaker_transport=["http"])
    assert psrp_config.warn_weaker_transport(weak) is True
    assert psrp_config.warn_weaker_transport(weak) is False
    assert psrp_config.warn_weaker_transport(TransportSection()) is False
    err = capsys.readouterr().err
    assert err.count("warning: ESSO transport:") == 1 and "transport.ssl is false" in err


def _calls(tmp_path: Path) -> dict[str, Any]:
    return dict(Simulator(tmp_path / "world.json").load().calls)


def test_preview_shows_the_acknowledgement_as_an_update_never_a_replacement_or_a_remote_call(tmp_path: Path) -> None:
    stack = Stack()
    stack.up(demo_spec(tmp_path))
    weak = demo_spec(tmp_path, transport={"encryption": "never", "acceptWeakerTransport": ["encryption"]})

    calls = _calls(tmp_path)
    plan = stack.preview(weak)
    assert _calls(tmp_path) == calls, "preview must not reach any node"
    assert {e.op for e in plan} == {"update"} and not any(e.replaces for e in plan)

    events = stack.up(weak)
    assert _calls(tmp_path) == calls, "recording the acknowledgement needs no remote call"
    assert all([s["step"] for s in e.steps] == ["record-settings"] for e in events), events
    assert {tuple(stack.outputs(e.name)["acceptWeakerTransport"]) for e in events} == {("encryption",)}

    assert {e.op for e in stack.preview(weak)} == {"same"}
    assert {e.op for e in stack.preview(demo_spec(tmp_path))} == {"update"}  # going back shows too


def test_state_written_before_the_key_existed_shows_no_change(tmp_path: Path) -> None:
    stack = Stack()
    spec = demo_spec(tmp_path)
    stack.up(spec)
    for resource in stack.state.values():
        resource.outputs.pop("acceptWeakerTransport")
        resource.inputs.pop("acceptWeakerTransport")
    assert {e.op for e in stack.preview(spec)} == {"same"}
