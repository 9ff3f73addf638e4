"""An imitation of the Pulumi engine's deployment loop, driving the SDK's real dynamic provider host over gRPC.

The Pulumi CLI (and with it the Go engine) is not available here, so this harness does what the engine
does with a Python program's dynamic resources, and nothing the providers could tell apart:

1. ``learn()`` runs ``__main__.py`` under ``set_mocks`` and records each ``RegisterResource`` request
   (``tests/support/engine_program.py``).
2. ``Engine.up / preview / refresh / destroy`` start the SDK's own host (``python -m pulumi.dynamic``, or
   the same servicer in process: ``tests/support/engine_host.py``), hand it the whole stack configuration
   (``Configure``), and send every dynamic resource through ``Check``, ``Diff``, ``Create``, ``Update``,
   ``Read`` and ``Delete`` in dependency order, with the engine's rules (each cited below).
3. State (URN -> id, inputs, outputs, which outputs are secret, options) persists between runs in a JSON
   file whose secrets are encrypted (``tests/support/engine_wire.py``); destroy runs in reverse order.

Engine functions imitated (Go source of pulumi/pulumi; see ``../shared/reference/pulumi-dynamic.md``):

* ``stepGenerator.generateSteps`` / ``continueStepsFromDiff`` (``pkg/resource/deploy/step_generator.go``):
  create, same, update, replace; create-before-delete by default, delete-before-replace when the provider
  (or the ``deleteBeforeReplace`` option) asks; ``replaceWith``; protect refusing a replacement.
* ``calculateDependentReplacements``: dependents condemned by a delete-before-replace are deleted first.
* ``diffResource``: the ``DIFF_UNKNOWN`` fallback to the engine's own input diff.
* ``annotateSecrets`` (``pkg/resource/plugin/provider_plugin.go:918``) and ``MarshalOptions{KeepSecrets}``:
  secrets stripped before each call to a provider that answered ``acceptSecrets: false``, then re-derived.
* ``stepExecutor.executeStep``: ``additionalSecretOutputs`` marked secret after each step.
* ``provider_plugin.go`` Create/Update (``:1442``, ``:1718``): in a preview a provider without
  ``supportsPreview`` is not called; the inputs stand in for the outputs.
* ``GenerateDeletes`` + ``ScheduleDeletes``: resources no longer registered are deleted at the end, in
  reverse dependency order; ``DeleteStep.Apply``: protect refuses, ``retainOnDelete`` skips the call.
* ``RefreshStep.Apply``: ``Read`` with the last outputs; an empty id means the resource is gone.

Not imitated (the README's testing section says so): ignoreChanges, replaceOnChanges, update plans,
``--target``/``--exclude``, import, aliases, parallelism, component and stack state, stack outputs,
resource hooks, output values flowing back into the program (see ``engine_program``), and the
property-dependency half of ``calculateDependentReplacements`` (programs with property dependencies are
refused).
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime import proto

from tests.support.engine_host import GrpcCall, HostMode, ProviderHost, RecordingStub
from tests.support.engine_program import PROJECT, ROOT, Program, Registration, StackConfig, learn
from tests.support.engine_wire import (
    Secret,
    StateCipher,
    annotate_secrets,
    diff_inputs,
    from_struct,
    mark_additional_secret_outputs,
    strip_secrets,
    to_struct,
)

__all__ = [
    "PROJECT",
    "ROOT",
    "Deployment",
    "DiffOutcome",
    "Engine",
    "EngineError",
    "GrpcCall",
    "Program",
    "Registration",
    "ResourceState",
    "Session",
    "StackConfig",
    "StateStore",
    "Step",
    "learn",
    "topological",
]

DIFF_UNKNOWN = proto.DiffResponse.DIFF_UNKNOWN
DIFF_NONE = proto.DiffResponse.DIFF_NONE
DIFF_SOME = proto.DiffResponse.DIFF_SOME
Operation = Literal["update", "preview", "refresh", "destroy"]


# ------------------------------------------------------------------------------------------ state


@dataclass(frozen=True)
class ResourceState:
    """One resource in the stored state (``resource.State``)."""

    urn: str
    type: str
    name: str
    id: str
    parent: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    dependencies: tuple[str, ...] = ()
    replace_with: tuple[str, ...] = ()
    protect: bool = False
    retain_on_delete: bool = False
    additional_secret_outputs: tuple[str, ...] = ()
    delete: bool = False  # the old half of a create-before-delete replacement, awaiting deletion

    @classmethod
    def of(cls, reg: Registration, id_: str, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> ResourceState:
        return cls(
            urn=reg.urn,
            type=reg.type,
            name=reg.name,
            id=id_,
            parent=reg.parent,
            inputs=dict(inputs),
            outputs=mark_additional_secret_outputs(outputs, reg.additional_secret_outputs),
            dependencies=reg.dependencies,
            replace_with=reg.replace_with,
            protect=reg.protect,
            retain_on_delete=reg.retain_on_delete,
            additional_secret_outputs=reg.additional_secret_outputs,
        )

    @property
    def secret_outputs(self) -> list[str]:
        return sorted(k for k, v in self.outputs.items() if isinstance(v, Secret))

    @property
    def plain_outputs(self) -> dict[str, Any]:
        """The outputs with secrets revealed (for assertions in tests; never written anywhere)."""
        result: dict[str, Any] = strip_secrets(self.outputs)
        return result

    def to_json(self, cipher: StateCipher) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "id": self.id,
            "parent": self.parent,
            "inputs": cipher.seal(self.inputs),
            "outputs": cipher.seal(self.outputs),
            "secretOutputs": self.secret_outputs,
            "dependencies": list(self.dependencies),
            "replaceWith": list(self.replace_with),
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "additionalSecretOutputs": list(self.additional_secret_outputs),
            "delete": self.delete,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], cipher: StateCipher) -> ResourceState:
        return cls(
            urn=data["urn"],
            type=data["type"],
            name=data["urn"].rsplit("::", 1)[-1],
            id=data["id"],
            parent=data["parent"],
            inputs=cipher.unseal(data["inputs"]),
            outputs=cipher.unseal(data["outputs"]),
            dependencies=tuple(data["dependencies"]),
            replace_with=tuple(data["replaceWith"]),
            protect=data["protect"],
            retain_on_delete=data["retainOnDelete"],
            additional_secret_outputs=tuple(data["additionalSecretOutputs"]),
            delete=data.get("delete", False),
        )


def topological(items: Sequence[ResourceState]) -> list[ResourceState]:
    """Dependency order, stable (``graph.DependencyGraph``): a resource after everything it depends on."""
    urns = {s.urn for s in items}
    done: set[int] = set()
    placed: set[str] = set()
    ordered: list[ResourceState] = []
    while len(ordered) < len(items):
        progressed = False
        for index, item in enumerate(items):
            if index in done:
                continue
            needs = {d for d in item.dependencies if d in urns and d != item.urn}
            if needs <= placed:
                ordered.append(item)
                done.add(index)
                if not item.delete:
                    placed.add(item.urn)
                progressed = True
        if not progressed:  # a cycle, or a dependency only on a pending delete: keep the given order
            ordered += [item for index, item in enumerate(items) if index not in done]
            break
    return ordered


class StateStore:
    """The stack's state file (a checkpoint): resources in dependency order, every secret encrypted."""

    def __init__(self, path: Path, passphrase: str) -> None:
        self.path = path
        self.passphrase = passphrase
        self._cipher: StateCipher | None = None

    def cipher(self) -> StateCipher:
        """The cipher of this state file: its salt is in the file, the passphrase only in memory."""
        if self._cipher is None:
            salt = None
            if self.path.exists():
                salt = base64.b64decode(json.loads(self.path.read_text(encoding="utf-8"))["secrets"]["salt"])
            self._cipher = StateCipher(self.passphrase, salt)
        return self._cipher

    def load(self) -> list[ResourceState]:
        if not self.path.exists():
            return []
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return [ResourceState.from_json(r, self.cipher()) for r in data["resources"]]

    def save(self, resources: Iterable[ResourceState]) -> None:
        cipher = self.cipher()
        document = {
            "version": 1,
            "project": PROJECT,
            "secrets": {"type": "harness-passphrase", "cipher": "aes-256-gcm", "salt": cipher.salt_text},
            "resources": [r.to_json(cipher) for r in topological(list(resources))],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(document, indent=1), encoding="utf-8")
        tmp.replace(self.path)

    def raw(self) -> bytes:
        return self.path.read_bytes() if self.path.exists() else b""


