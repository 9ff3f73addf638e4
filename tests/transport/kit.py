"""Shared pieces of the transport tests: the identity, fast timeouts, a small in-memory backend."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from provider.remote.psrp import PsrpRemote
from provider.spec import TransportSection
from tests.support.loopback import FakeBackend, Loopback

USER = "CONTOSO\\esso-config"
LOCAL_USER = ".\\esso-local"  # a node's own account: the only kind WinRM's Basic authentication takes
PASSWORD = "WinRM-Sentinel-5c2a!"  # the configuring account's WinRM password (a sentinel the scans look for)
SERVICE_PASSWORD = "Svc-Sentinel-7d1e!"
BACKUP_PASSWORD = "Bak-Sentinel-93fa#"

# 1 s timeouts, as the issue asks; the operation timeout must stay below the read timeout.
FAST: dict[str, Any] = {
    "connect_timeout": 1.0,
    "read_timeout": 1.0,
    "operation_timeout": 0.5,
    "retries": 2,
    "backoff": 0.1,
}


def bound(t: TransportSection) -> float:
    """The issue's limit: an error appears within (retries + 1) x timeout + 2 s."""
    return (t.retries + 1) * max(t.connect_timeout, t.read_timeout) + 2.0


def transport(lb: Loopback | None = None, **overrides: Any) -> TransportSection:
    """NTLM over HTTPS when the endpoint has TLS, NTLM over HTTP (message encryption) otherwise.

    Not Basic: WinRM's Basic takes local accounts only, and USER is a domain account (issue 11 point 4)."""
    settings: dict[str, Any] = dict(FAST)
    settings.update(auth="ntlm", ssl=lb is not None and lb.tls is not None)
    settings.update(overrides)
    if not settings["ssl"]:  # the loopback's plain endpoint: HTTP is a weakening the stack must accept (M3)
        settings.setdefault("accept_weaker_transport", ["http"])
    return TransportSection(**settings)


def remote(lb: Loopback, *, password: str = PASSWORD, user: str = USER, **overrides: Any) -> PsrpRemote:
    return PsrpRemote(
        transport(lb, **overrides),
        username=user,
        password=SecretStr(password),
        resolver=lb.resolver,
    )


def node_facts(node: str, start_type: str = "Manual", **extra: Any) -> dict[str, Any]:
    """A Get-NodeFacts answer as a script would emit it (camelCase keys, '' for some nulls)."""
    facts: dict[str, Any] = {
        "computerName": node,
        "essoInstalled": True,
        "essoVersion": "11.0.2000.0",
        "entsso": {"state": "Stopped", "startType": start_type, "account": ""},
        "ssoConfig": None,
        "ssossMsids": [],
        "nlbInstalled": False,
        "logonRight": {"granted": True, "viaGpo": False, "gpoIncludesAccount": False},
        "tokenHasAdminGroup": True,
        "clusterNodeState": "Up",
        "dtcCid": "",
        "secretServerStatus": {"flags": 0, "running": False, "clustered": False},
    }
    facts.update(extra)
    return facts


@dataclass
class MiniBackend(FakeBackend):
    """Just enough of a node for transport tests: ENTSSO's start mode, and files for the chunk scripts."""

    start_type: dict[str, str] = field(default_factory=dict)
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.answer = self._answer

    def _answer(self, node: str, script: str, params: dict[str, Any]) -> dict[str, Any]:
        if script == "Get-NodeFacts":
            return node_facts(node, self.start_type.get(node, "Automatic"))
        if script == "Set-EntSsoStartMode":
            before = self.start_type.get(node, "Automatic")
            self.start_type[node] = params["StartMode"]
            return {
                "changed": before != params["StartMode"],
                "before": {"startType": before, "state": "Stopped"},
                "after": {"startType": params["StartMode"], "state": "Stopped"},
            }
        if script == "Write-FileChunk":
            key = (node, params["Path"].lower())
            data = base64.b64decode(params["DataBase64"])
            current = b"" if params["Offset"] == 0 else self.files[key]
            if len(current) != params["Offset"]:
                raise RuntimeError("chunks must be written in order")
            self.files[key] = current + data
            digest = hashlib.sha256(self.files[key]).hexdigest()
            return {"path": params["Path"], "size": len(self.files[key]), "sha256": digest}
        if script == "Read-FileChunk":
            content = self.files[(node, params["Path"].lower())]
            start = params["Offset"]
            part = content[start : start + params["Length"]]
            return {
                "dataBase64": base64.b64encode(part).decode(),
                "size": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
            }
        raise RuntimeError(f"MiniBackend does not run {script}")
