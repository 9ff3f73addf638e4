"""check(): the spec's rules on each resource's inputs, failures per field, unknowns tolerated in preview."""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi.output import Unknown

from provider.resources.sso_system import SsoSystemProvider
from tests.support.procedure import Procedure, demo_spec

BAD_PASSWORD = "bad\x01password-sentinel"


def _system_inputs(tmp_path: Path) -> dict[str, object]:
    procedure = Procedure(demo_spec(tmp_path))
    return next(i for n, _, i in procedure.resources() if n == "sso-system")


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
    inputs = {**_system_inputs(tmp_path), key: value}
    result = SsoSystemProvider().check({}, inputs)
    assert result.failures, key
    failure = result.failures[0]
    assert failure.property.startswith(key)
    assert fragment in failure.reason
    assert all(BAD_PASSWORD not in f.reason for f in result.failures)


def test_check_tolerates_unknowns_during_preview(tmp_path: Path) -> None:
    inputs = {**_system_inputs(tmp_path), "serviceAccountPassword": Unknown()}
    assert SsoSystemProvider().check({}, inputs).failures == []


def test_check_reports_a_type_error_with_its_key(tmp_path: Path) -> None:
    inputs = {**_system_inputs(tmp_path), "protect": "maybe"}
    result = SsoSystemProvider().check({}, inputs)
    assert [f.property for f in result.failures] == ["protect"]


def test_check_returns_a_fingerprint_never_the_password(tmp_path: Path) -> None:
    inputs = _system_inputs(tmp_path)
    password = str(inputs["serviceAccountPassword"])
    first = SsoSystemProvider().check({}, inputs).inputs
    assert first["serviceAccountPassword"] != password
    assert password not in str(first)
    assert str(first["serviceAccountPassword"]).startswith("pbkdf2-sha256$")
    # with the old inputs from state, the same password yields the same fingerprint (no spurious diff)
    again = SsoSystemProvider().check(first, inputs).inputs
    assert again["serviceAccountPassword"] == first["serviceAccountPassword"]
    changed = SsoSystemProvider().check(first, {**inputs, "serviceAccountPassword": "Another-Pass-1!"}).inputs
    assert changed["serviceAccountPassword"] != first["serviceAccountPassword"]
