"""A password never appears in an error: not in str(), repr(), a traceback, a pickle, nor the CLI's output.

Every row of the rule table is replayed with sentinel passwords (and the rows that break a password rule
carry their own sentinel), through ``load_spec`` and through the bare pydantic models.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from provider.spec import ClusterSpec, SpecError, check_stack_file, load_spec, load_stack_file
from tests.spec.common import ROOT, SENTINELS, base_config, changed
from tests.spec.test_rules import RULES
from tests.support.secrets_scan import find_secret

XML_SENTINEL_PARTS = ("Xml-Sentinel", "9f2e")


def _leaks(text: str) -> list[str]:
    found = [f"{s}: {forms}" for s in SENTINELS if (forms := find_secret(text, s))]
    found += [part for part in XML_SENTINEL_PARTS if part in text]
    return found


def _texts(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), "".join(traceback.format_exception(exc))])


@pytest.mark.parametrize(("changes", "key", "fragment"), RULES)
def test_no_password_in_a_spec_error(changes: dict[str, Any], key: str, fragment: str) -> None:
    config = changed(base_config(), changes)
    with pytest.raises(SpecError) as info:
        load_spec(config)
    exc = info.value
    texts = _texts(exc) + "\n".join(f"{p.key} {p.message} {p!r}" for p in exc.problems)
    texts += _texts(pickle.loads(pickle.dumps(exc)))  # noqa: S301 - our own object, round-tripped
    assert _leaks(texts) == []


@pytest.mark.parametrize(("changes", "key", "fragment"), RULES)
def test_no_password_in_a_pydantic_error(changes: dict[str, Any], key: str, fragment: str) -> None:
    """The models alone (as providers' check() use them) hide inputs too."""
    config = changed(base_config(), changes)
    try:
        ClusterSpec.model_validate(config)
    except ValidationError as exc:
        assert _leaks(_texts(exc)) == []
        assert _leaks(str(exc.errors(include_input=False))) == []
    except Exception as exc:  # a non-validation error would be a bug in a validator
        raise AssertionError(f"unexpected {type(exc).__name__}") from None


def test_no_password_in_the_reminder_rule() -> None:
    """The reminder rule compares with the password; its message names the key, not either value."""
    config = changed(base_config(), {"backup.reminder": f"pw is {SENTINELS[1]}"})
    with pytest.raises(SpecError) as info:
        load_spec(config)
    assert [p.key for p in info.value.problems] == ["backup.reminder"]
    assert _leaks(_texts(info.value)) == []


def test_valid_spec_does_not_show_passwords() -> None:
    spec = load_spec(base_config())
    assert _leaks(repr(spec) + str(spec) + spec.model_dump_json()) == []
    assert spec.service_account_password.get_secret_value() == SENTINELS[0]


def _write_stack(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"config": {f"esso-cluster:{k}": v for k, v in config.items()}}), "utf-8")
    return path


def test_plain_text_password_in_a_stack_file_is_refused_without_echo(tmp_path: Path) -> None:
    stack = _write_stack(tmp_path / "Pulumi.leak.yaml", base_config())
    problems = check_stack_file(stack)
    assert {p.key for p in problems} == {"serviceAccountPassword", "backupPassword", "winrmPassword"}
    assert all("pulumi config set --secret" in p.message for p in problems)
    assert _leaks("\n".join(map(str, problems))) == []
    with pytest.raises(SpecError) as info:
        load_stack_file(stack)
    assert _leaks(_texts(info.value)) == []


@pytest.mark.parametrize(
    "password",
    [SENTINELS[0], f"{XML_SENTINEL_PARTS[0]}-\x01-{XML_SENTINEL_PARTS[1]}", "S" * 300 + SENTINELS[0]],
)
def test_cli_output_never_holds_a_password(tmp_path: Path, password: str) -> None:
    config = changed(base_config(), {"serviceAccountPassword": password, "database.server": "localhost"})
    stack = _write_stack(tmp_path / "Pulumi.leak.yaml", config)
    run = subprocess.run(
        [sys.executable, "-m", "provider.spec", "check", str(stack)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1
    assert "database.server: " in run.stdout
    assert _leaks(run.stdout + run.stderr) == []
