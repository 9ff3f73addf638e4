"""Where the master secret backup password comes from when the stack does not hold it: AWS Secrets Manager.

Why apart from the escrow: the escrow keeps the backup; this reads the password that opens it, from
``escrow.passwordSecretId``. It returns a ``SecretStr`` and never logs, warns or raises with the value:
botocore's DEBUG dump of the response body is suppressed for this call, and errors (ESSO-040) name the
secret id and what to fix.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

from pydantic import SecretStr

from provider.errors import EssoError

log = logging.getLogger(__name__)


def aws_error_code(exc: Any) -> str:
    """The code of a botocore ClientError (e.g. AccessDenied), else the exception's class name."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "") or type(exc).__name__)


def aws_error_message(exc: Any) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Message", ""))


class _DropThreadRecords(logging.Filter):
    """Drops the records one thread logs (botocore's DEBUG dump of a response body holds the secret)."""

    def __init__(self, thread: int) -> None:
        super().__init__()
        self.thread = thread

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread


@contextlib.contextmanager
def _no_response_bodies() -> Iterator[None]:
    quiet = _DropThreadRecords(threading.get_ident())
    loggers = [logging.getLogger(name) for name in ("botocore.parsers", "botocore.endpoint", "botocore.hooks")]
    for logger in loggers:
        logger.addFilter(quiet)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)


def _password_from_response(response: dict[str, Any]) -> tuple[str, str | None]:
    """``(password, None)`` or ``("", what is wrong)``; the problem text never quotes the secret.

    A plain SecretString is the password; a JSON object gives its "password" key.
    """
    raw = response.get("SecretString")
    if not isinstance(raw, str):
        return "", (
            "holds no SecretString (binary secrets are not supported); store the password as text or as "
            'JSON {"password": "..."}.'
        )
    password: object = raw
    if raw.lstrip().startswith("{"):
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None  # a plain password that happens to start with "{"
        if isinstance(parsed, dict):
            password = parsed.get("password")
    if not isinstance(password, str):
        return "", 'is a JSON object without a string "password" key.'
    if not password:
        return "", "holds an empty password."
    return password, None


def backup_password_from_secrets_manager(secret_id: str, region: str | None) -> SecretStr:
    """The master secret backup password from Secrets Manager (plain SecretString or JSON ``{"password": ...}``).

    Errors (ESSO-040) name the secret id and what to fix, never the value; botocore's DEBUG dump of the
    response is suppressed for this call.
    """
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"escrow.passwordSecretId {secret_id!r}"
    if not secret_id or not secret_id.strip():
        raise EssoError("ESSO-040", "escrow.passwordSecretId is empty.", step="backup-password")
    try:
        client = boto3.client("secretsmanager", region_name=region)
        with _no_response_bodies():
            response: dict[str, Any] = client.get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        raise EssoError(
            "ESSO-040",
            f"{where} could not be read from Secrets Manager ({aws_error_code(exc)}: {aws_error_message(exc)}); "
            "check the name or ARN, escrow.region, and that the program's AWS identity may call "
            "secretsmanager:GetSecretValue (and kms:Decrypt on the secret's key).",
            step="backup-password",
        ) from None
    except BotoCoreError as exc:
        raise EssoError(
            "ESSO-040",
            f"{where} could not be read from Secrets Manager ({type(exc).__name__}); set escrow.region and AWS "
            "credentials for the program.",
            step="backup-password",
        ) from None
    password, problem = _password_from_response(response)
    del response  # keep the value out of this frame's locals (tracebacks with locals, debuggers)
    if problem is not None:
        raise EssoError("ESSO-040", f"{where} {problem}", step="backup-password")
    log.info("escrow: read the backup password from Secrets Manager secret %s", secret_id)
    return SecretStr(password)
