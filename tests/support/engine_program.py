"""The program side of the engine harness: the stack configuration, and what ``__main__.py`` registers.

The language host runs the program and sends one ``RegisterResource`` per resource to the engine's
resource monitor. Here the program runs under ``pulumi.runtime.set_mocks`` with a monitor that keeps
each raw request, so the harness learns exactly what the engine would receive: type, name, parent,
the inputs (passwords and ``__provider`` secret-wrapped), the dependencies, ``replaceWith``,
``additionalSecretOutputs``, ``protect``, ``retainOnDelete`` and ``deleteBeforeReplace``.

The harness then plans on the complete set of registrations (the real engine interleaves: each step runs
as its registration arrives and its outputs flow back into the program). That is equivalent only when no
input is computed from another resource's output, which docs/design.md requires ("ordering uses depends_on or
replace_with, not chained outputs"). ``learn`` refuses a program that has property dependencies, so the
shortcut cannot silently become wrong.

``python -m tests.support.engine_program`` (stdin: a config JSON; stdout: the registrations as JSON) runs
the same learning in a fresh interpreter whose cwd is another project directory (a copy with an edited
provider module, for instance).
"""

from __future__ import annotations

import base64
import json
import os
import runpy
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from tests.support.engine_wire import UNKNOWN, Secret, decode_value, encode_value, from_struct, strip_secrets

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "esso-cluster"
DYNAMIC_PREFIX = "pulumi-python:dynamic"

__all__ = ["PROJECT", "ROOT", "Program", "Registration", "StackConfig", "learn"]


# ------------------------------------------------------------------------------------------ config


def project_defaults(project_dir: Path = ROOT) -> dict[str, Any]:
    """The ``default`` of each key declared in ``Pulumi.yaml``'s ``config``: the engine merges them onto the
    stack's config (``ApplyProjectConfig``, ``pkg/workspace/config.go``: "Project-level defaults and values
    are still merged onto the stack config"), so Configure and the program see them too. A key the stack
    sets wins whole (an object is not merged key by key)."""
    declared = yaml.safe_load((project_dir / "Pulumi.yaml").read_text(encoding="utf-8")).get("config") or {}
    return {k: v["default"] for k, v in declared.items() if isinstance(v, Mapping) and "default" in v}


def _merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass(frozen=True)
class StackConfig:
    """A stack's configuration: un-prefixed keys (sections as mappings) and which keys are secret."""

    values: Mapping[str, Any]
    secret_keys: frozenset[str] = frozenset()
    project: str = PROJECT
    stack: str = "demo"

    @classmethod
    def demo(cls, tmp_path: Path, secrets: Mapping[str, str], **overrides: Any) -> StackConfig:
        """``stacks/Pulumi.demo.yaml`` with its world and escrow under ``tmp_path``, plus the secrets."""
        raw = yaml.safe_load((ROOT / "stacks" / "Pulumi.demo.yaml").read_text(encoding="utf-8"))["config"]
        values: dict[str, Any] = {**project_defaults(), **{k.split(":", 1)[1]: v for k, v in raw.items()}}
        values["simulatorState"] = str(tmp_path / "world.json")
        values["escrow"] = {"kind": "local", "path": str(tmp_path / "escrow")}
        return cls(_merge(values, {**overrides, **secrets}), frozenset(secrets))

    def with_(self, **overrides: Any) -> StackConfig:
        """This configuration with some keys changed (sections are merged key by key)."""
        return replace(self, values=_merge(self.values, overrides))

    @property
    def simulator_state(self) -> Path:
        return Path(str(self.values["simulatorState"]))

    def text(self) -> dict[str, str]:
        """``<project>:<key>`` -> text, as the CLI hands config over: JSON text for objects and booleans."""
        return {
            f"{self.project}:{k}": v if isinstance(v, str) else json.dumps(v)
            for k, v in self.values.items()
            if v is not None
        }

    def engine_values(self) -> dict[str, Any]:
        """The config as the engine holds it: secret keys decrypted and marked secret."""
        prefixed = {f"{self.project}:{k}" for k in self.secret_keys}
        return {k: Secret(v) if k in prefixed else v for k, v in self.text().items()}

    def secret_values(self) -> list[str]:
        return [str(self.values[k]) for k in sorted(self.secret_keys) if self.values.get(k)]


# ------------------------------------------------------------------------------------------ registrations


