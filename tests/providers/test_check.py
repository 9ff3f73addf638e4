"""check(): the spec's rules on each resource's inputs, failures per field, unknowns tolerated in preview.

Through ``Stack.check`` (tests/support/procedure.py): the component's inputs for the SSO system, with the one
value under test laid over them, checked as the engine calls check() (old inputs from state, none here).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi.dynamic import CheckResult
from pulumi.output import Unknown

from tests.support.procedure import SERVICE_PASSWORD, Stack, demo_spec

BAD_PASSWORD = "bad\x01password-sentinel"


def _check(
    tmp_path: Path, inputs: dict[str, object] | None = None, olds: dict[str, object] | None = None
) -> CheckResult:
    """The SSO system's check() with ``inputs`` over the component's (and ``olds`` as the old inputs)."""
    return Stack().check(demo_spec(tmp_path), "sso-system", inputs, olds=olds)


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("nodes", ["SSO01", "SSO01.contoso.com"], "dot"),
        ("nodes", ["SSO01"], "at least two"),
        ("networkName", "A-NAME-LONGER-THAN-15", "at most 15"),
        ("serviceAccount", "svc-entsso", "DOMAIN\\user"),
        ("serviceAccountPassword", BAD_PASSWORD, "XML 1.0"),
    ],
)
def test_check_reports_each_rule_per_field(tmp_path: Path, key: str, value: object, fragment: str) -> None:
    result = _check(tmp_path, {key: value})
    assert result.failures, key
    failure = result.failures[0]
    assert failure.property.startswith(key)
    assert fragment in failure.reason
    assert all(BAD_PASSWORD not in f.reason for f in result.failures)


def test_check_tolerates_unknowns_during_preview(tmp_path: Path) -> None:
    assert _check(tmp_path, {"serviceAccountPassword": Unknown()}).failures == []


def test_check_reports_a_type_error_with_its_key(tmp_path: Path) -> None:
    result = _check(tmp_path, {"protect": "maybe"})
    assert [f.property for f in result.failures] == ["protect"]


def test_check_returns_a_fingerprint_never_the_password(tmp_path: Path) -> None:
    password = SERVICE_PASSWORD  # the component's input, as the engine hands it to check()
    first = _check(tmp_path).inputs
    assert first["serviceAccountPassword"] != password
    assert password not in str(first)
    assert str(first["serviceAccountPassword"]).startswith("pbkdf2-sha256$")
    # with the old inputs from state, the same password yields the same fingerprint (no spurious diff)
    again = _check(tmp_path, olds=first).inputs
    assert again["serviceAccountPassword"] == first["serviceAccountPassword"]
    changed = _check(tmp_path, {"serviceAccountPassword": "Another-Pass-1!"}, olds=first).inputs
    assert changed["serviceAccountPassword"] != first["serviceAccountPassword"]
