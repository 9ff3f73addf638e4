"""The backup password from Secrets Manager: plain or JSON, a SecretStr, and never seen in logs, warnings or errors."""

from __future__ import annotations

import json
import logging
import traceback
from types import SimpleNamespace
from typing import Any, cast

import boto3
import pytest
from pydantic import SecretStr

from provider.backup_password import backup_password_from_secrets_manager
from provider.errors import EssoError
from provider.spec import ClusterSpec
from tests.escrow.conftest import REGION
from tests.support.secrets_scan import find_secret

PASSWORD = "Correct-Horse-7e4b1c!"  # unique enough to grep for in every captured output
SECRET_NAME = "esso/backup-password"


@pytest.fixture
def secrets(aws: None) -> Any:
    return boto3.client("secretsmanager", region_name=REGION)


def assert_never_seen(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], recwarn: pytest.WarningsRecorder
) -> None:
    captured = capsys.readouterr()
    seen = "\n".join(
        [caplog.text, *(r.getMessage() for r in caplog.records), captured.out, captured.err]
        + [str(w.message) for w in recwarn.list]
    )
    assert find_secret(seen, PASSWORD) == []  # plain, JSON-escaped, base64, UTF-16 ...


@pytest.mark.parametrize(
    "secret_string",
    [PASSWORD, json.dumps({"password": PASSWORD}), json.dumps({"username": "CONTOSO\\sso", "password": PASSWORD})],
    ids=["plain", "json", "json-with-other-keys"],
)
def test_reads_plain_and_json_secrets(
    secrets: Any,
    secret_string: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    recwarn: pytest.WarningsRecorder,
) -> None:
    secrets.create_secret(Name=SECRET_NAME, SecretString=secret_string)  # (its own request is logged: set up first)
    caplog.clear()
    caplog.set_level(logging.DEBUG)  # botocore logs response bodies at DEBUG: the value must not be among them

    password = backup_password_from_secrets_manager(SECRET_NAME, REGION)

    assert isinstance(password, SecretStr)
    assert password.get_secret_value() == PASSWORD
    assert PASSWORD not in repr(password)
    assert PASSWORD not in str(password)
    assert SECRET_NAME in caplog.text  # the read itself is logged, by name
    assert_never_seen(caplog, capsys, recwarn)


def test_reads_by_arn_with_the_default_region(secrets: Any) -> None:
    arn = secrets.create_secret(Name=SECRET_NAME, SecretString=PASSWORD)["ARN"]
    assert backup_password_from_secrets_manager(arn, None).get_secret_value() == PASSWORD


@pytest.mark.parametrize("password", ["123456", "{not json", "[1, 2]", '"quoted"', "  spaced  "])
def test_a_plain_password_that_looks_like_json_is_taken_as_is(secrets: Any, password: str) -> None:
    secrets.create_secret(Name=SECRET_NAME, SecretString=password)
    assert backup_password_from_secrets_manager(SECRET_NAME, REGION).get_secret_value() == password


