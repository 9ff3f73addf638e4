"""Run the Pulumi program under ``pulumi.runtime.set_mocks``, with the real providers behind the mocks.

Why: the program's graph (order, dependencies, secrets, exports) is only visible to a resource
monitor. The mock monitor records each raw RegisterResource request; dynamic resources are created
by unpickling their real provider, configuring it with the stack config (as the host does), and handing it to
the one provider driver, ``Stack.create_with`` (check() then create(); tests/support/procedure.py).
"""

from __future__ import annotations

import base64
import json
import runpy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dill
import pulumi
import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.runtime import rpc, settings
from pulumi.runtime._serialization import _deserialize
from pulumi.runtime.mocks import MockMonitor

from provider.spec import PROJECT
from tests.support.procedure import Stack

ROOT = Path(__file__).resolve().parents[2]


class RecordingMonitor(MockMonitor):
    """Keeps each raw RegisterResource request: dependencies, additionalSecretOutputs, property secrets."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.requests: dict[str, Any] = {}
        self.order: list[str] = []

    def RegisterResource(self, request: Any) -> Any:
        self.requests[request.name] = request
        self.order.append(request.name)
        return super().RegisterResource(request)


class ProviderMocks(pulumi.runtime.Mocks):
    """Creates dynamic resources with their real providers; echoes anything else."""

    def __init__(self, stack_config: Mapping[str, str]) -> None:
        self.stack_config = dict(stack_config)
        self.inputs: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, dict[str, Any]] = {}
        self.stack = Stack()  # the providers' state, as the driver keeps it

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.inputs[args.name] = args.inputs
        if not args.typ.startswith("pulumi-python:dynamic"):
            return f"{args.name}_id", args.inputs
        blob = rpc.unwrap_rpc_secret(args.inputs["__provider"])
        provider = _deserialize(lambda: dill.loads(base64.b64decode(blob)))  # noqa: S301 - our own blob
        provider.configure(ConfigureRequest(Config(self.stack_config, PROJECT)))
        props = {k: rpc.unwrap_rpc_secret(v) for k, v in args.inputs.items()}
        created = self.stack.create_with(args.name, provider, props)
        outs = {**created.outputs, "__provider": args.inputs["__provider"]}
        self.outputs[args.name] = outs
        return created.id, outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def stack_config(tmp_path: Path, secrets: Mapping[str, str], **overrides: Any) -> dict[str, str]:
    """The demo stack's config as the engine hands it over: prefixed keys, JSON text for objects."""
    import yaml

    raw = yaml.safe_load((ROOT / "stacks" / "Pulumi.demo.yaml").read_text())["config"]
    config: dict[str, Any] = {k.split(":", 1)[1]: v for k, v in raw.items()}
    config["simulatorState"] = str(tmp_path / "world.json")
    config["escrow"] = {"kind": "local", "path": str(tmp_path / "escrow")}
    config.update(overrides)
    config.update(secrets)
    return {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


@pytest.fixture
def program(tmp_path: Path) -> Iterator[Any]:
    """Yields a runner: ``run(secrets, **overrides) -> (mocks, monitor)`` executing __main__.py once."""
    old = settings.SETTINGS
    state: dict[str, Any] = {}

    def run(secrets: Mapping[str, str], **overrides: Any) -> tuple[ProviderMocks, RecordingMonitor]:
        config = stack_config(tmp_path, secrets, **overrides)
        mocks = ProviderMocks(config)
        monitor = RecordingMonitor(mocks)
        pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="demo", preview=False, monitor=monitor)
        pulumi.runtime.set_all_config(config, secret_keys=[f"{PROJECT}:{k}" for k in secrets])
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        state["monitor"] = monitor
        return mocks, monitor

    try:
        yield run
    finally:
        settings.configure(old)
        settings.reset_options()
