"""The Pulumi program: stack config -> ClusterSpec -> ClusteredMasterSecret -> stack outputs.

Secrets are read with ``require_secret`` and reach the resources only as secret Outputs. The spec is
validated here with stand-ins for the secret values (their own rules are checked by each provider's
``check()``, which receives them), so a bad key fails the program before any resource registers.
"""

from __future__ import annotations

import pulumi

from components.clustered_master_secret import ClusteredMasterSecret, ProgramSecrets
from provider.spec import load_spec_from_strings

PLAIN_KEYS = (
    "target",
    "simulatorState",
    "cluster",
    "domain",
    "sso",
    "database",
    "backup",
    "escrow",
    "transport",
    "allowDisruption",
    "failover",
    "policy",
)
STAND_IN = "validated-by-the-provider"


def main() -> None:
    config = pulumi.Config()
    values: dict[str, str] = {k: v for k in PLAIN_KEYS if (v := config.get(k)) is not None}
    backup_password = config.get_secret("backupPassword")
    winrm_password = config.get_secret("winrmPassword")
    stand_ins = {"serviceAccountPassword": STAND_IN}
    if backup_password is not None:
        stand_ins["backupPassword"] = STAND_IN
    if winrm_password is not None:
        stand_ins["winrmPassword"] = STAND_IN
    spec = load_spec_from_strings({**values, **stand_ins})
    secrets = ProgramSecrets(
        service_account_password=config.require_secret("serviceAccountPassword"),
        backup_password=backup_password,
    )
    esso = ClusteredMasterSecret(pulumi.get_stack(), spec, secrets)
    for key, value in esso.outputs.items():
        pulumi.export(key, value)


main()