def test_botocore_would_log_the_value_without_the_guard(secrets: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Control: shows why the guard exists (botocore dumps response bodies at DEBUG)."""
    secrets.create_secret(Name=SECRET_NAME, SecretString=PASSWORD)
    caplog.set_level(logging.DEBUG)
    secrets.get_secret_value(SecretId=SECRET_NAME)
    assert PASSWORD in caplog.text
    caplog.clear()
    backup_password_from_secrets_manager(SECRET_NAME, REGION)
    assert PASSWORD not in caplog.text
    secrets.get_secret_value(SecretId=SECRET_NAME)
    assert PASSWORD in caplog.text  # the guard is removed after the call: other logging is untouched


def error_texts(error: EssoError) -> str:
    """Everything an error shows: its text, its formatted traceback, and the locals of our frames in it."""
    texts = [str(error), repr(error), error.detail, *traceback.format_exception(error)]
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith("backup_password.py"):
            texts += [repr(v) for v in tb.tb_frame.f_locals.values()]
        tb = tb.tb_next
    return "\n".join(texts)


@pytest.mark.parametrize(
    ("secret_string", "expected"),
    [
        (json.dumps({"pwd": PASSWORD}), 'without a string "password" key'),
        (json.dumps({"password": 1234, "note": PASSWORD}), 'without a string "password" key'),
        (json.dumps({"password": "", "note": PASSWORD}), "empty password"),
    ],
    ids=["no-password-key", "password-not-a-string", "empty-password"],
)
def test_an_unusable_json_secret_is_refused_without_echoing_it(
    secrets: Any,
    secret_string: str,
    expected: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    recwarn: pytest.WarningsRecorder,
) -> None:
    secrets.create_secret(Name=SECRET_NAME, SecretString=secret_string)
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    with pytest.raises(EssoError) as caught:
        backup_password_from_secrets_manager(SECRET_NAME, REGION)
    assert caught.value.code == "ESSO-040"
    assert SECRET_NAME in str(caught.value)
    assert expected in str(caught.value)
    assert find_secret(error_texts(caught.value), PASSWORD) == []
    assert_never_seen(caplog, capsys, recwarn)


def test_a_binary_secret_is_refused(secrets: Any) -> None:
    secrets.create_secret(Name=SECRET_NAME, SecretBinary=PASSWORD.encode())
    with pytest.raises(EssoError) as caught:
        backup_password_from_secrets_manager(SECRET_NAME, REGION)
    assert caught.value.code == "ESSO-040"
    assert "no SecretString" in str(caught.value)
    assert find_secret(error_texts(caught.value), PASSWORD) == []


def test_a_missing_secret_names_the_id_and_the_fix(aws: None) -> None:
    with pytest.raises(EssoError) as caught:
        backup_password_from_secrets_manager("esso/no-such-secret", REGION)
    assert caught.value.code == "ESSO-040"
    message = str(caught.value)
    assert "esso/no-such-secret" in message
    assert "ResourceNotFoundException" in message
    assert "secretsmanager:GetSecretValue" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_an_empty_secret_id_is_refused(aws: None) -> None:
    with pytest.raises(EssoError, match="passwordSecretId is empty"):
        backup_password_from_secrets_manager("  ", REGION)


def test_no_region_anywhere_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(EssoError) as caught:
        backup_password_from_secrets_manager(SECRET_NAME, None)
    assert caught.value.code == "ESSO-040"
    assert "NoRegionError" in str(caught.value)
    assert "escrow.region" in str(caught.value)


def test_the_old_import_path_still_works() -> None:
    """Other branches import the lookup from provider.escrow; it now lives in provider.backup_password."""
    from provider import escrow

    assert escrow.backup_password_from_secrets_manager is backup_password_from_secrets_manager


def test_one_operation_reads_the_secret_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every restore and escrow check asks for the backup password; Secrets Manager answers once per operation."""
    import provider.backup_password as backup_password_module
    from provider.remote.cache import Operation
    from provider.resources.master_secret_restore import MasterSecretRestoreProvider

    reads: list[tuple[str, str | None]] = []

    def read(secret_id: str, region: str | None) -> SecretStr:
        reads.append((secret_id, region))
        return SecretStr("from-secrets-manager")

    monkeypatch.setattr(backup_password_module, "backup_password_from_secrets_manager", read)
    escrow = SimpleNamespace(password_secret_id="esso/backup", region="eu-west-1")
    spec = cast(ClusterSpec, SimpleNamespace(backup_password=None, escrow=escrow))
    provider = MasterSecretRestoreProvider()
    provider.use_spec(spec, Operation())
    assert [provider.backup_password().get_secret_value() for _ in range(3)] == ["from-secrets-manager"] * 3
    assert reads == [("esso/backup", "eu-west-1")]
    provider.use_spec(spec, Operation())  # a new operation reads it again (the secret may have been rotated)
    provider.backup_password()
    assert len(reads) == 2
