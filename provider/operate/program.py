"""The component's resources, in the order ``up`` registers them, from ``ClusteredMasterSecret`` itself.

Why run the component: the plan must be what ``up`` does, so the resources, their order, their providers and
their inputs come from the component run under the SDK's mocks (nothing is sent anywhere), never from a second
list of the procedure. Each resource's provider is the class of its pickled ``__provider`` input.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import dill
import pulumi
from google.protobuf.json_format import MessageToDict
from pulumi.runtime import settings
from pulumi.runtime._serialization import _deserialize
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.clustered_master_secret import ClusteredMasterSecret, ProgramSecrets
from provider.resources.base import EssoProvider, TypedProvider
from provider.spec import ClusterSpec

_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 - the SDK's secret marker, not a secret
PROJECT = "esso-cluster"


@dataclass(frozen=True)
class ProgramResource:
    """One dynamic resource as the component registers it: name, type, provider class, inputs (secrets revealed)."""

    name: str
    kind: str  # the resource type, as in the URN
    provider: type[EssoProvider]
    inputs: dict[str, Any]


def reveal(value: Any) -> Any:
    """A deserialized property with secret wrappers removed (the value ``check()`` receives)."""
    if isinstance(value, dict):
        if _SECRET_SIG in value:
            return reveal(value.get("value"))
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def component_resources(spec: ClusterSpec, *, stack: str, project: str = PROJECT) -> list[ProgramResource]:
    """Run ``ClusteredMasterSecret`` (as ``__main__.py`` builds it) under mocks; its dynamic resources in order."""
    seen: list[tuple[str, str, dict[str, Any]]] = []

    class Echo(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            return f"{args.name}-plan", args.inputs

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
            return {}, None

    class Monitor(MockMonitor):
        """Keeps each request's inputs as sent (a null stays a null, as the engine hands it to Check)."""

        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method's name
            seen.append((request.type, request.name, MessageToDict(request.object)))
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]

    def program() -> None:
        backup = spec.backup_password.get_secret_value() if spec.backup_password else None
        secrets = ProgramSecrets(
            service_account_password=pulumi.Output.secret(spec.service_account_password.get_secret_value()),
            backup_password=pulumi.Output.secret(backup) if backup is not None else None,
        )
        ClusteredMasterSecret(stack, spec, secrets)

    saved = settings.SETTINGS
    try:
        mocks = Echo()
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=Monitor(mocks))
        _sync_await(run_pulumi_func(program))
    finally:
        settings.configure(saved)
        settings.reset_options()
    resources: list[ProgramResource] = []
    for typ, name, inputs in seen:
        blob = reveal(inputs.get("__provider"))
        if not typ.startswith("pulumi-python:dynamic") or not isinstance(blob, str):
            continue
        provider = _deserialize(lambda b=blob: dill.loads(base64.b64decode(b)))  # noqa: S301 - our own pickle
        assert isinstance(provider, TypedProvider), type(provider)
        revealed = {k: reveal(v) for k, v in inputs.items() if k != "__provider"}
        resources.append(ProgramResource(name, typ, type(provider), revealed))
    return resources
