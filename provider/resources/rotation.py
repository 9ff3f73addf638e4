"""Master secret rotation (issue 17, docs/rotation.md): the part SsoSystem does when ``sso.masterSecretRotation``
changes.

Why in this order: every precondition is read before the first change (ESSO-100); the new secret is generated on
nodes[0] with the role there (New-MasterSecret, ISSOConfigSS.GenerateSecret), and its backup is fetched and
escrowed before anything depends on it, so a fault after generation never leaves a secret that exists only on one
node. Only then does it wait, bounded, for the master secret server to re-encrypt the stored credentials
(ESSO-101 when it does not finish; no role has moved). The restores that follow (their inputs carry the label)
find every other node without the database's new MSID and restore it with its failover proof.

Re-encryption: "Master Secret Server" (learn.microsoft.com biztalk/core/master-secret-server) says the server keeps
both secrets and re-encrypts every credential, and documents no signal that it has finished. [INFERRED] The SSO
database reports the MSID its encrypted rows use (Get-SsoDatabaseFacts); the rotation waits until it reports the
new MSID, and treats anything else as "not finished" (the safe reading: no role moves to a node with only the new
secret while credentials are still under the old one). A database that reports no MSID (no encrypted row can be
read) proves nothing either way: it is "not finished" during the wait (ESSO-101 at the bound, naming it), and
before generation it refuses the rotation (ESSO-100), because the wait could never end and the restores could not
tell the new secret from the old by the database.

A fault at any step converges on the next ``up``: state keeps the previous rotation label until the end, the node
keeps the generated secret, New-MasterSecret never generates twice for one recorded MSID, and an escrowed backup
of the new secret is found again instead of taken anew.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pydantic import SecretStr

from provider import contracts
from provider.errors import EssoError
from provider.escrow import Escrow, EscrowNotWritableError, same_msid
from provider.remote.base import Remote, TransientRemoteError, node_key
from provider.resources import preflight, sso_escrow
from provider.resources.base import Prior, Steps, fingerprint, now_utc
from provider.resources.cluster_ops import move_role, owner_of_role
from provider.resources.sso_models import SsoSystemInputs, SsoSystemObserved

if TYPE_CHECKING:
    from provider.resources.sso_system import SsoSystemProvider

__all__ = ["REENCRYPT_TIMEOUT_S", "rotate", "rotation_asked", "rotation_backup_path"]

STEP = "rotate-master-secret"
REENCRYPT_TIMEOUT_S = 600.0  # how long a rotation waits for re-encryption before ESSO-101 (the role has not moved)
REENCRYPT_POLL_S = 10.0  # between reads of the SSO database's MSID on Windows (the simulator does not wait)


def rotation_asked(inputs: SsoSystemInputs, prior: Prior[SsoSystemInputs, SsoSystemObserved]) -> bool:
    """A rotation is owed when the stack names a label the current secret was not generated for."""
    return inputs.rotation is not None and inputs.rotation != prior.observed.rotated_for


def rotation_backup_path(backup_path: str, label: str) -> str:
    """The new secret's backup file beside the stack's backup: ``SSOSecret.bak`` -> ``SSOSecret.2026-Q4.bak``."""
    folder, _, name = backup_path.rpartition("\\")
    stem, dot, ext = name.rpartition(".")
    base = f"{stem}.{label}.{ext}" if dot and stem else f"{name}.{label}"
    return f"{folder}\\{base}" if folder else base


def rotate(
    provider: SsoSystemProvider,
    inputs: SsoSystemInputs,
    prior: Prior[SsoSystemInputs, SsoSystemObserved],
    steps: Steps,
) -> SsoSystemObserved:
    """Generate, back up and escrow a new master secret on nodes[0], then wait for re-encryption."""
    assert inputs.rotation is not None
    label = inputs.rotation
    home = inputs.nodes[0]
    old = prior.observed.msid or prior.observed.escrowed_msid
    if not old:
        raise EssoError("ESSO-100", "state records no master secret id for this SSO system.", step=STEP)
    provider.require_disruption("rotate the master secret (each node's restore moves the role)", home)
    password = provider.backup_password()
    escrow = inputs.escrow_store(simulator=provider.spec.target == "simulator")
    with provider.remote(inputs) as remote:
        facts = _reachable(remote, inputs)
        current = facts[_key(home)].ssoss_msids[-1] if facts[_key(home)].ssoss_msids else None
        resuming = current is not None and not same_msid(current, old)
        if not resuming:
            _preconditions(remote, inputs, facts, old, prior, escrow, password)
        steps.add(home, "preflight", False, "rotation: every node, the clustered ENTSSO and the escrow")
        _role_home(remote, inputs, steps)
        record = sso_escrow.recorded_backup(escrow, current, password) if resuming and current else None
        new_file = rotation_backup_path(inputs.backup_path, label)
        if record is None:
            made = remote.run(
                home,
                contracts.NEW_MASTER_SECRET,
                contracts.NewSecretParams(
                    backup_file=new_file,
                    backup_password=password,
                    reminder=inputs.backup_reminder,
                    expected_msid=old,
                ),
            )
            what = "a new master secret" if made.changed else "backed up the secret an earlier run generated"
            steps.add(home, contracts.NEW_MASTER_SECRET.name, made.changed, what)
            record = sso_escrow.escrow_from_node(
                remote,
                escrow,
                home,
                made.after.file,
                made.after.msid,
                steps,
                password=password,
                expected_sha256=made.after.sha256,
                note="the previous backup stays: ",
            )
        else:  # resumed after the new backup was escrowed: a file a faulted run left is swept (M4)
            escrow.record_in_use(record, password)  # what the restores copy from now on (escrow_from_node does it)
            sso_escrow.clear_from_node(remote, escrow, record, home, new_file, steps)
        _sweep_stack_backup(remote, escrow, inputs, prior, steps)
        _await_reencryption(provider, remote, inputs, record.msid, steps)
        return SsoSystemObserved.escrowed(
            record.msid,
            record,
            fingerprint(password.get_secret_value()),
            prior.observed.created_by,
            adopted_from=prior.observed.adopted_from,
            rotated_for=label,
            rotated_at=now_utc(),
            previous_msid=old,
            previous_escrow_location=prior.observed.escrow_location,
        )


def _sweep_stack_backup(
    remote: Remote,
    escrow: Escrow,
    inputs: SsoSystemInputs,
    prior: Prior[SsoSystemInputs, SsoSystemObserved],
    steps: Steps,
) -> None:
    """The stack's own backup file (``backup.path``) on nodes[0], which a stack built before backups left the
    node still holds: removed once the escrow gives back the previous secret's backup (the way back)."""
    old, sha = prior.observed.escrowed_msid, prior.observed.backup_sha256
    kept = escrow.find(old, sha, prior.observed.escrow_location) if old and sha else None
    if kept is not None:
        sso_escrow.clear_from_node(remote, escrow, kept, inputs.nodes[0], inputs.backup_path, steps)


