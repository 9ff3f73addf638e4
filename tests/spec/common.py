"""A valid configuration to start from, and a way to change one dotted key of it."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from provider.spec import Problem, SpecError, load_spec

ROOT = Path(__file__).resolve().parents[2]
STACKS = ROOT / "stacks"
PYTHON = ROOT / "venv" / "bin" / "python"

SERVICE_SENTINEL = "Svc-Sentinel-5b9c1e77!"
BACKUP_SENTINEL = "Bak-Sentinel-0d42aa31#"
WINRM_SENTINEL = "WinRM-Sentinel-6f13c2d8%"
SENTINELS = (SERVICE_SENTINEL, BACKUP_SENTINEL, WINRM_SENTINEL)

DELETE = object()  # a change that removes the key


def base_config() -> dict[str, Any]:
    """A winrm stack that passes every rule (un-prefixed keys, as a provider's configure() sees them)."""
    return {
        "target": "winrm",
        "cluster": {
            "networkName": "BIZTALKSSO",
            "role": "SSO",
            "nodes": ["SSO01", "SSO02"],
            "dnsSuffix": "contoso.com",
        },
        "domain": {"name": "CONTOSO"},
        "sso": {"serviceAccount": "CONTOSO\\svc-entsso", "configuringAccount": "CONTOSO\\esso-config"},
        "database": {"server": "SQL01", "name": "SSODB"},
        "backup": {"path": r"D:\ESSO\SSOSecret.bak", "reminder": "see the vault"},
        "escrow": {"kind": "local", "path": "/srv/esso-escrow"},
        "transport": {"auth": "negotiate", "ssl": True, "port": 5986},
        "allowDisruption": False,
        "failover": {"verify": True},
        "policy": {"protectSsoSystem": True, "onDestroy": "retain"},
        "serviceAccountPassword": SERVICE_SENTINEL,
        "backupPassword": BACKUP_SENTINEL,
        "winrmPassword": WINRM_SENTINEL,
    }


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _parts(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _PART.findall(path)]


def changed(config: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``config`` with each dotted key (``cluster.nodes[1]``) set, or removed with DELETE."""
    out = copy.deepcopy(config)
    for path, value in changes.items():
        parts = _parts(path)
        node: Any = out
        for part in parts[:-1]:
            if isinstance(part, str) and part not in node:
                node[part] = {}
            node = node[part]
        last = parts[-1]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return out


def problems(config: dict[str, Any], secrets: dict[str, str] | None = None) -> list[Problem]:
    """The problems load_spec reports (fails the test if it accepts the configuration)."""
    try:
        load_spec(config, secrets=secrets)
    except SpecError as exc:
        return exc.problems
    raise AssertionError("the configuration was accepted")
