"""What runs the scripts behind the loopback endpoint: a fake for transport tests, or the simulator.

Why: the endpoint proves the transport; the backend decides what a script returns. ``SimulatorBackend`` goes
through ``SimulatorRemote.call``, the simulator's one call path, so a procedure driven through the endpoint
leaves the same world (calls, clock, tokens) as one driven in process.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from psrpcore.types import PSSecureString

from provider import contracts
from provider.remote.base import TransientRemoteError
from provider.remote.script_source import SCRIPTS_DIR, assembled
from tests.support.loopback_wire import DropConnectionError, NeverAnswerError


class Backend(Protocol):
    """What runs the scripts behind the endpoint (the simulator, or a fake in unit tests)."""

    def logon(self, node: str, identity: str) -> None: ...

    def run(self, node: str, script: str, params: dict[str, Any], identity: str) -> dict[str, Any]: ...


@dataclass
class FakeBackend:
    """A backend for transport tests: answers every script with ``answer(node, script, params)``."""

    answer: Callable[[str, str, dict[str, Any]], dict[str, Any]] = lambda node, script, params: {"ok": True}
    calls: dict[str, int] = field(default_factory=dict)
    logons: list[tuple[str, str]] = field(default_factory=list)
    seen: list[tuple[str, str, dict[str, Any], str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def logon(self, node: str, identity: str) -> None:
        with self.lock:
            self.logons.append((node, identity))

    def run(self, node: str, script: str, params: dict[str, Any], identity: str) -> dict[str, Any]:
        with self.lock:
            key = f"{node}/{script}"
            self.calls[key] = self.calls.get(key, 0) + 1
            self.seen.append((node, script, params, identity))
        return self.answer(node, script, params)


class SimulatorBackend:
    """The simulator behind the endpoint: ``SimulatorRemote.call`` per script, one remote per WinRM identity.

    Logon sessions (rule 13): a new shell is a new logon session. When the identity already holds a token on
    the node, Create issues the new one (``SimulatorRemote.renew_logon``, as in process); otherwise the first
    script opens it after the call is counted, as a first use does in process (``reuse_sessions``).
    A transient error of the call path is the connection's fate: ESSO-033 (``hang``) never answers, any other
    (unreachable, ``drop_before``, ``drop_after``) closes the connection; other errors are the script's.
    """

    def __init__(self, state: Path) -> None:
        from provider.remote.simulator import Simulator

        self.sim = Simulator(state)
        self.state = state
        self._remotes: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _remote(self, identity: str) -> Any:
        from provider.remote.simulator import SimulatorRemote

        with self._lock:
            if identity not in self._remotes:
                self._remotes[identity] = SimulatorRemote(self.state, identity=identity, reuse_sessions=True)
            return self._remotes[identity]

    def logon(self, node: str, identity: str) -> None:
        from provider.remote.sim_model import find_node

        target = find_node(self.sim.load(), node)
        if target is None or not target.reachable:
            raise DropConnectionError()
        if identity in target.tokens:
            try:
                self._remote(identity).renew_logon(node)
            except TransientRemoteError:
                raise DropConnectionError() from None

    def run(self, node: str, script: str, params: dict[str, Any], identity: str) -> dict[str, Any]:
        try:
            result: dict[str, Any] = self._remote(identity).call(node, script, params)
        except TransientRemoteError as err:
            raise (NeverAnswerError() if err.code == "ESSO-033" else DropConnectionError()) from None
        return result


def plain(value: Any) -> Any:
    """psrpcore's deserialized values -> plain Python (SecureString decrypted), for the backend."""
    if isinstance(value, PSSecureString):
        return value.decrypt()
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


class ScriptIndex:
    """Exact script text as the client sends it (assembled) -> contract name, with a header fallback."""

    _HEADER = re.compile(r"^\s*#\s*(?:Script:\s*)?([A-Z][A-Za-z]*-[A-Za-z]+)(?:\.ps1)?\b", re.MULTILINE)

    def __init__(self, folder: Path = SCRIPTS_DIR) -> None:
        self.folder = folder
        self._by_text: dict[str, str] = {}
        self._lock = threading.Lock()

    def _load(self) -> None:
        self._by_text = {}
        for name in contracts.SCRIPTS:
            if (self.folder / f"{name}.ps1").is_file():
                self._by_text[assembled(name, self.folder)] = name

    def name(self, text: str) -> str | None:
        with self._lock:
            if text not in self._by_text:
                self._load()
            found = self._by_text.get(text)
        if found is not None:
            return found
        for match in self._HEADER.finditer(text[:2000]):
            if match.group(1) in contracts.SCRIPTS:
                return match.group(1)
        return None
