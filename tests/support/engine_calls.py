"""The harness's calls into the provider host: start-up (Configure), Check, Diff, Create, Update, Read, Delete.

Why apart: each call carries one of the engine's wire rules (secrets stripped and re-derived, the
``DIFF_UNKNOWN`` fallback, no Create/Update in a preview); the order of calls is ``engine_steps``'s job.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime import proto

from tests.support.engine_host import RecordingStub
from tests.support.engine_program import ROOT, Registration, StackConfig
from tests.support.engine_results import Deployment, DiffOutcome, EngineError, Step
from tests.support.engine_state import ResourceState, StateStore
from tests.support.engine_wire import (
    annotate_secrets,
    diff_inputs,
    from_struct,
    strip_secrets,
    to_struct,
)

DIFF_UNKNOWN = proto.DiffResponse.DIFF_UNKNOWN
DIFF_NONE = proto.DiffResponse.DIFF_NONE
DIFF_SOME = proto.DiffResponse.DIFF_SOME


class Calls:
    """One operation against one host: the state it works on and every provider call, serialized per resource."""

    def __init__(
        self,
        store: StateStore,
        stub: RecordingStub,
        config: StackConfig,
        deployment: Deployment,
        *,
        project_dir: Path = ROOT,
        seed: int = 0,
    ) -> None:
        self.store = store
        self.project_dir = project_dir
        self.stub = stub
        self.config = config
        self.deployment = deployment
        self.accept_secrets = False
        self.current: list[ResourceState] = store.load()
        self.rng = random.Random(seed)  # the cascade's Go map order (``findDependentCascadeReplacements``)

    # ---- plumbing ----------------------------------------------------------------------------
    def wire(self, props: Mapping[str, Any]) -> Any:
        """``MarshalProperties`` with ``KeepSecrets`` as the provider's Configure answered."""
        return to_struct(props, keep_secrets=self.accept_secrets)

    def rpc(self, method: str, request: Any, resource: str) -> Any:
        try:
            return self.stub.call(method, request, resource)
        except grpc.RpcError as exc:
            details = exc.details() or ""
            summary = [line for line in details.strip().splitlines() if line.strip()]
            last = summary[-1] if summary else str(exc.code())
            message = f"{method} of {resource} failed: {last}"
            raise EngineError(message, resource=resource, method=method, details=details) from exc

    def step(self, op: str, state: ResourceState | Registration, keys: Iterable[str] = (), note: str = "") -> None:
        self.deployment.steps.append(Step(op, state.name, state.urn, tuple(keys), note))

    def save(self) -> None:
        self.store.save(self.current)

    def put(self, new: ResourceState) -> None:
        """Record a resource's new state in place of its live one, and save unless nothing changed
        (``SnapshotManager``: a same step that changes nothing does not rewrite the checkpoint)."""
        for index, item in enumerate(self.current):
            if item.urn == new.urn and not item.delete:
                if item == new:
                    return
                self.current[index] = new
                break
        else:
            # a replacement's new half goes where the old one is (the old one awaits deletion)
            index = next((i for i, s in enumerate(self.current) if s.urn == new.urn), len(self.current))
            self.current.insert(index, new)
        self.save()

    def drop(self, old: ResourceState) -> None:
        self.current = [s for s in self.current if s is not old]
        self.save()

    def live(self, urn: str) -> ResourceState | None:
        return next((s for s in self.current if s.urn == urn and not s.delete), None)

    # ---- the provider's configuration --------------------------------------------------------
    def connect(self) -> None:
        """Handshake, plugin info, CheckConfig, Configure — the engine's provider start-up.

        ``Handshake`` and ``CheckConfig`` are UNIMPLEMENTED in the dynamic host; the engine tolerates
        both (``provider_plugin.go`` handshake; ``CheckConfig`` passes the config through). ``Configure``
        gets the whole stack config (``target.go`` ``GetPackageConfig``: "for dynamic providers, we always
        pass the full configuration"): namespaced keys, objects as JSON text, secrets decrypted and marked.
        """
        provider_urn = f"urn:pulumi:{self.config.stack}::{self.config.project}::pulumi:providers:pulumi-python::default"
        for method, request in (
            ("Handshake", proto.ProviderHandshakeRequest(root_directory=str(self.project_dir))),
            ("CheckConfig", proto.CheckRequest(urn=provider_urn, olds=to_struct({}, keep_secrets=True))),
        ):
            try:
                self.stub.call(method, request)
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                    raise
        self.stub.call("GetPluginInfo", empty_pb2.Empty())
        config = self.config.engine_values()
        response = self.stub.call(
            "Configure",
            proto.ConfigureRequest(
                variables={k: str(strip_secrets(v)) for k, v in config.items()},
                args=to_struct(config, keep_secrets=True),
                acceptSecrets=True,
                acceptResources=True,
                sends_old_inputs=True,
                sends_old_inputs_to_delete=True,
            ),
        )
        self.accept_secrets = bool(response.acceptSecrets)
        self.deployment.accept_secrets = self.accept_secrets

    # ---- provider calls ----------------------------------------------------------------------
    def check(self, reg: Registration, olds: Mapping[str, Any]) -> dict[str, Any]:
        """``Check(olds=old inputs, news)``; failures stop the deployment (``issueCheckErrors``)."""
        response = self.rpc(
            "Check",
            proto.CheckRequest(
                urn=reg.urn, name=reg.name, type=reg.type, olds=self.wire(olds), news=self.wire(reg.inputs)
            ),
            reg.name,
        )
        if response.failures:
            reasons = "; ".join(f"{f.property or '(resource)'}: {f.reason}" for f in response.failures)
            raise EngineError(f"{reg.name} has check errors: {reasons}", resource=reg.name, method="Check")
        return annotate_secrets(from_struct(response.inputs), reg.inputs)

    def _change(self, reg: Registration, old: ResourceState, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The fields Diff and Update share: the resource, its old outputs and inputs, the new inputs."""
        return {
            "id": old.id,
            "urn": reg.urn,
            "name": reg.name,
            "type": reg.type,
            "olds": self.wire(old.outputs),
            "news": self.wire(inputs),
            "old_inputs": self.wire(old.inputs),
        }

    def diff(self, reg: Registration, old: ResourceState, inputs: Mapping[str, Any]) -> DiffOutcome:
        """``Diff(olds=old outputs, news=checked inputs, old_inputs)`` with the ``DIFF_UNKNOWN`` fallback.

        Imitates ``diffResource`` (``step_generator.go``): when the provider cannot say
        (``DIFF_UNKNOWN``, what the host sends for ``DiffResult(changes=None)``), the engine diffs the old
        and new inputs itself — ``__provider`` included — and any difference is an update.
        """
        response = self.rpc("Diff", proto.DiffRequest(**self._change(reg, old, inputs)), reg.name)
        replaces = tuple(response.replaces)
        if response.changes == DIFF_UNKNOWN:
            keys = tuple(diff_inputs(old.inputs, inputs))
            return DiffOutcome(bool(keys), replaces, response.deleteBeforeReplace, keys, fallback=True)
        changed = tuple(diff_inputs(old.inputs, inputs)) if response.changes == DIFF_SOME else ()
        return DiffOutcome(response.changes == DIFF_SOME, replaces, response.deleteBeforeReplace, changed, False)

    def create(self, reg: Registration, inputs: Mapping[str, Any], *, dry_run: bool) -> ResourceState:
        """``Create``; in a preview the engine does not call a provider without ``supportsPreview``
        (``provider_plugin.go:1442``) and the inputs stand in for the outputs."""
        if dry_run:
            return ResourceState.of(reg, "", inputs, inputs)
        response = self.rpc(
            "Create",
            proto.CreateRequest(urn=reg.urn, name=reg.name, type=reg.type, properties=self.wire(inputs)),
            reg.name,
        )
        if not response.id:
            raise EngineError(f"{reg.name}: the provider returned an empty id", resource=reg.name, method="Create")
        outputs = annotate_secrets(from_struct(response.properties), inputs)
        return ResourceState.of(reg, response.id, inputs, outputs)

    def update_call(
        self, reg: Registration, old: ResourceState, inputs: Mapping[str, Any], *, dry_run: bool
    ) -> ResourceState:
        """``Update(olds=old outputs, news)``; skipped in a preview (``provider_plugin.go:1718``)."""
        if dry_run:
            return ResourceState.of(reg, old.id, inputs, inputs)
        response = self.rpc("Update", proto.UpdateRequest(**self._change(reg, old, inputs)), reg.name)
        outputs = annotate_secrets(from_struct(response.properties), inputs)
        return ResourceState.of(reg, old.id, inputs, outputs)

    def delete(self, old: ResourceState, *, op: str, dry_run: bool, pending_replace: bool = False) -> None:
        """``DeleteStep.Apply`` (``pkg/resource/deploy/step.go``).

        A protected resource is refused unless the step is part of a replacement (protection was checked
        when the replacement was decided); nothing is called in a preview; ``retainOnDelete`` drops the
        resource from the state without calling ``Delete``; otherwise ``Delete(id, properties=old outputs,
        old_inputs)`` with the ``__provider`` stored in state — the old code's blob. Apply does not look at
        ``PendingReplacement``: a dependent deleted by an earlier, failed run is deleted again.

        ``pending_replace`` (``NewDeleteReplacementStep(..., pendingReplace=true)`` of a delete-before-replace):
        after a successful delete the resource stays in the state marked ``PendingReplacement`` ("only set
        ``PendingReplacement`` after we know it's succeeded"), until its CreateReplacement replaces it
        (``pkg/backend/snapshot.go``: ``markDone(old)`` when ``old.PendingReplacement``).
        """
        if op == "delete" and old.protect:
            raise EngineError(
                f"unable to delete resource {old.urn!r} as it is currently marked for protection",
                resource=old.name,
                method="Delete",
            )
        if dry_run:
            self.step(op, old)
            return
        if old.retain_on_delete:
            self.step(op, old, note="retainOnDelete: removed from state, Delete not called")
            self._deleted(old, pending_replace)
            return
        self.rpc(
            "Delete",
            proto.DeleteRequest(
                id=old.id,
                urn=old.urn,
                name=old.name,
                type=old.type,
                properties=self.wire(old.outputs),
                old_inputs=self.wire(old.inputs),
            ),
            old.name,
        )
        self.step(op, old, note="pending replacement" if pending_replace else "")
        self._deleted(old, pending_replace)

    def _deleted(self, old: ResourceState, pending_replace: bool) -> None:
        if not pending_replace:
            self.drop(old)
            return
        self.current = [replace(s, pending_replacement=True) if s is old else s for s in self.current]
        self.save()

    def read(self, old: ResourceState) -> tuple[Any, tuple[str, ...] | None]:
        """``RefreshStep.Apply``: ``Read(id, properties=last outputs, inputs=last inputs)``, then the provider's
        Diff of the refreshed state against the program's last inputs, inverted (``step.go``: "pass new
        inputs/outputs as old inputs/outputs, pass old inputs as new inputs"; skipped only under
        ``PULUMI_ENABLE_LEGACY_REFRESH_DIFF``). Returns the Read answer and the diff's keys (None: gone).

        Touches no state, so refreshes run in parallel (``GenerateRefreshes`` + ``ExecuteParallel``).
        """
        response = self.rpc(
            "Read",
            proto.ReadRequest(
                id=old.id,
                urn=old.urn,
                name=old.name,
                type=old.type,
                properties=self.wire(old.outputs),
                inputs=self.wire(old.inputs),
            ),
            old.name,
        )
        if not response.id:
            return response, None
        inputs = from_struct(response.inputs) if response.HasField("inputs") else strip_secrets(old.inputs)
        diff = self.rpc(
            "Diff",
            proto.DiffRequest(
                id=response.id,
                urn=old.urn,
                name=old.name,
                type=old.type,
                olds=response.properties,
                news=self.wire(old.inputs),
                old_inputs=self.wire(inputs),
            ),
            old.name,
        )
        if diff.changes == DIFF_NONE:
            return response, ()
        # DIFF_SOME without detailed keys, or DIFF_UNKNOWN: the program's inputs against what was read
        wanted = strip_secrets(old.inputs)
        outputs = from_struct(response.properties)
        seen = {**inputs, **{k: outputs[k] for k in wanted if k in outputs}}
        if diff.changes == DIFF_SOME and diff.diffs:
            return response, tuple(diff.diffs)
        return response, tuple(k for k in diff_inputs(seen, wanted) if k != "__provider")
