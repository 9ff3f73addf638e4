"""Simulated Remove-MasterSecretBackup: the backup file a node holds goes once its bytes are escrowed (issue 13 M4).

Why a model of its own: the simulator keeps a node's files, so the tests can see that no master secret backup
(nor a copy moved aside by Backup-MasterSecret or New-MasterSecret) stays on a node after an ``up``, and what a
fault between the escrow and the removal leaves for the next run. The refusals are the script's.
"""

from __future__ import annotations

import re

from provider import contracts
from provider.remote import sim_model
from provider.remote.sim_model import Ctx
from provider.remote.world import Node

__all__ = ["backup_copies", "remove_master_secret_backup"]

_LOCAL_ABSOLUTE = re.compile(r"^[A-Za-z]:\\[^\\]")


def backup_copies(node: Node, path: str) -> list[str]:
    """The keys of ``path`` and of its aside copies (``<path>.previous``, ``<path>.<id>.previous``) on ``node``."""
    key = sim_model.path_key(path)
    return sorted(k for k in node.files if k == key or (k.startswith(key + ".") and k.endswith(".previous")))


def remove_master_secret_backup(ctx: Ctx, p: contracts.PathParams) -> contracts.ChangeResult[contracts.PathState]:
    """As the script: an absolute local file path only, never a folder; removes the file and its aside copies."""
    node = ctx.node
    if not _LOCAL_ABSOLUTE.match(p.path):
        ctx.fail("ESSO-035", f"{p.path} is not an absolute local path (X:\\folder\\file); it is not removed.")
    key = sim_model.path_key(p.path)
    if key in node.protected_dirs or any(sim_model.under(k, key) for k in node.files):
        ctx.fail("ESSO-035", f"{p.path} is a folder, not a master secret backup file; it is not removed.")
    copies = backup_copies(node, p.path)
    for copy in copies:
        del node.files[copy]
    gone = contracts.PathState(path=p.path, exists=False)
    before = contracts.PathState(path=p.path, exists=bool(copies))
    return contracts.ChangeResult[contracts.PathState](changed=bool(copies), before=before, after=gone)
