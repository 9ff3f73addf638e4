"""Raw Windows/ESSO failures the seed gives advice for are recognised and get that advice."""

from __future__ import annotations

import pytest

from provider.errors import CATALOGUE, classify_windows_error


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (
            "Failed to retrieve master secrets. Verify that the master secret server name is correct and that it is "
            "available. Secret Server Name: ENTSSO Error Code: 0x800706D9, there are no more endpoints available "
            "from the endpoint mapper.",
            "ESSO-010",
        ),
        ("The MSDTC resource is not available in the cluster group.", "ESSO-008"),
        ("Cluster resource 'SSO-NetName' of type Network Name does not exist.", "ESSO-009"),
        ("The account CONTOSO\\esso-config is not a member of the SSO Administrators group.", "ESSO-004"),
        ("The service did not start due to a logon failure (error 1069).", "ESSO-003"),
        ("Something else entirely went wrong.", None),
    ],
)
def test_known_failures_map_to_the_seeds_advice(text: str, code: str | None) -> None:
    assert classify_windows_error(text) == code
    if code:
        assert CATALOGUE[code].fix
