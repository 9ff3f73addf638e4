"""Issue 5, scenario 9: sentinel passwords never come back out of the host, the state, its stderr or errors.

Through the host as a subprocess, as the engine runs it. What is scanned, in every encoding
``find_secret`` knows (plain, UTF-16LE, base64 at any alignment, XML/JSON/CLIXML escaped):

* every gRPC response of every operation (protobuf bytes and their JSON form), and the details of every
  failed call — ``CheckResponse.inputs`` included: ``check()`` turns each password into a salted
  fingerprint, which the engine re-marks secret (``annotateSecrets``, same key);
* the state file after every operation;
* the host's stderr;
* the messages and details of the errors the engine raised;
* the simulated world's file.

And the scan is proven on the same recordings: it finds the sentinels in the requests the engine sends
(where they must be) and a planted one in every form a leak would take.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest
from google.protobuf import json_format

from provider.remote.simulator import world_for
from provider.remote.world import World, secret_digest
from provider.resources.base import is_fingerprint
from provider.spec import load_spec
from tests.engine.world import SECRETS, demo_stack, new_engine, sim
from tests.support.engine import Deployment, EngineError, Program, StackConfig, learn
from tests.support.engine_wire import Secret, from_struct
from tests.support.secrets_scan import find_secret

WRONG = "Svc-Wrong-Sentinel-51c0!"
SENTINELS = (*SECRETS.values(), WRONG)
SECRET_INPUTS = {"serviceAccountPassword", "backupPassword"}


def _scan(label: str, haystack: bytes | str) -> list[str]:
    return [f"{label}: {s[:4]}… as {form}" for s in SENTINELS for form in find_secret(haystack, s)]


def _response_texts(deployment: Deployment) -> list[tuple[str, bytes]]:
    """Every response as it crossed the wire (bytes and JSON), or the details of a failed call."""
    found: list[tuple[str, bytes]] = []
    for call in deployment.calls:
        label = f"{deployment.operation} {call.method} {call.resource}"
        if call.response is None:
            found.append((label + " error", call.details.encode()))
            continue
        found.append((label, call.response.SerializeToString()))
        found.append((label + " json", json_format.MessageToJson(call.response).encode()))
    return found


def test_no_sentinel_leaves_the_host_the_state_or_the_errors(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path, host="subprocess")
    deployments: list[Deployment] = []
    states: list[bytes] = []
    errors: list[str] = []

    def record(deployment: Deployment) -> None:
        deployments.append(deployment)
        states.append(engine.store.raw())

    program = learn(config)
    record(engine.up(program))
    record(engine.up(program))
    record(engine.refresh(config))
    record(engine.preview(program))

    # a provider error while a wrong password is in flight (a fresh stack whose account has another password)
    other = tmp_path / "other"
    wrong = StackConfig.demo(other, {**SECRETS, "serviceAccountPassword": WRONG})
    sim(wrong).seed(_world_whose_account_has_the_real_password(other))
    other_engine = new_engine(other, host="subprocess")
    with pytest.raises(EngineError) as err:
        other_engine.up(learn(wrong))
    assert (err.value.resource, err.value.method) == ("sso-system", "Create")
    assert "ESSO-035" in err.value.summary and "bad password" in err.value.summary
    errors += [str(err.value), err.value.details, err.value.summary]
    assert err.value.deployment is not None
    deployments.append(err.value.deployment)
    states.append(other_engine.store.raw())

    record(engine.destroy(config))

    leaks: list[str] = []
    for deployment in deployments:
        for label, data in _response_texts(deployment):
            leaks += _scan(label, data)
        leaks += _scan(f"{deployment.operation} host stderr", deployment.host_stderr)
    for index, state in enumerate(states):
        leaks += _scan(f"state after operation {index}", state)
    leaks += _scan("errors", "\n".join(errors))
    leaks += _scan("world", config.simulator_state.read_bytes())
    assert leaks == []

    # the Check echo holds fingerprints where the passwords were, and the engine stored them as secrets
    checks = [c for d in deployments for c in d.calls if c.method == "Check" and c.resource == "sso-system"]
    assert checks
    for call in checks:
        echoed = from_struct(call.response.inputs)
        assert all(is_fingerprint(echoed[key]) for key in SECRET_INPUTS)
    assert all(d.host_mode == "subprocess" for d in deployments)


def test_a_check_failure_does_not_echo_the_passwords(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path, host="subprocess")
    program = learn(config)
    system = program.named("sso-system")
    malformed = replace(system, inputs={**system.inputs, "backupReminder": 123})  # a type error elsewhere
    broken = Program(program.config, tuple(malformed if r is system else r for r in program.registrations))
    with pytest.raises(EngineError) as err:
        engine.up(broken)
    assert (err.value.resource, err.value.method) == ("sso-system", "Check")
    assert "backupReminder" in str(err.value)
    assert err.value.deployment is not None
    leaks = [leak for label, data in _response_texts(err.value.deployment) for leak in _scan(label, data)]
    assert leaks == []


def test_the_scan_is_proven_on_the_same_recordings(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path, host="subprocess")
    deployment = engine.up(learn(config))
    # the host must receive the passwords (acceptSecrets false): plain in each Check request's news
    check = next(c for c in deployment.calls if c.method == "Check" and c.resource == "sso-system")
    for secret in SECRETS.values():
        assert "plain" in find_secret(check.request_bytes(), secret)
    # and the whole config at Configure, decrypted and marked secret
    configure = next(c for c in deployment.calls if c.method == "Configure")
    assert from_struct(configure.request.args)["esso-cluster:backupPassword"] == Secret(SECRETS["backupPassword"])
    # the state holds the fingerprints as secrets: decrypted they are there, raw they are not
    system = engine.resource("sso-system")
    assert isinstance(system.inputs["serviceAccountPassword"], Secret)
    assert is_fingerprint(system.plain_outputs["serviceAccountPasswordFingerprint"])
    assert _scan("state", engine.store.raw()) == []
    # planted in a real response, in the encodings a leak would take
    response = next(c for c in deployment.calls if c.method == "Create").response_bytes()
    secret = SECRETS["backupPassword"]
    planted = {
        "plain": response + secret.encode(),
        "utf-16le": response + secret.encode("utf-16-le"),
        "base64(utf-8)": response + base64.b64encode(b"xx" + secret.encode()),
        "base64(utf-16le)": response + base64.b64encode(b"x" + secret.encode("utf-16-le")),
    }
    for form, haystack in planted.items():
        assert form in find_secret(haystack, secret), form
    quoted = 'Q"uo\\te<d>'
    assert "json-escaped" in find_secret(response + json.dumps({"k": quoted}).encode(), quoted)


def _world_whose_account_has_the_real_password(tmp_path: Path) -> World:
    """A fresh demo world in which the service account's password is the real one, not the one sent."""
    world = world_for(load_spec(dict(demo_stack(tmp_path).values)))
    world.domain.users["svc-entsso"].password_digest = secret_digest(SECRETS["serviceAccountPassword"])
    return world
