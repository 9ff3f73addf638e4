"""The seed's whole 2-node procedure through the real pypsrp client and the loopback endpoint.

The simulator's own script-by-script driver (``tests/providers/conftest.py``'s ``Driver``) runs the
procedure twice: in process through ``SimulatorRemote``, and over WinRM through ``PsrpRemote`` against
loopback endpoints that serve the same simulator. Both must leave the same world, call counts, clock
and logon tokens included; and no password may cross the wire or reach the endpoint except as a
SecureString.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from provider.remote import sim_model
from provider.remote.psrp import PsrpRemote
from tests.support.certs import TlsFiles
from tests.support.driver import Driver
from tests.support.loopback import SimulatorBackend
from tests.support.secrets_scan import find_secret
from tests.transport.kit import PASSWORD, USER, transport

MSID = "5c0ffee0-0000-4000-8000-000000000001"


def _world(driver: Driver) -> dict[str, Any]:
    return driver.sim.load().model_dump(mode="json")


@pytest.fixture
def fixed_msid(monkeypatch: pytest.MonkeyPatch) -> None:
    # The one random value of the procedure: both runs must create the same master secret id.
    monkeypatch.setattr(sim_model, "new_msid", lambda: MSID)


def _over_loopback(
    tmp_path: Path, start_loopback: Any, *, https: bool, tls: TlsFiles, nodes: tuple[str, ...] = ("SSO01", "SSO02")
) -> tuple[Driver, Any]:
    driver = Driver(tmp_path / ("https" if https else "http"), nodes)
    lb = start_loopback(SimulatorBackend(driver.state), tuple(driver.nodes), https=https)
    settings: dict[str, Any] = {"read_timeout": 10.0, "operation_timeout": 5.0}
    if https:
        settings["ca_bundle"] = str(tls.ca_pem)
    # The Driver uses only the Remote interface; its attribute is typed for the simulator it was written for.
    driver.remote = PsrpRemote(  # type: ignore[assignment]
        transport(lb, **settings),
        username=USER,
        password=SecretStr(PASSWORD),
        resolver=lb.resolver,
        second_hop=True,  # the simulator behind the endpoint serves SQL Server and the DC itself
    )
    return driver, lb


@pytest.mark.usefixtures("fixed_msid")
@pytest.mark.parametrize("nodes", [("SSO01", "SSO02"), ("SSO01", "SSO02", "SSO03")])
def test_the_procedure_over_ntlm_http_equals_the_in_process_run(
    tmp_path: Path, start_loopback: Any, tls: TlsFiles, nodes: tuple[str, ...]
) -> None:
    local = Driver(tmp_path / "local", nodes)
    local.full()

    wired, lb = _over_loopback(tmp_path, start_loopback, https=False, tls=tls, nodes=nodes)
    wired.full()

    expected, actual = _world(local), _world(wired)
    assert actual["calls"] == expected["calls"]  # the endpoint counted exactly the calls the simulator did
    assert actual == expected
    assert sum(actual["calls"].values()) == len(lb.recorder.operations)  # one pipeline per counted call

    # Every SOAP message travelled encrypted (NTLM message encryption over HTTP) ...
    assert all(e.encrypted for e in lb.recorder.exchanges if e.soap_request)
    wire = lb.recorder.wire_bytes()
    clear = lb.recorder.decrypted_bytes()
    for secret in (PASSWORD, Driver.SERVICE_PW, Driver.BACKUP_PW):
        assert find_secret(wire, secret) == [], secret
    # ... and even decrypted, the passwords are only SecureString cipher text, which the node decrypted.
    for secret in (Driver.SERVICE_PW, Driver.BACKUP_PW):
        assert find_secret(clear, secret) == [], secret
        assert secret in lb.recorder.decrypted_secrets


@pytest.mark.usefixtures("fixed_msid")
def test_the_procedure_over_https_leaks_nothing_to_the_endpoint(
    tmp_path: Path, start_loopback: Any, tls: TlsFiles
) -> None:
    wired, lb = _over_loopback(tmp_path, start_loopback, https=True, tls=tls)
    wired.full()
    clear = lb.recorder.decrypted_bytes()  # TLS plaintext: SOAP and the PSRP payloads
    for secret in (PASSWORD, Driver.SERVICE_PW, Driver.BACKUP_PW):
        assert find_secret(clear, secret) == [], secret
    assert {Driver.SERVICE_PW, Driver.BACKUP_PW} <= set(lb.recorder.decrypted_secrets)


@pytest.mark.usefixtures("fixed_msid")
def test_the_providers_over_the_loopback_equal_pooled_sessions_in_process(
    tmp_path: Path, start_loopback: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The six providers, as `pulumi up` runs them, through ``PsrpRemote.from_spec`` (the factory's path).

    A provider call makes a new Remote, but pypsrp sessions outlive it in the pool registry; the in-process
    baseline models that with ``SimulatorRemote(reuse_sessions=True)``.
    """
    from provider.remote import factory
    from provider.remote.simulator import Simulator, SimulatorRemote
    from provider.spec import ClusterSpec
    from tests.support.procedure import Procedure, demo_spec

    def spec_for(folder: Path) -> ClusterSpec:
        folder.mkdir()
        spec = demo_spec(folder)
        Simulator(folder / "world.json").seed(spec)
        return spec

    local = spec_for(tmp_path / "local")
    monkeypatch.setattr(
        factory,
        "connect",
        lambda spec, project_dir: SimulatorRemote(
            spec.simulator_state, second_hop=True, identity=USER, backoff=0.0, reuse_sessions=True
        ),
    )
    expected_outputs = Procedure(local).up()

    wired = spec_for(tmp_path / "wired")
    lb = start_loopback(SimulatorBackend(Path(str(wired.simulator_state))), tuple(wired.cluster.nodes))
    wired = wired.model_copy(
        update={
            "winrm_password": SecretStr(PASSWORD),
            "transport": transport(lb, read_timeout=10.0, operation_timeout=5.0),
        }
    )
    monkeypatch.setattr(
        factory,
        "connect",
        lambda spec, project_dir: PsrpRemote.from_spec(spec, resolver=lb.resolver, second_hop=True),
    )
    outputs = Procedure(wired).up()

    # The wired run is NTLM over HTTP: every resource records the stack's acknowledgement of it (review M3).
    assert {name: o["acceptWeakerTransport"] for name, o in outputs.items()} == {name: ["http"] for name in outputs}

    def comparable(outs: dict[str, dict[str, Any]], folder: str) -> Any:
        # Timestamps and salted fingerprints differ run to run; the escrow folder is each run's own; only the
        # wired run's transport is weakened (asserted above).
        volatile = {k for o in outs.values() for k in o if k.endswith(("At", "Fingerprint"))} | {
            "acceptWeakerTransport"
        }
        kept = {name: {k: v for k, v in o.items() if k not in volatile} for name, o in outs.items()}
        return json.loads(json.dumps(kept).replace(folder, "<folder>"))

    assert comparable(outputs, str(tmp_path / "wired")) == comparable(expected_outputs, str(tmp_path / "local"))
    expected = Simulator(Path(str(local.simulator_state))).load().model_dump(mode="json")
    actual = Simulator(Path(str(wired.simulator_state))).load().model_dump(mode="json")
    assert actual["calls"] == expected["calls"]
    assert actual == expected