def _key(node: str) -> str:
    """A configured node's key in the facts map (configured names are ASCII; the raw name otherwise)."""
    return node_key(node) or node


def _reachable(remote: Remote, inputs: SsoSystemInputs) -> dict[str, contracts.NodeFacts]:
    """Every configured node's facts, read side by side (``fan_out``); ESSO-100 naming the first configured node that
    cannot be reached."""

    def read(node: str) -> contracts.NodeFacts:
        try:
            return inputs.node_facts(remote, node)
        except TransientRemoteError as exc:
            raise EssoError(
                "ESSO-100",
                f"{node} cannot be reached over WinRM ({exc.detail}); every node must be up to rotate. Nothing was "
                "changed.",
                node=node,
                step=STEP,
            ) from None

    return {_key(node): facts for node, facts in remote.fan_out(inputs.nodes, read).items()}


def _preconditions(
    remote: Remote,
    inputs: SsoSystemInputs,
    facts: dict[str, contracts.NodeFacts],
    old: str,
    prior: Prior[SsoSystemInputs, SsoSystemObserved],
    escrow: Escrow,
    password: SecretStr,
) -> None:
    """Before the first change: every node holds the current secret, the database uses it, the clustered ENTSSO
    is online, and the escrow still holds (and records) the backup of the current secret, the way back."""
    for node in inputs.nodes:
        held = facts[_key(node)].ssoss_msids
        if not any(same_msid(m, old) for m in held):
            raise EssoError(
                "ESSO-100",
                f"{node} does not hold the current master secret {old}: run up once without changing "
                "sso.masterSecretRotation so its restore runs, then rotate. Nothing was changed.",
                node=node,
                step=STEP,
            )
    database = preflight.database_facts(remote, inputs.nodes, inputs.server, inputs.database)
    if not database.msid:
        raise EssoError(
            "ESSO-100",
            f"the SSO database {inputs.server}/{inputs.database} reports no MSID (no encrypted row): the end of "
            "re-encryption, and which secret each node must hold, could not be proven. Rotate once the SSO system "
            "stores a credential (BizTalk's configuration stores some). Nothing was changed.",
            step=STEP,
        )
    if not same_msid(database.msid, old):
        raise EssoError(
            "ESSO-100",
            f"the SSO database uses MSID {database.msid}, state records {old}: run `pulumi up --refresh` first. "
            "Nothing was changed.",
            step=STEP,
        )
    cluster = preflight.cluster_facts(remote, inputs.nodes, inputs.role)
    services = [r for r in cluster.resources if r.type == contracts.GENERIC_SERVICE]
    if not services or any(r.state != "Online" for r in services):
        state = ", ".join(f"{r.name} {r.state}" for r in services) or "missing"
        raise EssoError(
            "ESSO-100",
            f"the clustered ENTSSO in role {inputs.role} is not online ({state}). Nothing was changed.",
            step=STEP,
        )
    sha, location = prior.observed.backup_sha256, prior.observed.escrow_location
    kept = escrow.find(old, sha, location) if sha else None
    if kept is None:
        raise EssoError(
            "ESSO-100",
            f"the escrow ({escrow.describe()}) does not hold the current secret's backup, the way back from a "
            "rotation: run `pulumi up --refresh` so sso-system escrows it again. Nothing was changed.",
            step=STEP,
        )
    try:
        escrow.probe_writable(kept, password)  # the new secret's backup must have somewhere to go (issue 17)
    except EscrowNotWritableError as exc:
        raise EssoError(
            "ESSO-100",
            f"the escrow ({escrow.describe()}) cannot be written ({exc}); the new secret's backup would have nowhere "
            "to go. Give the identity that runs pulumi write access to it (local: the folder; S3: s3:PutObject in "
            "the stack's namespace and kms:GenerateDataKey on the key) and run up again. Nothing was changed.",
            step=STEP,
        ) from None