# ------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class Step:
    """One engine step: ``same``, ``create``, ``update``, ``replace``, ``create-replacement``,
    ``delete-replaced``, ``delete`` or ``refresh`` (``deploy.StepOp``), with the keys that caused it."""

    op: str
    name: str
    urn: str
    keys: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class DiffOutcome:
    """A provider's Diff after the engine's fallback (``diffResource``)."""

    changes: bool
    replaces: tuple[str, ...]
    delete_before_replace: bool
    changed_keys: tuple[str, ...]
    fallback: bool  # the provider answered DIFF_UNKNOWN and the engine diffed the inputs itself


@dataclass
class Deployment:
    """What one operation did (or, for a preview, would do)."""

    operation: Operation
    steps: list[Step] = field(default_factory=list)
    calls: list[GrpcCall] = field(default_factory=list)
    refreshed: dict[str, list[str]] = field(default_factory=dict)  # name -> output keys that changed
    gone: list[str] = field(default_factory=list)  # refresh: resources whose Read returned no id
    host_stderr: str = ""
    host_mode: str = ""
    accept_secrets: bool | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def plan(self) -> dict[str, str]:
        """Per resource, in order of first appearance: create, same, update, replace, delete or refresh."""
        summary: dict[str, str] = {}
        for step in self.steps:
            op = step.op
            if op in ("create-replacement", "delete-replaced", "replace"):
                op = "replace"
            if summary.get(step.name) == "replace":
                continue
            summary[step.name] = op
        return summary

    def names(self, op: str) -> list[str]:
        """Resources with this summarized op, in order."""
        return [name for name, summary in self.plan.items() if summary == op]

    def step_ops(self) -> list[tuple[str, str]]:
        return [(s.op, s.name) for s in self.steps]

    def provider_calls(self, *methods: str) -> list[tuple[str, str]]:
        return [(c.method, c.resource) for c in self.calls if c.method in methods]


