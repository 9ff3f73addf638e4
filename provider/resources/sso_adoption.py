"""SsoSystem's adoption flow (``existingSystem``, docs/adopt.md): an SSO system that already exists is adopted, never
created. Microsoft's "How to Move the Master Secret Server" (biztalk-docs
biztalk/core/how-to-move-the-master-secret-server.md, "To move the master secret from one server to a Windows Server
Cluster"): its master secret is backed up on the current master secret server (or taken from the operator's backup
file) and escrowed; the joins and restores that follow move it (issue 10: sso_system.py split by job).

The backup taken on the current master secret server is removed from it once escrowed and read back (issue 13 M4,
provider/resources/sso_escrow.py); the operator's own backup file (``existingSystem.backupFile``, on the machine
that runs pulumi) is only read, never changed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from provider import contracts
from provider.errors import EssoError
from provider.escrow.base import holds_msid, same_msid
from provider.remote.base import Remote, TransientRemoteError
from provider.resources import adopt as checks
from provider.resources import preflight, sso_escrow
from provider.resources.base import Prior, Steps, fingerprint
from provider.resources.sso_models import SsoSystemInputs, SsoSystemObserved

if TYPE_CHECKING:
    from provider.resources.sso_system import SsoSystemProvider

__all__ = ["adopt", "retake_provided_backup"]


def retake_provided_backup(
    provider: SsoSystemProvider, inputs: SsoSystemInputs, prior: Prior[SsoSystemInputs, SsoSystemObserved]
) -> bool:
    """An operator's backup can be proven only by the first restore (Windows offers no way to open it
    elsewhere): while no cluster node holds the master secret, an update takes the provided file and password
    again, so a corrected backupFile or backupPassword replaces the escrowed backup the restores use."""
    if not inputs.existing_backup_file or not (prior.observed.adopted_from or "").startswith("backup:"):
        return False
    msid = prior.observed.msid
    with provider.remote(inputs) as remote:
        for node in inputs.nodes:
            try:
                held = inputs.node_facts(remote, node).ssoss_msids
            except TransientRemoteError:
                continue
            if holds_msid(held, msid):
                return False
    return True


def adopt(provider: SsoSystemProvider, inputs: SsoSystemInputs, steps: Steps) -> SsoSystemObserved:
    """Every check before any change, then the existing master secret backed up (or taken from the
    operator's file), checked against the database's MSID, and escrowed. The joins, the secret server name,
    the clustered resource and the restores that follow are the component's other resources."""
    home = inputs.nodes[0]
    server, backup_file = inputs.existing_server, inputs.existing_backup_file
    source = f"server:{server}" if server else f"backup:{backup_file}"
    # The current master secret server is reached only because the live stack configuration names it
    # (existingSystem.masterSecretServer), never because a node's reply did (CallPolicy, ESSO-070).
    configured = provider.spec.existing_system.master_secret_server
    hosts = [configured] if configured else []
    with provider.remote(inputs, *hosts) as remote:
        verified = inputs.preflight(remote)
        steps.add(home, "preflight", False)
        database = preflight.database_facts(remote, inputs.nodes, inputs.server, inputs.database)
        if not database.exists:
            raise EssoError(
                "ESSO-090",
                f"existingSystem is set but there is no SSO database {inputs.server}/{inputs.database}; "
                "nothing was changed.",
                step="adopt",
            )
        checks.check_groups(inputs, database)
        for node, facts in verified.nodes.items():
            checks.check_cluster_node(inputs, node, facts)
        password = provider.backup_password()
        escrow = inputs.escrow_store(simulator=provider.spec.target == "simulator")
        if inputs.existing_server:
            msid = _backup_on_server(remote, inputs, inputs.existing_server, database, password, steps)
            record = sso_escrow.escrow_from_node(
                remote, escrow, inputs.existing_server, inputs.backup_path, msid, steps, password=password
            )
        else:
            msid, data = _provided_backup(inputs, database)
            steps.add(home, "read-provided-backup", False, "the operator's backup, on the machine that runs Pulumi")
            record = sso_escrow.keep(escrow, msid, data, home, steps)
            escrow.record_in_use(record, password)  # what restores copy: exactly this backup (M1)
        in_use = fingerprint(password.get_secret_value())
        return SsoSystemObserved.escrowed(msid, record, in_use, inputs.existing_server, adopted_from=source)


def _backup_on_server(
    remote: Remote,
    inputs: SsoSystemInputs,
    server: str,
    database: contracts.SsoDatabaseFacts,
    password: SecretStr,
    steps: Steps,
) -> str:
    """Back the master secret up on the current master secret server (the move doc's step "back up the
    existing master secret") once it is proven to be the server the database names; its MSID."""
    try:
        facts = inputs.node_facts(remote, server)
    except TransientRemoteError as exc:
        raise EssoError(
            "ESSO-092",
            f"the current master secret server {server} cannot be reached over WinRM ({exc.detail}); nothing "
            "was changed.",
            node=server,
            step="adopt",
        ) from None
    msid = checks.check_current_server(inputs, server, facts, database)
    steps.add(server, "verify-current-server", False, f"the database's secret server, holding MSID {msid}")
    backup = sso_escrow.take_backup(
        remote, server, inputs.backup_path, password, inputs.backup_reminder, overwrite=False, steps=steps
    )
    if not same_msid(backup.after.msid, msid):
        raise EssoError(
            "ESSO-092",
            f"the backup taken on {server} holds MSID {backup.after.msid}, the database's is {msid}.",
            node=server,
            step=contracts.BACKUP_MASTER_SECRET.name,
        )
    return msid


def _provided_backup(inputs: SsoSystemInputs, database: contracts.SsoDatabaseFacts) -> tuple[str, bytes]:
    """The operator's backup file, read before any change; the database must report the MSID it belongs to."""
    assert inputs.existing_backup_file is not None
    path = Path(inputs.existing_backup_file)
    if not path.is_absolute():
        path = Path(os.getcwd()) / path
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EssoError(
            "ESSO-093",
            f"existingSystem.backupFile {inputs.existing_backup_file} cannot be read ({exc.strerror}); nothing "
            "was changed.",
            step="adopt",
        ) from None
    if not data:
        raise EssoError("ESSO-093", f"{inputs.existing_backup_file} is empty; nothing was changed.", step="adopt")
    if not database.msid:
        raise EssoError(
            "ESSO-093",
            "the SSO database reports no master secret id (it holds no encrypted data), so the provided backup "
            "cannot be matched to it; nothing was changed.",
            step="adopt",
        )
    return database.msid, data
