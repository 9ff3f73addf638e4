"""Simulator handlers of the restore chain where it differs from the single scripts (issue 15).

Why a module of its own: the restore chain was folded for fewer sequential round trips, and sim_handlers.py is
shared by every script. Restore-MasterSecret.ps1 with ``-RemoveCopy`` removes the per-run folder that holds the
backup copy in a ``finally``, whether RestoreSecret succeeded or not (seed "To restore the master secret on the
second cluster node", step 4: the copy does not outlive the restore; docs/design.md "Secrets").
"""

from __future__ import annotations

from provider import contracts
from provider.errors import EssoError
from provider.remote import sim_files, sim_handlers, sim_model
from provider.remote.sim_model import Ctx


def copy_folder(backup_file: str) -> str:
    """The per-run folder that holds the backup copy (its parent, as ``Split-Path -Parent`` gives it)."""
    parent, _, name = backup_file.rpartition("\\")
    return parent if parent and name else backup_file


def restore_master_secret(ctx: Ctx, p: contracts.RestoreParams) -> contracts.ChangeResult[contracts.SecretState]:
    """Restore-MasterSecret.ps1: the restore, then (``remove_copy``) the copy's folder removed in a finally.

    A folder that is not a New-ProtectedTempDir folder is refused before anything happens, as the script's
    Resolve-ProtectedPath does; a failed restore still removes the folder, and its error is raised after that
    removal (the world keeps it)."""
    if not p.remove_copy:
        return sim_handlers.restore_master_secret(ctx, p)
    folder = copy_folder(p.backup_file)
    if sim_model.path_key(folder) not in ctx.node.protected_dirs:
        ctx.fail("ESSO-035", f"{folder} was not made by New-ProtectedTempDir; the copy in it is not removed.")
    try:
        return sim_handlers.restore_master_secret(ctx, p)
    except EssoError as exc:
        ctx.fail_after_change(exc.code, exc.detail)  # raised after the finally below: the world keeps the removal
    finally:
        sim_files.remove_protected_path(ctx, contracts.PathParams(path=folder))
