"""A BizTalk deployment reads the clustered SSO master secret server from an esso-cluster stack.

Why a program of its own: BizTalk servers are deployed by another team and another stack; they need
the cluster's Network Name as the SSO server (``ssomanage -serverall <name>`` on each BizTalk server and
"SSO Server name" in the BizTalk Group properties), and the SSO database, service account and groups
that BizTalk Configuration's "Join an existing SSO system" page asks for. Sources: Microsoft's "How to
Cluster SSO and a BizTalk Host in the Same Cluster Group" and "How to Move the Master Secret Server"
(both run ``ssomanage -serverall`` with the cluster's network name), and "How to Cluster the Master
Secret Server" (join with the same SQL Server, database and service account).

Run it: ``pulumi config set essoStack organization/esso-cluster/prod`` then ``pulumi up``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi
from pydantic import BaseModel, ConfigDict

# The esso-cluster outputs this program reads; tests/ecosystem/test_consumer.py fails if one is renamed there.
READS: tuple[str, ...] = (
    "secretServerName",
    "ssoDatabaseServer",
    "ssoDatabaseName",
    "ssoAdminGroup",
    "ssoAffiliateAdminGroup",
    "entssoAccount",
)


class JoinExistingSsoSystem(BaseModel):
    """The answers of BizTalk Configuration's "Join an existing SSO system" for a BizTalk server."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    databaseServer: str  # camelCase like the stack outputs
    databaseName: str
    serviceAccount: str


class BizTalkSso(BaseModel):
    """Everything a BizTalk deployment needs from the clustered master secret server."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    ssoServerName: str
    ssomanageServerAll: str
    joinExistingSsoSystem: JoinExistingSsoSystem
    ssoAdministrators: str
    ssoAffiliateAdministrators: str


def biztalk_sso(outputs: Mapping[str, Any]) -> BizTalkSso:
    """Turn the esso-cluster outputs into BizTalk's settings; a missing or empty output is an error naming it."""
    missing = [key for key in READS if not isinstance(outputs.get(key), str) or not outputs[key]]
    if missing:
        raise ValueError(
            f"the esso-cluster stack exports no {', '.join(missing)}: run 'pulumi up' on it first, "
            "or update this program if the output was renamed"
        )
    name = outputs["secretServerName"]
    return BizTalkSso(
        ssoServerName=name,
        ssomanageServerAll=f"ssomanage -serverall {name}",
        joinExistingSsoSystem=JoinExistingSsoSystem(
            databaseServer=outputs["ssoDatabaseServer"],
            databaseName=outputs["ssoDatabaseName"],
            serviceAccount=outputs["entssoAccount"],
        ),
        ssoAdministrators=outputs["ssoAdminGroup"],
        ssoAffiliateAdministrators=outputs["ssoAffiliateAdminGroup"],
    )


def _read(values: Sequence[Any]) -> dict[str, Any]:
    """The resolved outputs by name (the callback of ``Output.all`` over ``READS``)."""
    return biztalk_sso(dict(zip(READS, values, strict=True))).model_dump()


def main() -> None:
    config = pulumi.Config()
    esso = pulumi.StackReference(config.require("essoStack"))
    settings = pulumi.Output.all(*[esso.require_output(key) for key in READS]).apply(_read)
    for key in BizTalkSso.model_fields:
        pulumi.export(key, settings.apply(_field(key)))


def _field(key: str) -> Callable[[dict[str, Any]], Any]:
    """One exported setting out of the whole (a function per key, so each closure keeps its own key)."""
    return lambda settings: settings[key]


main()