def _role_home(remote: Remote, inputs: SsoSystemInputs, steps: Steps) -> None:
    """GenerateSecret runs where the clustered ENTSSO runs: the role goes to nodes[0] first when it is elsewhere."""
    home = inputs.nodes[0]
    cluster = preflight.cluster_facts(remote, inputs.nodes, inputs.role)
    owner = owner_of_role(remote, cluster, step=STEP)
    if owner is None or node_key(owner) != node_key(home):
        move_role(remote, role=inputs.role, node=home, steps=steps)


def _await_reencryption(
    provider: SsoSystemProvider, remote: Remote, inputs: SsoSystemInputs, new: str, steps: Steps
) -> None:
    """Wait until the SSO database reports the new MSID (module docstring); ESSO-101 after REENCRYPT_TIMEOUT_S."""
    home = inputs.nodes[0]
    simulated = provider.spec.target == "simulator"
    deadline = time.monotonic() + REENCRYPT_TIMEOUT_S
    polls = 0
    while True:
        polls += 1
        if remote.cache is not None:
            # the master secret server changes the database while it re-encrypts: every poll reads it afresh,
            # and nothing after the wait sees the facts read before it (provider/remote/cache.py)
            remote.cache.changed(home, contracts.GET_SSO_DATABASE_FACTS)  # forgets the database scope
        database = preflight.database_facts(remote, inputs.nodes, inputs.server, inputs.database)
        if same_msid(database.msid, new):
            steps.add(home, "await-reencryption", False, f"re-encrypted after {polls} read(s)")
            return
        if time.monotonic() >= deadline:
            # No MSID is not "finished": the rows that carried the old MSID are gone or cannot be read, and
            # nothing proves they are under the new secret (module docstring, "Re-encryption").
            reports = (
                f"still reports MSID {database.msid}"
                if database.msid
                else "reports no MSID (no encrypted row can be read, so nothing proves re-encryption)"
            )
            raise EssoError(
                "ESSO-101",
                f"after {REENCRYPT_TIMEOUT_S:.0f}s the SSO database {inputs.server}/{inputs.database} {reports}, "
                f"not the new {new}; no role moved. Check the master secret server's Application log (ENTSSO) and "
                "run up again once the database reports the new MSID.",
                node=home,
                step="await-reencryption",
            )
        time.sleep(0.0 if simulated else REENCRYPT_POLL_S)
