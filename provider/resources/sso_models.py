"""SsoSystem's typed inputs and observed state, apart from the flows that use them (issue 10: sso_system.py split by
job). Why a module of its own: the install, escrow, adoption and rotation flows all take and return these types, and
importing them from here keeps those modules from importing the resource module (provider/resources/sso_system.py
re-exports both names).
"""

from __future__ import annotations

from typing import Literal

from provider.escrow import EscrowRecord
from provider.resources.base import Observed, Prior
from provider.resources.inputs import EscrowInputs
from provider.spec import ClusterSpec

__all__ = ["SsoSystemInputs", "SsoSystemObserved"]


class SsoSystemInputs(EscrowInputs):
    node: str  # the creating node (nodes[0] at creation), never diffed
    affiliate_admin_group: str
    backup_path: str
    backup_reminder: str
    protect: bool
    on_destroy: Literal["retain", "remove"]
    service_account_password: str | None = None
    existing_server: str | None = None  # existingSystem.masterSecretServer: back the secret up there
    existing_backup_file: str | None = None  # existingSystem.backupFile: the operator's backup (server gone)
    rotation: str | None = None  # sso.masterSecretRotation: a new label generates a new master secret (rotation.py)

    @property
    def adopting(self) -> bool:
        """The SSO system already exists: it is adopted, never created."""
        return self.existing_server is not None or self.existing_backup_file is not None

    @classmethod
    def from_spec(cls, spec: ClusterSpec) -> SsoSystemInputs:
        return cls(
            existing_server=spec.existing_system.master_secret_server,
            existing_backup_file=spec.existing_system.backup_file,
            **cls.cluster_fields(spec),
            **cls.escrow_fields(spec),
            node=spec.cluster.nodes[0],
            affiliate_admin_group=spec.sso.affiliate_admin_group,
            backup_path=spec.backup.path,
            backup_reminder=spec.backup.reminder,
            protect=spec.policy.protect_sso_system,
            on_destroy=spec.policy.on_destroy,
            rotation=spec.sso.master_secret_rotation,
        )


class SsoSystemObserved(Observed):
    """The SSO system's master secret, its escrowed backup, and whether that backup opens with today's password."""

    msid: str | None = None
    escrowed_msid: str | None = None
    backup_sha256: str | None = None
    escrow_location: str | None = None
    created_by: str | None = None
    database_exists: bool = False
    backup_in_use_fingerprint: str | None = None  # the fingerprint of the password the escrowed backup needs
    backup_password_current: bool | None = None  # None: not checked yet (no backup in use recorded)
    escrow_recorded: bool | None = None  # the escrow's record (what restores copy) names this backup; None: unknown
    adopted_from: str | None = None  # server:<name> or backup:<file> when an existing system was adopted
    rotated_for: str | None = None  # the rotation label the current master secret answers to
    rotated_at: str | None = None  # when the last rotation finished (UTC)
    previous_msid: str | None = None  # the master secret the last rotation replaced
    previous_escrow_location: str | None = None  # where its backup stays in the escrow (the way back)

    @classmethod
    def escrowed(
        cls, msid: str, record: EscrowRecord, in_use: str | None, created_by: str | None, **rest: str | None
    ) -> SsoSystemObserved:
        """The state once a backup of ``msid`` is escrowed as ``record`` and recorded for restores, opening with
        the password whose fingerprint is ``in_use``; ``rest`` are the adoption and rotation fields."""
        return cls(
            msid=msid,
            escrowed_msid=record.msid,
            backup_sha256=record.sha256,
            escrow_location=record.location,
            created_by=created_by,
            database_exists=True,
            backup_in_use_fingerprint=in_use,
            backup_password_current=True,
            escrow_recorded=True,
            **rest,
        )

    def _rotated(
        self, inputs: SsoSystemInputs, prior: Prior[SsoSystemInputs, SsoSystemObserved] | None
    ) -> SsoSystemObserved:
        """The rotation record carried over: a new system answers to the label it was created with (nothing
        rotates then), a later update keeps what the last rotation recorded."""
        if prior is None:
            return self.model_copy(update={"rotated_for": inputs.rotation})
        kept = prior.observed
        return self.model_copy(
            update={
                "rotated_for": kept.rotated_for,
                "rotated_at": kept.rotated_at,
                "previous_msid": kept.previous_msid,
                "previous_escrow_location": kept.previous_escrow_location,
            }
        )
