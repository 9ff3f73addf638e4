"""Simulated master secret rotation: New-MasterSecret and the master secret server's re-encryption.

Why a model of its own: "Master Secret Server" (learn.microsoft.com biztalk/core/master-secret-server) says the
master secret server keeps the old and the new secret after a new one is generated and re-encrypts every stored
credential. The simulator holds both on the generating node while re-encryption runs, moves every credential and
the database's MSID to the new secret when it ends, and drops the old one there; a node that holds only the old
secret then fails ``holds_current_msid`` and cannot serve after a failover. Re-encryption runs in the background:
it advances one step before every simulator call (``World.reencrypt_calls`` calls in all), never inside a read
script, so tests decide how long it takes.
"""

from __future__ import annotations

import hashlib

from provider import contracts
from provider.remote import sim_model
from provider.remote.sim_files import read_file, write_file
from provider.remote.sim_handlers import _backup_blob, _database_or_fail, _require_installed, _secret
from provider.remote.sim_model import Ctx
from provider.remote.world import SsoDatabase, World, secret_digest

__all__ = ["advance_reencryption", "new_master_secret"]


def new_master_secret(ctx: Ctx, p: contracts.NewSecretParams) -> contracts.ChangeResult[contracts.NewSecretState]:
    """ISSOConfigSS.GenerateSecret on the node running the clustered ENTSSO; a repeat after an interrupted run
    backs the already generated secret up instead (as New-MasterSecret.ps1)."""
    world, node = ctx.world, ctx.node
    password = _secret(p.backup_password)
    if not node.ssoss:
        ctx.fail("ESSO-025", f"{node.name} holds no master secret (SSOSS is empty).")
    expected = p.expected_msid.lower()
    for resource in sim_model.entsso_resources(world):
        owner = sim_model.owner_of(world, resource)
        if resource.state != "Online" or owner is None or owner.name.lower() != node.name.lower():
            where = owner.name if owner else "no node"
            ctx.fail("ESSO-029", f"the ENTSSO resource {resource.name} is {resource.state} on {where}, not here.")
    _require_installed(ctx)  # as Import-EssoInterop in the script
    db = _database_or_fail(ctx)
    if not password:
        ctx.fail("ESSO-035", "the master secret backup needs a password.")
    generate = node.ssoss[-1].lower() == expected
    if generate:
        new = sim_model.new_msid()
        node.ssoss.append(new)  # the old secret stays until re-encryption ends
        db.reencrypt_to = new
        db.reencrypt_on = node.name
        db.reencrypt_calls_left = world.reencrypt_calls
    current = node.ssoss[-1]
    data = _backup_blob(current, password, p.reminder, read_file(node, p.backup_file))
    write_file(node, p.backup_file, data)
    db.backup_password_digest = secret_digest(password, f"backup:{current}")
    after = contracts.NewSecretState(
        msid=current, previous_msid=p.expected_msid, file=p.backup_file, sha256=hashlib.sha256(data).hexdigest()
    )
    return contracts.ChangeResult[contracts.NewSecretState](changed=generate, before=None, after=after)


def advance_reencryption(world: World) -> None:
    """One step of every master secret server's re-encryption; at the end every credential, and the database's
    MSID, are under the new secret and the generating node keeps only the new one."""
    for db in world.databases.values():
        _advance(world, db)


def _advance(world: World, db: SsoDatabase) -> None:
    if db.reencrypt_to is None:
        return
    if db.reencrypt_calls_left > 0:
        db.reencrypt_calls_left -= 1
        return
    old, new = db.msid, db.reencrypt_to
    for credential in db.credentials:
        if credential.msid.lower() == old.lower():
            credential.msid = new
    db.msid = new
    node = sim_model.find_node(world, db.reencrypt_on or "")
    if node is not None:
        node.ssoss = [x for x in node.ssoss if x.lower() != old.lower()]
    db.reencrypt_to = None
    db.reencrypt_on = None
