"""The session registry: one RunspacePool per (node endpoint, identity), a lock per node.

Why: the provider host's threads share sessions; one pipeline at a time per node keeps the node's order, and a
session broken by a transport failure is dropped, never reused.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Server-side idle timeout of a pooled session: long enough for a `pulumi up`, short enough that
# a crashed provider host does not hold one of the user's 30 shells (MaxShellsPerUser) for 2 hours.
POOL_IDLE_TIMEOUT_S = 600

# --------------------------------------------------------------------------------- pool registry


@dataclass
class _PoolEntry:
    fingerprint: str
    wsman: Any  # pypsrp.wsman.WSMan
    pool: Any  # pypsrp.powershell.RunspacePool
    uses: int = 0


_PROCESS_KEY = os.urandom(32)  # fingerprints of settings never outlive the process
_REGISTRY_LOCK = threading.Lock()
_NODE_LOCKS: dict[str, threading.Lock] = {}
_POOLS: dict[tuple[str, str], _PoolEntry] = {}


def node_lock(endpoint_key: str) -> threading.Lock:
    """The lock that serializes every operation sent to one node."""
    with _REGISTRY_LOCK:
        return _NODE_LOCKS.setdefault(endpoint_key, threading.Lock())


def _shutdown(entry: _PoolEntry, *, graceful: bool) -> None:
    if graceful:
        with contextlib.suppress(Exception):  # best effort: otherwise the shell idles out on the node
            entry.pool.close()  # WS-Man Delete: the node frees the shell now
    with contextlib.suppress(Exception):
        entry.wsman.close()


def close_pools() -> None:
    """Close every pooled session (tests, and process exit)."""
    with _REGISTRY_LOCK:
        keys = list(_POOLS)
    for key in keys:
        with node_lock(key[0]):
            entry = _POOLS.pop(key, None)
            if entry is not None:
                _shutdown(entry, graceful=True)


def open_pool_count() -> int:
    with _REGISTRY_LOCK:
        return len(_POOLS)


atexit.register(close_pools)


def _quiet_wsman(host: str, kwargs: Mapping[str, Any]) -> Any:
    """A WSMan whose Receive does not retry a read timeout five times (pypsrp 0.9 does, silently)."""
    from pypsrp.wsman import NAMESPACES, WSMan, WSManAction

    class _WSMan(WSMan):
        def receive(
            self,
            resource_uri: str,
            resource: Any,
            option_set: Any = None,
            selector_set: Any = None,
            timeout: int | None = None,
        ) -> Any:
            res = self.invoke(WSManAction.RECEIVE, resource_uri, resource, option_set, selector_set, timeout)
            return res.find("s:Body", namespaces=NAMESPACES)

    return _WSMan(host, **kwargs)
