"""The Pulumi program: stack config -> ClusterSpec -> ClusteredMasterSecret -> stack outputs.

Secrets are read with ``require_secret`` and reach the resources only as secret Outputs. The spec is
validated here with stand-ins for the secret values (their own rules are checked by each provider's
``check()``, which receives them), so a bad key fails the program before any resource registers.
"""

from __future__ import annotations

import pulumi
from pulumi.runtime import get_config

from components.clustered_master_secret import ClusteredMasterSecret, ProgramSecrets
from provider.spec import CONFIG_KEYS, SECRET_KEYS, STAND_IN, load_spec


def main() -> None:
    config = pulumi.Config()
    plain = [k for k in CONFIG_KEYS if k not in SECRET_KEYS]
    values: dict[str, str] = {k: v for k in plain if (v := config.get(k))}
    # Pulumi.yaml gives optional keys a default of "": an empty secret means "not set".
    present = [k for k in SECRET_KEYS if _is_set(config, k)]
    spec = load_spec({**values, **{k: STAND_IN for k in present}})
    secrets = ProgramSecrets(
        service_account_password=config.require_secret("serviceAccountPassword"),
        backup_password=config.get_secret("backupPassword") if "backupPassword" in present else None,
    )
    esso = ClusteredMasterSecret(pulumi.get_stack(), spec, secrets)
    for key, value in esso.outputs.items():
        pulumi.export(key, value)


def _is_set(config: pulumi.Config, key: str) -> bool:
    """Whether a secret key holds a value (read raw, so Pulumi does not warn; never logged)."""
    return bool(get_config(config.full_key(key)))


main()
