"""Simulated file scripts: protected temporary folders and chunked transfer (Write-/Read-FileChunk).

Why apart: ``Remote.send_file``/``fetch_file`` are built on these two scripts, and the backup file of the
master secret travels through them, so they verify a SHA-256 and never leave an unverified copy behind.
Files inside a ``New-ProtectedTempDir`` folder carry an Administrators-only ACL (docs/design.md "Secrets").
Windows paths are case-insensitive: files are stored under lower-cased keys.
"""

from __future__ import annotations

import base64
import hashlib
import re

from provider import contracts
from provider.remote import sim_model
from provider.remote.sim_model import Ctx
from provider.remote.world import Node, SimFile

TEMP_ROOT = "C:\\Windows\\Temp"
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def read_file(node: Node, path: str) -> bytes | None:
    """A node's file content, or None when it does not exist (case-insensitive path)."""
    found = node.files.get(sim_model.path_key(path))
    return base64.b64decode(found.data_base64) if found is not None else None


def _protected(node: Node, key: str) -> bool:
    return any(key == d or sim_model.under(key, d) for d in node.protected_dirs)


def write_file(node: Node, path: str, data: bytes) -> None:
    """Create or replace a file; inside a protected folder it inherits the Administrators-only ACL."""
    key = sim_model.path_key(path)
    node.files[key] = SimFile(data_base64=base64.b64encode(data).decode("ascii"), admin_only_acl=_protected(node, key))


def read_file_chunk(ctx: Ctx, p: contracts.ReadFileChunkParams) -> contracts.FileChunk:
    data = read_file(ctx.node, p.path)
    if data is None:
        ctx.fail("ESSO-035", f"cannot find path {p.path} because it does not exist.")
    if p.offset < 0 or p.length < 0:
        ctx.fail("ESSO-035", "offset and length must not be negative.")
    chunk = data[p.offset : p.offset + p.length]
    return contracts.FileChunk(
        data_base64=base64.b64encode(chunk).decode("ascii"), size=len(data), sha256=hashlib.sha256(data).hexdigest()
    )


def new_protected_temp_dir(ctx: Ctx, p: contracts.TempDirParams) -> contracts.ChangeResult[contracts.PathState]:
    if not _RUN_ID.match(p.run_id):
        ctx.fail("ESSO-035", "the run id may hold only letters, digits, '-' and '_'.")
    if p.reader and sim_model.find_user(ctx.world, p.reader) is None:
        ctx.fail("ESSO-003", f"the account {p.reader} does not resolve to a SID on {ctx.node.name}.")
    path = f"{TEMP_ROOT}\\esso-{p.run_id}"
    key = sim_model.path_key(path)
    if key in ctx.node.protected_dirs:
        state = contracts.PathState(path=path, exists=True)
        changed = ctx.node.dir_readers.get(key, "") != p.reader  # the script re-applies the ACL
        _set_reader(ctx.node, key, p.reader)
        return contracts.ChangeResult[contracts.PathState](changed=changed, before=state, after=state)
    ctx.node.protected_dirs.append(key)
    _set_reader(ctx.node, key, p.reader)
    return contracts.ChangeResult[contracts.PathState](
        changed=True,
        before=contracts.PathState(path=path, exists=False),
        after=contracts.PathState(path=path, exists=True),
    )


def _set_reader(node: Node, key: str, reader: str) -> None:
    if reader:
        node.dir_readers[key] = reader
    else:
        node.dir_readers.pop(key, None)


def write_file_chunk(ctx: Ctx, p: contracts.WriteFileChunkParams) -> contracts.WrittenFile:
    node = ctx.node
    try:
        chunk = base64.b64decode(p.data_base64, validate=True)
    except ValueError:
        ctx.fail("ESSO-035", "the chunk is not valid base64.")
    current = b"" if p.offset == 0 else read_file(node, p.path)
    if current is None or p.offset > len(current) or p.offset < 0:
        have = 0 if current is None else len(current)
        ctx.fail("ESSO-022", f"a chunk for offset {p.offset} arrived but {p.path} holds {have} bytes.")
    data = current[: p.offset] + chunk
    digest = hashlib.sha256(data).hexdigest()
    if p.final and digest != p.expected_sha256.lower():
        node.files.pop(sim_model.path_key(p.path), None)  # never leave an unverified copy behind
        ctx.fail("ESSO-022", f"{p.path} has SHA-256 {digest} after the last chunk, expected {p.expected_sha256}.")
    write_file(node, p.path, data)
    return contracts.WrittenFile(path=p.path, size=len(data), sha256=digest)


def remove_protected_path(ctx: Ctx, p: contracts.PathParams) -> contracts.ChangeResult[contracts.PathState]:
    """Remove a New-ProtectedTempDir folder (or a file in one) with everything under it; nothing else."""
    node = ctx.node
    key = sim_model.path_key(p.path)
    is_dir = key in node.protected_dirs
    exists = is_dir or key in node.files
    gone = contracts.PathState(path=p.path, exists=False)
    if not exists:
        return contracts.ChangeResult[contracts.PathState](changed=False, before=gone, after=gone)
    if not _protected(node, key):
        ctx.fail("ESSO-035", f"{p.path} was not made by New-ProtectedTempDir; it is not removed.")
    node.files = {k: v for k, v in node.files.items() if k != key and not sim_model.under(k, key)}
    node.protected_dirs = [d for d in node.protected_dirs if d != key and not sim_model.under(d, key)]
    node.dir_readers = {d: r for d, r in node.dir_readers.items() if d != key and not sim_model.under(d, key)}
    return contracts.ChangeResult[contracts.PathState](
        changed=True, before=contracts.PathState(path=p.path, exists=True), after=gone
    )