@dataclass(frozen=True)
class Registration:
    """One ``RegisterResourceRequest`` as the engine receives it (``resource.Goal``)."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    inputs: Mapping[str, Any]
    dependencies: tuple[str, ...] = ()
    replace_with: tuple[str, ...] = ()
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool | None = None
    additional_secret_outputs: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def dynamic(self) -> bool:
        return self.custom and self.type.startswith(DYNAMIC_PREFIX)

    @property
    def provider_blob(self) -> str:
        """The ``__provider`` input: base64 of the dill pickle, as ``dyn.Resource.__init__`` built it."""
        value = self.inputs["__provider"]
        return str(strip_secrets(value))

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "custom": self.custom,
            "parent": self.parent,
            "inputs": encode_value(self.inputs, keep_secrets=True),
            "dependencies": list(self.dependencies),
            "replaceWith": list(self.replace_with),
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "deleteBeforeReplace": self.delete_before_replace,
            "additionalSecretOutputs": list(self.additional_secret_outputs),
            "propertyDependencies": {k: list(v) for k, v in self.property_dependencies.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Registration:
        return cls(
            urn=data["urn"],
            type=data["type"],
            name=data["name"],
            custom=data["custom"],
            parent=data["parent"],
            inputs=decode_value(data["inputs"]),
            dependencies=tuple(data["dependencies"]),
            replace_with=tuple(data["replaceWith"]),
            protect=data["protect"],
            retain_on_delete=data["retainOnDelete"],
            delete_before_replace=data["deleteBeforeReplace"],
            additional_secret_outputs=tuple(data["additionalSecretOutputs"]),
            property_dependencies={k: tuple(v) for k, v in data["propertyDependencies"].items()},
        )


@dataclass(frozen=True)
class Program:
    """What one run of the program registered, in registration order, and the config it ran with."""

    config: StackConfig
    registrations: tuple[Registration, ...]

    @property
    def dynamic(self) -> list[Registration]:
        return [r for r in self.registrations if r.dynamic]

    def named(self, name: str) -> Registration:
        return next(r for r in self.registrations if r.name == name)

    def names(self) -> list[str]:
        return [r.name for r in self.dynamic]

    def provider_blob(self, name: str) -> bytes:
        return base64.b64decode(self.named(name).provider_blob)


def _registration(request: Any, urn: str) -> Registration:
    inputs = from_struct(request.object)
    return Registration(
        urn=urn,
        type=request.type,
        name=request.name,
        custom=bool(request.custom),
        parent=request.parent,
        inputs=inputs,
        dependencies=tuple(request.dependencies),
        replace_with=tuple(request.replace_with),
        protect=bool(request.protect),
        retain_on_delete=bool(request.retainOnDelete),
        delete_before_replace=bool(request.deleteBeforeReplace) if request.deleteBeforeReplaceDefined else None,
        additional_secret_outputs=tuple(request.additionalSecretOutputs),
        property_dependencies={k: tuple(v.urns) for k, v in request.propertyDependencies.items() if v.urns},
    )


def _has_unknowns(value: Any) -> bool:
    if isinstance(value, Secret):
        return _has_unknowns(value.value)
    if isinstance(value, Mapping):
        return any(_has_unknowns(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknowns(v) for v in value)
    return bool(value == UNKNOWN)


def _guard(registrations: Sequence[Registration]) -> None:
    """Refuse what the plan-after-registration shortcut cannot imitate faithfully."""
    for r in registrations:
        if r.property_dependencies:
            raise NotImplementedError(
                f"{r.name}: inputs computed from other resources' outputs ({sorted(r.property_dependencies)}); "
                "the harness plans after the program ran and cannot feed outputs back"
            )
        if _has_unknowns(r.inputs):
            raise NotImplementedError(f"{r.name}: unknown inputs at registration")


def run_under_mocks(
    body: Callable[[], None],
    *,
    project: str = PROJECT,
    stack: str = "demo",
    config: Mapping[str, str] | None = None,
    secret_keys: Sequence[str] = (),
) -> list[Registration]:
    """Run ``body`` (a Pulumi program or part of one) under mocks in this interpreter; the registrations in
    the order the monitor saw them. Nothing is created: the mocks answer each resource with its inputs."""
    import pulumi
    from pulumi.runtime import config as runtime_config
    from pulumi.runtime import settings
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    class EchoMocks(pulumi.runtime.Mocks):
        """The engine's answer does not matter for learning: inputs come back as outputs."""

        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            return f"{args.name}-learning", args.inputs

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
            return {}, None

    class Recorder(MockMonitor):
        def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
            super().__init__(mocks)
            self.seen: list[Registration] = []

        def RegisterResource(self, request: Any) -> Any:
            response = super().RegisterResource(request)
            self.seen.append(_registration(request, response.urn))
            return response

    saved_settings = settings.SETTINGS
    saved_config = dict(runtime_config.CONFIG.get())
    saved_secret_keys = set(runtime_config._SECRET_KEYS.get())
    mocks = EchoMocks()
    monitor = Recorder(mocks)
    try:
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
        pulumi.runtime.set_all_config(dict(config or {}), secret_keys=list(secret_keys))
        _sync_await(run_pulumi_func(body))
    finally:
        settings.configure(saved_settings)
        settings.reset_options()
        runtime_config.CONFIG.set(saved_config)
        runtime_config._SECRET_KEYS.set(saved_secret_keys)
    _guard(monitor.seen)
    return monitor.seen


def _run_program(config: StackConfig, main: Path) -> list[Registration]:
    """Run ``main`` under mocks in this interpreter; the registrations in the order the monitor saw them."""

    def program() -> None:
        runpy.run_path(str(main), run_name="__main__")

    return run_under_mocks(
        program,
        project=config.project,
        stack=config.stack,
        config=config.text(),
        secret_keys=[f"{config.project}:{k}" for k in sorted(config.secret_keys)],
    )


def learn(config: StackConfig, *, project_dir: Path = ROOT) -> Program:
    """Run the program once and return what it registered.

    In this interpreter for the project itself; in a fresh one (cwd = ``project_dir``) for another
    directory, so that its own modules are imported and pickled.
    """
    if project_dir.resolve() == ROOT:
        return Program(config, tuple(_run_program(config, ROOT / "__main__.py")))
    payload = json.dumps(
        {
            "values": dict(config.values),
            "secretKeys": sorted(config.secret_keys),
            "project": config.project,
            "stack": config.stack,
        }
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.engine_program"],
        cwd=project_dir,
        env=env,
        input=payload.encode(),
        capture_output=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"learning in {project_dir} failed:\n{done.stderr.decode(errors='replace')[-4000:]}")
    records = json.loads(done.stdout)
    return Program(config, tuple(Registration.from_json(r) for r in records))


def _main() -> int:
    data = json.loads(sys.stdin.read())
    config = StackConfig(data["values"], frozenset(data["secretKeys"]), data["project"], data["stack"])
    registrations = _run_program(config, Path.cwd() / "__main__.py")
    sys.stdout.write(json.dumps([r.to_json() for r in registrations]))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
