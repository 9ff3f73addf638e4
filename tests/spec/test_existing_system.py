"""existingSystem (issue 16): the keys that say the SSO system exists and where its master secret comes from,
validated offline like every other key."""

from __future__ import annotations

from typing import Any

import pytest

from provider.spec import load_spec
from tests.spec.common import base_config, changed, problems


@pytest.mark.parametrize(
    ("existing", "source"),
    [
        ({}, None),
        ({"masterSecretServer": "BTS01"}, "server:BTS01"),
        ({"backupFile": "secrets/SSOSecret-prod.bak"}, "backup:secrets/SSOSecret-prod.bak"),
    ],
)
def test_existing_system_says_where_the_secret_comes_from(existing: dict[str, Any], source: str | None) -> None:
    spec = load_spec(changed(base_config(), {"existingSystem": existing}))
    assert spec.existing_system.source == source


def test_a_new_system_needs_no_existing_system_key() -> None:
    assert load_spec(base_config()).existing_system.source is None


@pytest.mark.parametrize(
    ("existing", "key", "fragment"),
    [
        (
            {"masterSecretServer": "BTS01", "backupFile": "a.bak"},
            "existingSystem.backupFile",
            "not both",
        ),
        ({"masterSecretServer": "SSO02"}, "existingSystem.masterSecretServer", "outside cluster.nodes"),
        ({"masterSecretServer": "biztalksso"}, "existingSystem.masterSecretServer", "outside cluster.nodes"),
        ({"masterSecretServer": "bts01.contoso.com"}, "existingSystem.masterSecretServer", "NetBIOS"),
        ({"masterSecretServer": "BTS 01"}, "existingSystem.masterSecretServer", "space"),
        ({"backupFile": "SSOSecret.txt"}, "existingSystem.backupFile", ".bak"),
        ({"backupFile": " "}, "existingSystem.backupFile", "is empty"),
        ({"server": "BTS01"}, "existingSystem.server", ""),
    ],
)
def test_a_bad_existing_system_is_refused_at_its_key(existing: dict[str, Any], key: str, fragment: str) -> None:
    found = problems(changed(base_config(), {"existingSystem": existing}))
    assert [p.key for p in found] == [key], found
    assert fragment in found[0].message