class EngineError(Exception):
    """A failed operation: which resource, which RPC, and the provider's error (the host's traceback)."""

    def __init__(self, message: str, *, resource: str = "", method: str = "", details: str = "") -> None:
        self.resource = resource
        self.method = method
        self.details = details
        self.deployment: Deployment | None = None
        super().__init__(message)

    @property
    def summary(self) -> str:
        """The last line of the provider's traceback: the exception and its message."""
        lines = [line for line in self.details.strip().splitlines() if line.strip()]
        return lines[-1] if lines else str(self)


# ------------------------------------------------------------------------------------------ the engine


class Engine:
    """One stack's engine: its state file, where its provider host runs, and the operations."""

    def __init__(
        self,
        state_path: Path,
        *,
        host: HostMode = "in-process",
        project_dir: Path = ROOT,
        passphrase: str = "engine-harness-passphrase",  # noqa: S107 - the test stack's passphrase
        before_call: Callable[[str, str], None] | None = None,
    ) -> None:
        self.store = StateStore(state_path, passphrase)
        self.host_mode: HostMode = host
        self.project_dir = project_dir
        self.before_call = before_call
        self.history: list[Deployment] = []

    # ---- state -------------------------------------------------------------------------------
    def state(self) -> list[ResourceState]:
        return self.store.load()

    def resource(self, name: str) -> ResourceState:
        return next(r for r in self.state() if r.name == name and not r.delete)

    # ---- operations --------------------------------------------------------------------------
    def up(self, program: Program) -> Deployment:
        """``pulumi up``: converge every registration, then delete what the program no longer registers."""
        return self._run("update", program.config, lambda run: run.update(program, dry_run=False))

    def preview(self, program: Program) -> Deployment:
        """``pulumi preview``: Check and Diff only; the planned step per resource (``Deployment.plan``)."""
        return self._run("preview", program.config, lambda run: run.update(program, dry_run=True))

    def refresh(self, config: StackConfig) -> Deployment:
        """``pulumi refresh``: Read every resource; report changed outputs; drop what is gone."""
        return self._run("refresh", config, lambda run: run.refresh())

    def destroy(self, config: StackConfig, *, preview: bool = False) -> Deployment:
        """``pulumi destroy``: delete every resource in reverse dependency order."""
        return self._run("destroy", config, lambda run: run.destroy(dry_run=preview))

    @contextlib.contextmanager
    def session(self, config: StackConfig) -> Iterator[Session]:
        """A started and configured host, for tests that call single RPCs (``Session.rpc``, ``Session.wire``)."""
        deployment = Deployment("preview", host_mode=self.host_mode)
        with ProviderHost.start(
            self.host_mode,
            project_dir=self.project_dir,
            project=config.project,
            workdir=self.store.path.parent / "hosts",
        ) as host:
            deployment.calls = host.stub.calls
            session = _Run(self, host.stub, config, deployment)
            session.connect()
            yield session

    def _run(self, operation: Operation, config: StackConfig, body: Callable[[_Run], None]) -> Deployment:
        deployment = Deployment(operation, host_mode=self.host_mode)
        self.history.append(deployment)
        workdir = self.store.path.parent / "hosts"
        with ProviderHost.start(
            self.host_mode, project_dir=self.project_dir, project=config.project, workdir=workdir
        ) as host:
            host.stub.before = self.before_call
            deployment.calls = host.stub.calls
            run = _Run(self, host.stub, config, deployment)
            try:
                run.connect()
                body(run)
                if deployment.errors:
                    raise EngineError("; ".join(deployment.errors))
            except EngineError as exc:
                exc.deployment = deployment
                raise
            finally:
                deployment.host_stderr = host.stderr()
        return deployment


