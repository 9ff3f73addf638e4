"""No secret value escapes the providers: not in stderr, log records, steps, outputs, errors or files."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

from provider.errors import EssoError
from provider.remote.simulator import Simulator
from tests.support.procedure import BACKUP_PASSWORD, SERVICE_PASSWORD, Stack, demo_spec
from tests.support.secrets_scan import find_secret

WRONG_BACKUP_PASSWORD = "Wrong-Backup-Sentinel-51c0"
SENTINELS = (SERVICE_PASSWORD, BACKUP_PASSWORD, WRONG_BACKUP_PASSWORD)


def _scan(label: str, haystack: bytes | str) -> list[str]:
    return [f"{label}: {secret[:3]}… as {form}" for secret in SENTINELS for form in find_secret(haystack, secret)]


def test_the_scan_finds_a_planted_secret_in_every_form() -> None:
    secret = SERVICE_PASSWORD
    planted: dict[str, bytes | str] = {
        "plain": f"x {secret} y",
        "utf-16le": b"xx" + secret.encode("utf-16-le") + b"yy",
        "base64(utf-8)": base64.b64encode(b"prefix-" + secret.encode()),
        "base64(utf-16le)": base64.b64encode(b"p" + secret.encode("utf-16-le")),
    }
    for form, haystack in planted.items():
        assert form in find_secret(haystack, secret), form
    quoted = 'Q"uo\\te<d>'
    assert "json-escaped" in find_secret(json.dumps({"k": quoted}), quoted)
    assert "xml-escaped" in find_secret('<a>Q"uo\\te&lt;d&gt;</a>', quoted)
    assert find_secret("nothing to see", secret) == []


def test_a_full_procedure_leaks_no_secret(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    spec = demo_spec(tmp_path, ("SSO01", "SSO02", "SSO03"))
    stack = Stack()
    stack.up(spec)
    outputs = {name: resource.outputs for name, resource in stack.state.items()}
    # an error path: a restore with the wrong backup password must not echo either password (SSO03 lost its
    # secret, and its restore is created again: check(), then create() with the wrong password)
    wrong = demo_spec(tmp_path, ("SSO01", "SSO02", "SSO03"), backupPassword=WRONG_BACKUP_PASSWORD)
    errors: list[str] = []
    with Simulator(tmp_path / "world.json").edit() as world:
        world.nodes["SSO03"].ssoss.clear()
    stack.forget("master-secret-restore-sso03")
    with pytest.raises(EssoError) as err:
        stack.up(wrong, targets={"master-secret-restore-sso03"})
    errors.append(str(err.value))
    errors.append(repr(err.value))
    assert err.value.code == "ESSO-012"

    captured = capfd.readouterr()
    leaks: list[str] = []
    leaks += _scan("stderr", captured.err)
    leaks += _scan("stdout", captured.out)
    leaks += _scan("log", "\n".join(r.getMessage() for r in caplog.records))
    leaks += _scan("outputs", json.dumps(outputs, default=str))
    leaks += _scan("errors", "\n".join(errors))
    for path in tmp_path.rglob("*"):
        if path.is_file():
            leaks += _scan(str(path.relative_to(tmp_path)), path.read_bytes())
    assert leaks == []
    # and the fingerprints are there instead
    assert outputs["sso-system"]["serviceAccountPasswordFingerprint"].startswith("pbkdf2-sha256$")
    assert "serviceAccountPassword" not in outputs["sso-system"]
