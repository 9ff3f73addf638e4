"""What ``esso plan`` knows of a stack: its configuration with secrets, and its state (issue 18, point 4).

Secrets come, in this order, from a file in the format of ``pulumi config --show-secrets --json``
(``--config-json FILE``), from the Pulumi CLI itself when it is on PATH (the stack's decrypted config, as the
Automation API reads it: ``pulumi config --show-secrets --json --stack NAME``), or from the stack file plus the
environment variables in ``SECRET_ENV``. Never from a command-line argument: a password on a command line is
in the shell history and in every process listing.

The state is the stack's ``pulumi stack export --show-secrets`` (from the CLI, or ``--state-json FILE``); without
either the plan assumes an empty state (a first ``up``) and says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from provider.config.loading import load_spec, load_stack_file
from provider.errors import EssoError
from provider.operate.plan import StateResource
from provider.operate.program import PROJECT
from provider.spec import SECRET_KEYS, ClusterSpec

SECRET_ENV = {
    "serviceAccountPassword": "ESSO_SERVICE_ACCOUNT_PASSWORD",
    "backupPassword": "ESSO_BACKUP_PASSWORD",
    "winrmPassword": "ESSO_WINRM_PASSWORD",
}
_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 - the SDK's secret marker, not a secret


def _env_secrets(env: Mapping[str, str]) -> dict[str, str]:
    return {key: env[var] for key, var in SECRET_ENV.items() if env.get(var)}


def config_from_cli_json(document: Mapping[str, Any], project: str = PROJECT) -> dict[str, Any]:
    """Un-prefixed keys from ``pulumi config --show-secrets --json`` output (objects as mappings)."""
    values: dict[str, Any] = {}
    for full, entry in document.items():
        namespace, _, key = str(full).partition(":")
        if namespace != project or not isinstance(entry, Mapping):
            continue
        if entry.get("secret") and "value" not in entry:
            raise EssoError(
                "ESSO-040",
                f"{full} is a secret without its value: the file must come from `pulumi config --show-secrets --json`.",
            )
        values[key] = entry["objectValue"] if "objectValue" in entry else entry.get("value")
    return values


def _pulumi(args: list[str], project_dir: Path) -> str | None:
    exe = shutil.which("pulumi")
    if exe is None:
        return None
    done = subprocess.run(
        [exe, *args, "--non-interactive", "--cwd", str(project_dir)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no output"])[0][:300]
        raise EssoError("ESSO-040", f"`pulumi {args[0]} {args[1] if len(args) > 1 else ''}` failed: {first}")
    return done.stdout


def load_config(
    stack: str,
    *,
    project_dir: Path,
    config_json: Path | None = None,
    env: Mapping[str, str] | None = None,
    use_cli: bool = True,
) -> tuple[ClusterSpec, str]:
    """The stack's configuration with its secrets, and where it came from."""
    environ = dict(os.environ if env is None else env)
    secrets = _env_secrets(environ)
    if config_json is not None:
        values = config_from_cli_json(json.loads(config_json.read_text(encoding="utf-8")))
        return load_spec({**values, **{k: v for k, v in secrets.items() if not values.get(k)}}), str(config_json)
    text = _pulumi(["config", "--show-secrets", "--json", "--stack", stack], project_dir) if use_cli else None
    if text is not None:
        values = config_from_cli_json(json.loads(text))
        return load_spec({**values, **{k: v for k, v in secrets.items() if not values.get(k)}}), "the Pulumi CLI"
    path = project_dir / "stacks" / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise EssoError(
            "ESSO-040",
            f"no Pulumi CLI on PATH and no {path}: give --config-json FILE (pulumi config --show-secrets --json).",
        )
    missing = [SECRET_ENV[k] for k in ("serviceAccountPassword",) if k not in secrets]
    if missing:
        raise EssoError(
            "ESSO-040",
            f"{path} holds no decrypted secret: set {', '.join(missing)} in the environment (never on the command "
            "line), or give --config-json FILE from `pulumi config --show-secrets --json`.",
        )
    return load_stack_file(path, secrets), f"{path} and the environment"


def _reveal(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270":
            if "plaintext" in value:
                return _reveal(json.loads(value["plaintext"]))
            return _reveal(value.get("value"))
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value


def state_from_export(document: Mapping[str, Any]) -> dict[str, StateResource]:
    """The ESSO resources of a ``pulumi stack export --show-secrets`` document, in state order, by name."""
    deployment = document.get("deployment") or {}
    state: dict[str, StateResource] = {}
    for resource in deployment.get("resources") or []:
        kind = str(resource.get("type", ""))
        if not kind.startswith("pulumi-python:dynamic") or resource.get("delete"):
            continue
        name = str(resource.get("urn", "")).rsplit("::", 1)[-1]
        state[name] = StateResource(
            id=str(resource.get("id", "")),
            type=kind,
            inputs=_reveal(resource.get("inputs") or {}),
            outputs=_reveal(resource.get("outputs") or {}),
        )
    return state


def load_state(
    stack: str, *, project_dir: Path, state_json: Path | None = None
) -> tuple[dict[str, StateResource], str]:
    """The stack's state and where it came from ("none": a first ``up``)."""
    if state_json is not None:
        return state_from_export(json.loads(state_json.read_text(encoding="utf-8"))), str(state_json)
    text = _pulumi(["stack", "export", "--show-secrets", "--stack", stack], project_dir)
    if text is None:
        return {}, "none"
    return state_from_export(json.loads(text)), "the Pulumi CLI"


__all__ = ["SECRET_ENV", "SECRET_KEYS", "config_from_cli_json", "load_config", "load_state", "state_from_export"]
