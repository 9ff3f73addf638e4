"""Inputs more than one resource shares beyond ``ClusterInputs``: where the master secret backup is kept.

Why here: SsoSystem and MasterSecretRestore both need it, and resource modules do not import each other.
"""

from __future__ import annotations

import os
from typing import Any

from provider.escrow import Escrow, escrow_for, escrow_namespace
from provider.resources.base import ClusterInputs
from provider.spec import ClusterSpec, EscrowSection


class EscrowInputs(ClusterInputs):
    """Where the master secret backup is kept, and its password (for restores and re-backups)."""

    escrow: dict[str, Any]
    server: str
    database: str
    backup_password: str | None = None

    @staticmethod
    def escrow_fields(spec: ClusterSpec) -> dict[str, Any]:
        return {
            "escrow": spec.escrow.model_dump(by_alias=True, mode="json"),
            **EscrowInputs.database_fields(spec),
        }

    def escrow_store(self, *, simulator: bool) -> Escrow:
        """The escrow; a relative or temporary folder is accepted only for the simulator (the demo)."""
        section = EscrowSection.model_validate(self.escrow)
        namespace = escrow_namespace(self.domain, self.network_name)  # bound to this stack's cluster (M2)
        if simulator:
            return escrow_for(section, namespace=namespace, allow_ephemeral=True, project_dir=os.getcwd())
        return escrow_for(section, namespace=namespace, allow_ephemeral=False)
