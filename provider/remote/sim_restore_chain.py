"""Simulator handlers of the restore chain where it differs from the single scripts (issue 15).

Why a module of its own: the restore chain was folded for fewer sequential round trips, and sim_handlers.py is
shared by every script. Restore-MasterSecret.ps1 with ``-RemoveCopy`` removes the per-run folder that holds the
backup copy in a ``finally``, whether RestoreSecret succeeded or not (seed "To restore the master secret on the
second cluster node", step 4: the copy does not outlive the restore; docs/design.md "Secrets"). Move-SsoRole.ps1
with ``-CycleResource`` takes the ENTSSO resource offline and online once the role is on the node (steps 2-3 in one
call). Write-FileChunk.ps1 with ``-RunId`` makes the per-run folder with the first chunk (step 4 in one call).
"""

from __future__ import annotations

import re

from provider import contracts
from provider.errors import EssoError
from provider.remote import sim_cluster, sim_files, sim_model, sim_ssomanage
from provider.remote.sim_model import Ctx

_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # Write-FileChunk.ps1's check of Path with RunId


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
        return sim_ssomanage.restore_master_secret(ctx, p)
    folder = copy_folder(p.backup_file)
    if sim_model.path_key(folder) not in ctx.node.protected_dirs:
        ctx.fail("ESSO-035", f"{folder} was not made by New-ProtectedTempDir; the copy in it is not removed.")
    try:
        return sim_ssomanage.restore_master_secret(ctx, p)
    except EssoError as exc:
        ctx.fail_after_change(exc.code, exc.detail)  # raised after the finally below: the world keeps the removal
    finally:
        sim_files.remove_protected_path(ctx, contracts.PathParams(path=folder))


def move_sso_role(ctx: Ctx, p: contracts.MoveRoleParams) -> contracts.ChangeResult[contracts.RoleState]:
    """Move-SsoRole.ps1: the role Online on the node, then (``cycle_resource``) the resource's offline/online cycle
    there, as Restart-SsoClusterResource.ps1 does it (its "offline" phase, its ESSO-026). A resource that does not
    exist is refused before the role moves."""
    if p.cycle_resource and sim_model.find_resource(ctx.world, p.cycle_resource) is None:
        ctx.fail("ESSO-035", f"the cluster resource {p.cycle_resource} was not found; the role was not moved.")
    moved = sim_cluster.move_sso_role(ctx, p)
    if not p.cycle_resource:
        return moved
    sim_cluster.restart_sso_cluster_resource(ctx, contracts.ResourceParams(resource_name=p.cycle_resource))
    group = sim_model.find_cluster_group(ctx.world, p.role_name)
    assert group is not None  # the move found it
    after = contracts.RoleState(owner_node=group.owner_node, state=group.state)
    return contracts.ChangeResult[contracts.RoleState](changed=True, before=moved.before, after=after)


def write_file_chunk(ctx: Ctx, p: contracts.WriteFileChunkParams) -> contracts.WrittenFile:
    """Write-FileChunk.ps1: with ``run_id`` (first chunk only) the per-run folder made or checked as
    New-ProtectedTempDir.ps1 does, and ``path`` a plain file name in it; then the chunk as before. The folder stays
    made when the write then fails (a mismatched copy is deleted, ESSO-022), as on Windows."""
    if not p.run_id:
        return sim_files.write_file_chunk(ctx, p)
    if p.offset != 0 or not _FILE_NAME.match(p.path) or ".." in p.path:
        ctx.fail("ESSO-035", f"with a run id, {p.path} must be a plain file name, written from offset 0.")
    made = sim_files.new_protected_temp_dir(ctx, contracts.TempDirParams(run_id=p.run_id, reader=p.reader))
    chunk = p.model_copy(update={"path": f"{made.after.path}\\{p.path}", "run_id": "", "reader": ""})
    try:
        return sim_files.write_file_chunk(ctx, chunk)
    except EssoError as exc:
        ctx.fail_after_change(exc.code, exc.detail)
