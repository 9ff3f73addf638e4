"""The simulator's persisted world and the faults it carries: load, save, edit and seed the state file
under a lock; inject a fault, take it, and the error it raises.

Why apart: how the world is stored and how faults are declared change apart from the call path
(``SimulatorRemote.call``) and the handlers.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from provider import contracts
from provider.errors import EssoError
from provider.remote.base import TransientRemoteError
from provider.remote.sim_model import world_for
from provider.remote.world import Fault, World

if TYPE_CHECKING:
    from provider.spec import ClusterSpec


class Simulator:
    """The persisted world: load, save and edit it under an exclusive lock (never nest these calls)."""

    def __init__(self, state_path: str | Path) -> None:
        self.path = Path(state_path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    @contextmanager
    def locked(self) -> Iterator[None]:
        """flock on a sidecar file, so concurrent processes (engine, tests, the CLI) take turns."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def exists(self) -> bool:
        return self.path.exists()

    def read_unlocked(self) -> World:
        if not self.path.exists():
            raise FileNotFoundError(f"no simulator world at {self.path}; seed it (init, seed(), or spec=)")
        return World.model_validate_json(self.path.read_text(encoding="utf-8"))

    def write_unlocked(self, world: World) -> None:
        """Write a temporary file beside the state and rename it over: a reader never sees half a world."""
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(world.model_dump_json(indent=1))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self) -> World:
        with self.locked():
            return self.read_unlocked()

    def save(self, world: World) -> None:
        with self.locked():
            self.write_unlocked(world)

    @contextmanager
    def edit(self) -> Iterator[World]:
        """``with sim.edit() as world: ...`` saves the edited world when the block ends without an error."""
        with self.locked():
            world = self.read_unlocked()
            yield world
            self.write_unlocked(world)

    def seed(self, source: ClusterSpec | World, *, overwrite: bool = True) -> World:
        """Write the world of a stack's configuration (or a given world); keeps an existing one unless told."""
        with self.locked():
            if self.path.exists() and not overwrite:
                return self.read_unlocked()
            world = source if isinstance(source, World) else world_for(source)
            self.write_unlocked(world)
            return world

    def inject(self, node: str, script: str, kind: str = "error", remaining: int = 1, phase: str | None = None) -> None:
        """Add a fault; ``node``/``script`` may be ``*``. ``interrupt`` needs a ``phase`` the script declares."""
        if kind == "interrupt":
            declared = contracts.SCRIPTS[script].phases if script in contracts.SCRIPTS else ()
            if phase not in declared:
                raise ValueError(
                    f"an interrupt of {script} needs --phase, one of: {', '.join(declared) or '(none: single-step)'}"
                )
        if script != "*" and script not in contracts.SCRIPTS:
            raise ValueError(f"unknown script {script}")
        with self.edit() as world:
            world.faults.append(
                Fault.model_validate(
                    {"node": node, "script": script, "kind": kind, "remaining": remaining, "phase": phase}
                )
            )


def _take_fault(world: World, node: str, script: str) -> Fault | None:
    """The first live fault for this node and script (``*`` matches any); it is used up by one."""
    for fault in world.faults:
        if fault.remaining <= 0 or fault.script not in ("*", script):
            continue
        if fault.node == "*" or fault.node.lower() == node.lower():
            fault.remaining -= 1
            return fault
    return None


def _interrupted(node: str, script: str, phase: str) -> EssoError:
    """An ``interrupt`` fault: the session died at ``phase``; to the provider the script may have run (part of it)."""
    return TransientRemoteError(
        "ESSO-031",
        f"injected: the connection dropped while the script ran (interrupted at {phase}).",
        node=node,
        step=script,
        may_have_run=True,
    )


def _fault_error(kind: str, node: str, script: str) -> EssoError:
    if kind == "error":
        return EssoError("ESSO-041", f"injected failure of {script}.", node=node, step=script)
    if kind == "drop_before":
        return TransientRemoteError(
            "ESSO-031",
            "injected: the connection dropped before the script ran.",
            node=node,
            step=script,
            may_have_run=False,
        )
    if kind == "drop_after":
        return TransientRemoteError(
            "ESSO-031",
            "injected: the connection dropped after the script ran.",
            node=node,
            step=script,
            may_have_run=True,
        )
    return TransientRemoteError(
        "ESSO-033", "injected: the operation timed out.", node=node, step=script, may_have_run=True
    )