class _Run:
    """One operation against one host: the engine's step generator and step executor, serialized."""

    def __init__(self, engine: Engine, stub: RecordingStub, config: StackConfig, deployment: Deployment) -> None:
        self.engine = engine
        self.stub = stub
        self.config = config
        self.deployment = deployment
        self.accept_secrets = False
        self.current: list[ResourceState] = engine.store.load()

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
        self.engine.store.save(self.current)

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
            ("Handshake", proto.ProviderHandshakeRequest(root_directory=str(self.engine.project_dir))),
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

    def delete(self, old: ResourceState, *, op: str, dry_run: bool) -> None:
        """``DeleteStep.Apply`` (``pkg/resource/deploy/step.go``).

        A protected resource is refused unless the step is part of a replacement (protection was checked
        when the replacement was decided); nothing is called in a preview; ``retainOnDelete`` drops the
        resource from the state without calling ``Delete``; otherwise ``Delete(id, properties=old outputs,
        old_inputs)`` with the ``__provider`` stored in state — the old code's blob.
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
            self.drop(old)
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
        self.step(op, old)
        self.drop(old)

    # ---- up and preview ----------------------------------------------------------------------
    def update(self, program: Program, *, dry_run: bool) -> None:
        """Steps for every registration in dependency order, then the deletes (``generateSteps``)."""
        registrations = _in_dependency_order(program.dynamic)
        seen: set[str] = set()
        replaced: set[str] = set()  # URNs replaced (or planned to be) in this deployment: for replaceWith
        condemned: dict[str, ResourceState] = {}  # deleted early by a delete-before-replace, to be recreated
        pending: list[ResourceState] = []  # old halves of create-before-delete replacements
        for reg in registrations:
            seen.add(reg.urn)
            old = condemned.get(reg.urn) or self.live(reg.urn)
            inputs = self.check(reg, old.inputs if old else {})
            if reg.urn in condemned:
                # Case 1 of generateSteps, "recreating": deleted earlier for a dependency's delete-before-replace
                new = self.create(reg, inputs, dry_run=dry_run)
                self.step("create-replacement", reg, note="recreated after a delete-before-replace")
                replaced.add(reg.urn)
                if not dry_run:
                    self.put(new)
                continue
            if old is None:
                new = self.create(reg, inputs, dry_run=dry_run)
                self.step("create", reg)
                if not dry_run:
                    self.put(new)
                continue
            diff = self.diff(reg, old, inputs)
            forced = [urn.rsplit("::", 1)[-1] for urn in reg.replace_with if urn in replaced]
            if not diff.changes and not forced:
                self.step("same", reg)
                if not dry_run:
                    self.put(ResourceState.of(reg, old.id, inputs, old.outputs))
                continue
            if not diff.replaces and not forced:
                new = self.update_call(reg, old, inputs, dry_run=dry_run)
                self.step("update", reg, diff.changed_keys, "engine diff (DIFF_UNKNOWN)" if diff.fallback else "")
                if not dry_run:
                    self.put(new)
                continue
            self.replace(reg, old, diff, forced, dry_run=dry_run, seen=seen, condemned=condemned, pending=pending)
            replaced.add(reg.urn)
        self.delete_unregistered(seen, condemned, pending, dry_run=dry_run)

    def replace(
        self,
        reg: Registration,
        old: ResourceState,
        diff: DiffOutcome,
        forced: list[str],
        *,
        dry_run: bool,
        seen: set[str],
        condemned: dict[str, ResourceState],
        pending: list[ResourceState],
    ) -> None:
        """A replacement (``continueStepsFromDiff``).

        * protect: refused when the resource is protected both in state and in the program ("we do allow
          unprotecting and replacing to happen in a single update"); a preview records the error and goes on.
        * replaceWith: a resource is replaced when any resource in its ``replaceWith`` was replaced earlier
          in this deployment, whatever its own Diff says.
        * the engine re-runs Check without olds before replacing ("recompute the default values").
        * delete-before-replace (the provider's ``deleteBeforeReplace``, overridden by the option): the
          dependents that will be replaced with it are deleted first, in reverse dependency order, then the
          old resource, then the new one is created; otherwise create first and delete the old one with
          the other deletes at the end.
        """
        keys = diff.replaces or tuple(f"replaceWith:{name}" for name in forced)
        if reg.protect and old.protect:
            message = f"unable to replace resource {reg.urn!r} as it is currently marked for protection"
            if not dry_run:
                raise EngineError(message, resource=reg.name, method="Diff")
            self.deployment.errors.append(message)
        inputs = self.check(reg, {})
        dbr = reg.delete_before_replace if reg.delete_before_replace is not None else diff.delete_before_replace
        if dbr:
            for dependent in reversed(self.dependent_replacements(old, seen)):
                if dependent.protect:
                    raise EngineError(
                        f"unable to replace resource {dependent.urn!r} as part of replacing {reg.urn!r} "
                        "as it is currently marked for protection",
                        resource=dependent.name,
                        method="Delete",
                    )
                condemned[dependent.urn] = dependent
                self.delete(dependent, op="delete-replaced", dry_run=dry_run)
            self.delete(old, op="delete-replaced", dry_run=dry_run)
            new = self.create(reg, inputs, dry_run=dry_run)
            self.step("create-replacement", reg, keys, "delete-before-replace")
        else:
            new = self.create(reg, inputs, dry_run=dry_run)
            self.step("create-replacement", reg, keys, "create-before-delete")
            if not dry_run:
                old = replace(old, delete=True)
                self.current = [
                    replace(s, delete=True) if s.urn == old.urn and not s.delete else s for s in self.current
                ]
            pending.append(old)
        self.step("replace", reg, keys)
        if not dry_run:
            self.put(new)

    def dependent_replacements(self, root: ResourceState, seen: set[str]) -> list[ResourceState]:
        """The dependents a delete-before-replace of ``root`` condemns, in dependency order.

        Imitates ``calculateDependentReplacements`` over the old state's dependency graph: walk the
        transitive dependents of ``root`` that have not been registered yet in this deployment (those
        already registered cannot depend on it), and keep those that will be replaced because of it. The
        engine (v3.259) decides that by re-diffing with the properties that depend on a condemned
        resource set to unknown; this program has no property dependencies (``learn`` refuses them), so
        here the reason is ``replaceWith``: a dependent whose ``replaceWith`` names a condemned resource.
        Whether the current engine folds ``replaceWith`` into this calculation was not verified against
        its source; deleting those dependents first is the only order that never leaves a dependent
        pointing at a deleted resource.
        """
        chosen: list[ResourceState] = []
        doomed = {root.urn}
        for candidate in topological([s for s in self.current if not s.delete]):
            if candidate.urn in doomed or candidate.urn in seen:
                continue
            if doomed & set(candidate.dependencies) and doomed & set(candidate.replace_with):
                chosen.append(candidate)
                doomed.add(candidate.urn)
        return chosen

    def delete_unregistered(
        self, seen: set[str], condemned: Mapping[str, ResourceState], pending: list[ResourceState], *, dry_run: bool
    ) -> None:
        """``GenerateDeletes`` + ``ScheduleDeletes``: what the program no longer registers, and the old halves
        of create-before-delete replacements, deleted in reverse dependency order."""
        doomed = [s for s in self.current if s.delete or (s.urn not in seen and s.urn not in condemned)]
        if dry_run:
            doomed += [s for s in pending if s not in doomed]
        for old in reversed(topological(doomed)):
            self.delete(old, op="delete-replaced" if old.delete or old in pending else "delete", dry_run=dry_run)

    # ---- refresh and destroy -----------------------------------------------------------------
    def refresh(self) -> None:
        """``RefreshStep.Apply``: ``Read(id, properties=last outputs, inputs=last inputs)`` per resource.

        Secretness is re-derived against the old outputs and inputs (``annotateSecrets``) and the
        ``additionalSecretOutputs`` are marked again. An empty id means the resource is gone: it leaves
        the state. ``Deployment.refreshed`` names the outputs that changed (drift).
        """
        for old in [s for s in self.current if not s.delete]:
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
                self.deployment.gone.append(old.name)
                self.step("refresh", old, note="gone: removed from the state")
                self.drop(old)
                continue
            outputs = annotate_secrets(from_struct(response.properties), old.outputs)
            inputs = (
                annotate_secrets(from_struct(response.inputs), old.inputs)
                if response.HasField("inputs")
                else old.inputs
            )
            new = replace(
                old,
                id=response.id,
                inputs=inputs,
                outputs=mark_additional_secret_outputs(outputs, old.additional_secret_outputs),
            )
            changed = [k for k in diff_inputs(old.outputs, new.outputs) if k != "__provider"]
            self.deployment.refreshed[old.name] = changed
            self.step("refresh", old, changed)
            self.put(new)

    def destroy(self, *, dry_run: bool) -> None:
        for old in reversed(topological(list(self.current))):
            self.delete(old, op="delete-replaced" if old.delete else "delete", dry_run=dry_run)


Session = _Run


def _in_dependency_order(registrations: Sequence[Registration]) -> list[Registration]:
    """Registrations in dependency order (stable: the SDK already registers a resource after its dependencies)."""
    as_states = [
        ResourceState(r.urn, r.type, r.name, "", r.parent, r.inputs, {}, r.dependencies) for r in registrations
    ]
    by_urn = {r.urn: r for r in registrations}
    return [by_urn[s.urn] for s in topological(as_states)]
