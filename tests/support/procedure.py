"""Drive the providers at provider level, in the component's order, against the simulator: one way for all.

* ``component_resources(spec)``: the component's resources (name, provider class, inputs), derived from
  ``ClusteredMasterSecret`` run under mocks, never re-typed;
* ``Stack``: the engine's operations over a provider-level state, as the engine sequences them: ``up`` (check,
  diff, update or create in order, then deletes in reverse; ``targets`` as ``pulumi up --target``),
  ``preview``, ``refresh``, ``destroy``, ``delete`` and ``update`` of one resource (``update`` whatever ``diff`` says,
  for a test of ``update()`` itself), ``check`` of one resource's inputs, and
  ``create_with`` for a provider the caller configured (the program's mocks, ``tests/support/mocks.py``);
  ``Procedure.up`` is a first ``Stack.up``. A test that needs a resource created again (an import, a retried
  create) ``forget``s it and runs ``up`` with it as the target.

Why not the engine harness: these tests pin what each provider does to the world, fast; the engine contract
(pickling, gRPC, state, the engine's ordering rules) has its own harness in tests/engine.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import dill
import pulumi
from pulumi.dynamic import CheckResult
from pulumi.runtime._serialization import _deserialize

from components.clustered_master_secret import ClusteredMasterSecret, ProgramSecrets
from provider.resources.base import EssoProvider, TypedProvider
from provider.spec import ClusterSpec, load_spec
from tests.support.engine_program import Registration, run_under_mocks
from tests.support.engine_wire import strip_secrets

SERVICE_PASSWORD = "Svc-Sentinel-7d1e!"
BACKUP_PASSWORD = "Bak-Sentinel-93fa#"


def demo_spec(tmp_path: Path, nodes: tuple[str, ...] = ("SSO01", "SSO02"), **overrides: Any) -> ClusterSpec:
    """The demo stack's settings, with its world and escrow under ``tmp_path``."""
    config: dict[str, Any] = {
        "target": "simulator",
        "simulatorState": str(tmp_path / "world.json"),
        "cluster": {"networkName": "BIZTALKSSO", "role": "SSO", "nodes": list(nodes)},
        "domain": {"name": "CONTOSO"},
        "sso": {"serviceAccount": "CONTOSO\\svc-entsso", "configuringAccount": "CONTOSO\\esso-config"},
        "database": {"server": "SQL01", "name": "SSODB"},
        "escrow": {"kind": "local", "path": str(tmp_path / "escrow")},
        "transport": {"auth": "credssp", "secondHop": "credssp"},
        "allowDisruption": True,
        "serviceAccountPassword": SERVICE_PASSWORD,
        "backupPassword": BACKUP_PASSWORD,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return load_spec(config)


def component_registrations(spec: ClusterSpec) -> list[Registration]:
    """The component's dynamic resources in registration order, from ``ClusteredMasterSecret`` run under mocks
    (as ``__main__.py`` builds it: the passwords as secret Outputs)."""
    backup = spec.backup_password.get_secret_value() if spec.backup_password else None
    key = (spec.model_dump_json(), spec.service_account_password.get_secret_value(), backup)
    if key not in _LEARNED:
        _LEARNED[key] = _registrations(spec)
    return list(_LEARNED[key])


_LEARNED: dict[tuple[str, str, str | None], tuple[Registration, ...]] = {}  # the component is pure: run it once


def _registrations(spec: ClusterSpec) -> tuple[Registration, ...]:
    def program() -> None:
        backup = spec.backup_password.get_secret_value() if spec.backup_password else None
        secrets = ProgramSecrets(
            service_account_password=pulumi.Output.secret(spec.service_account_password.get_secret_value()),
            backup_password=pulumi.Output.secret(backup) if backup is not None else None,
        )
        ClusteredMasterSecret("demo", spec, secrets)

    return tuple(r for r in run_under_mocks(program) if r.dynamic)


def provider_class(registration: Registration) -> type[EssoProvider]:
    """The provider class of a dynamic resource: the class of its pickled ``__provider``."""
    return _unpickled_class(registration.provider_blob)


@functools.cache
def _unpickled_class(provider_blob: str) -> type[EssoProvider]:
    """Once per blob: every driver call asks for the component's resources, and unpickling is most of it."""
    blob = base64.b64decode(provider_blob)
    provider = _deserialize(lambda: dill.loads(blob))  # noqa: S301 - our own blob
    assert isinstance(provider, TypedProvider), type(provider)
    return type(provider)


def seed_order(tmp_path: Path, nodes: tuple[str, ...] = ("SSO01", "SSO02")) -> list[str]:
    """The resource names in the component's order for ``nodes`` (the seed's procedure, as the component has it)."""
    return [r.name for r in component_registrations(demo_spec(tmp_path, nodes))]


def component_resources(spec: ClusterSpec) -> list[tuple[str, type[EssoProvider], dict[str, Any]]]:
    """(name, provider class, inputs) in the component's order, as the component registers them.

    Derived, not re-typed: ``ClusteredMasterSecret`` runs under mocks with this spec, and each dynamic resource
    gives its name, its provider (the class of the pickled ``__provider``) and its inputs with the secrets
    revealed — what the engine hands to ``check()``.
    """
    return [
        (r.name, provider_class(r), {k: strip_secrets(v) for k, v in r.inputs.items() if k != "__provider"})
        for r in component_registrations(spec)
    ]


Op = Literal["create", "update", "same", "delete"]


class Procedure:
    """One provider per resource of the component, configured with the spec, called in seed order."""

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self.outputs: dict[str, dict[str, Any]] = {}

    def provider(self, cls: type[EssoProvider]) -> EssoProvider:
        p = cls()
        p.use_spec(self.spec)
        return p

    def resources(self) -> list[tuple[str, type[EssoProvider], dict[str, Any]]]:
        """(name, provider class, inputs) in the component's order (``component_resources``)."""
        return component_resources(self.spec)

    def up(self) -> dict[str, dict[str, Any]]:
        """A first ``up``: create every resource (or, on a converged world, adopt it) in order, as ``Stack.up``
        drives it (check, then create with the checked inputs); returns outputs by name."""
        stack = Stack()
        stack.up(self.spec)
        self.outputs = {name: resource.outputs for name, resource in stack.state.items()}
        return self.outputs


# ------------------------------------------------------------------------------------------- the engine


@dataclass
class Resource:
    """One resource in the emulated state: its provider class, id, checked inputs and outputs.

    As in the engine's state: ``check()`` receives the old *inputs* (so a password's fingerprint keeps its
    salt), ``diff()``/``update()``/``delete()`` the old *outputs*.
    """

    name: str
    cls: type[EssoProvider]
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass
class Event:
    """What the emulated engine did to one resource, with the diff it acted on and the provider's steps."""

    name: str
    op: Op
    changes: bool = False
    replaces: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    stables: list[str] = field(default_factory=list)  # preview: the outputs the diff says an update keeps

    def changed_steps(self) -> list[tuple[str, str]]:
        return [(s["node"], s["step"]) for s in self.steps if s.get("changed")]


class Stack:
    """The state of one stack, and ``pulumi up``/``preview`` over it as the engine sequences them.

    Every provider call gets a fresh provider configured with the stack configuration of that run (the
    engine's ``configure()``). A failed call propagates; the state keeps what succeeded before it, as the
    engine's does, so a later ``up`` resumes (e.g. a delete that failed is tried again).
    """

    def __init__(self) -> None:
        self.state: dict[str, Resource] = {}
        self.events: list[Event] = []

    @staticmethod
    def _provider(cls: type[EssoProvider], spec: ClusterSpec) -> EssoProvider:
        provider = cls()
        provider.use_spec(spec)
        return provider

    def outputs(self, name: str) -> dict[str, Any]:
        return self.state[name].outputs

    def forget(self, name: str) -> None:
        """``pulumi state delete <urn>``: drop a resource from state without calling its provider."""
        dependents = self._dependents(name)
        assert not dependents, f"{name} has dependents in state: {dependents}"
        del self.state[name]

    def _dependents(self, name: str) -> list[str]:
        """The component's dependencies, by name: a node's restore depends on its join (and on the restores
        before it); the clustered service, the name and everything else depend on the SSO system."""
        if name.startswith("sso-join-"):
            return [n for n in self.state if n == "master-secret-restore-" + name.removeprefix("sso-join-")]
        return []

    def preview(self, spec: ClusterSpec, *, program_spec: ClusterSpec | None = None) -> list[Event]:
        """``pulumi preview --diff``: check and diff only (both pure), nothing created, changed or deleted.

        ``program_spec``, as in ``up``."""
        plan: list[Event] = []
        program = component_resources(program_spec or spec)
        for name, cls, inputs in program:
            provider = self._provider(cls, spec)
            old = self.state.get(name)
            checked = provider.check(old.inputs if old else {}, inputs)
            assert not checked.failures, [(f.property, f.reason) for f in checked.failures]
            if old is None:
                plan.append(Event(name, "create"))
                continue
            diff = provider.diff(old.id, old.outputs, checked.inputs)
            op: Op = "update" if diff.changes else "same"
            plan.append(
                Event(name, op, bool(diff.changes), list(diff.replaces or []), stables=list(diff.stables or []))
            )
        plan += [Event(name, "delete") for name in self._removed(program)]
        return plan

    def _removed(self, program: Sequence[tuple[str, type[EssoProvider], dict[str, Any]]]) -> list[str]:
        """Resources in state but not in the program, in reverse dependency (= reverse registration) order."""
        wanted = {name for name, _, _ in program}
        return [name for name in reversed(self.state) if name not in wanted]

    def up(
        self,
        spec: ClusterSpec,
        targets: Collection[str] | None = None,
        *,
        program_spec: ClusterSpec | None = None,
    ) -> list[Event]:
        """``pulumi up``: creates and updates in the program's order, then the deletes; returns what it did.

        With ``targets`` (``pulumi up --target``), only the named resources are created, updated or deleted.
        ``program_spec``: the spec the program registers its inputs from when it differs from the configuration
        the providers read (a password held in Secrets Manager changed: the stack's inputs stay, what the
        providers read does not)."""
        events: list[Event] = []
        self.events = events
        program = component_resources(program_spec or spec)
        removed = self._removed(program)
        for name, cls, inputs in program:
            if targets is not None and name not in targets:
                continue
            provider = self._provider(cls, spec)
            old = self.state.get(name)
            checked = provider.check(old.inputs if old else {}, inputs)
            assert not checked.failures, [(f.property, f.reason) for f in checked.failures]
            news = dict(checked.inputs)
            if old is None:
                created = provider.create(news)
                assert created.outs is not None
                self._put(Resource(name, cls, str(created.id), news, dict(created.outs)), program)
                events.append(Event(name, "create", True, [], list(created.outs.get("steps") or [])))
                continue
            diff = provider.diff(old.id, old.outputs, news)
            assert not diff.replaces, f"{name} would be replaced ({diff.replaces}); this harness emulates no replace"
            if not diff.changes:
                old.inputs = news  # a "same" step records the new inputs and keeps the outputs
                events.append(Event(name, "same"))
                continue
            events.append(self._update(provider, old, news))
        events += [self.delete(spec, name) for name in removed if targets is None or name in targets]
        return events

    @staticmethod
    def _update(provider: EssoProvider, old: Resource, news: dict[str, Any]) -> Event:
        updated = provider.update(old.id, old.outputs, news)
        assert updated.outs is not None
        old.inputs, old.outputs = news, dict(updated.outs)
        return Event(old.name, "update", True, [], list(updated.outs.get("steps") or []))

    def update(self, spec: ClusterSpec, name: str) -> Event:
        """The provider's ``update()`` of one resource in state, with its outputs from state and the program's
        checked inputs, whatever ``diff()`` says: for a test whose subject is ``update()`` itself (the engine
        would reach it through an input change the test has no reason to make). The state takes the outputs."""
        old = self.state[name]
        provider = self._provider(old.cls, spec)
        checked = self.check(spec, name)
        assert not checked.failures, [(f.property, f.reason) for f in checked.failures]
        return self._update(provider, old, dict(checked.inputs))

    def delete(self, spec: ClusterSpec, name: str, *, pending: bool = False) -> Event:
        """The provider's ``delete()`` of one resource with its outputs from state; the resource leaves the state
        unless ``pending`` (the engine keeps a dependent it deleted for a replacement as PendingReplacement, and
        deletes it again when the run fails before recreating it). A failed delete propagates and keeps it."""
        old = self.state[name]
        provider = self._provider(old.cls, spec)
        # EssoProvider.delete() is _begin("delete") then remove(): the same two calls here keep the steps the
        # engine would drop (a delete returns nothing), and the call's operation and run context are delete's
        # (the run record names the operation).
        assert type(provider).delete is EssoProvider.delete, f"{old.cls.__name__} overrides delete()"
        steps = provider._begin("delete", old.outputs)
        provider.remove(old.outputs, steps)
        if not pending:
            del self.state[name]
        return Event(name, "delete", True, [], steps.items)

    def destroy(self, spec: ClusterSpec) -> list[Event]:
        """``pulumi destroy``: every resource's delete in reverse registration order; a failed one stays."""
        return [self.delete(spec, name) for name in list(reversed(self.state))]

    def refresh(self, spec: ClusterSpec, targets: Collection[str] | None = None) -> dict[str, dict[str, Any]]:
        """``pulumi refresh`` (``--target``): ``read()`` each resource with its outputs; the state takes what was
        read, and a resource read as gone leaves it. Returns the outputs read, by name."""
        found: dict[str, dict[str, Any]] = {}
        for name in list(self.state):
            if targets is not None and name not in targets:
                continue
            old = self.state[name]
            read = self._provider(old.cls, spec).read(old.id, old.outputs)
            if not read.id:
                del self.state[name]
                continue
            old.outputs = found[name] = dict(read.outs or {})
        return found

    def check(
        self,
        spec: ClusterSpec,
        name: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        olds: Mapping[str, Any] | None = None,
    ) -> CheckResult:
        """``check()`` of one resource as the engine calls it: the component's inputs for ``name`` with ``inputs``
        laid over them (a test's bad or unknown value), and the old inputs from state unless ``olds`` is given.
        Pure: the state does not change."""
        cls, registered = next((c, i) for n, c, i in component_resources(spec) if n == name)
        old = self.state.get(name)
        previous = dict(olds) if olds is not None else (old.inputs if old else {})
        return self._provider(cls, spec).check(previous, {**registered, **(inputs or {})})

    def create_with(self, name: str, provider: EssoProvider, inputs: Mapping[str, Any]) -> Resource:
        """``check()`` then ``create()`` of one new resource with a provider the caller configured (the program's
        mocks configure it from the stack's config text, as the host does); the resource joins the state."""
        checked = provider.check({}, dict(inputs))
        if checked.failures:
            raise AssertionError([(f.property, f.reason) for f in checked.failures])
        news = dict(checked.inputs)
        created = provider.create(news)
        resource = Resource(name, type(provider), str(created.id), news, dict(created.outs or {}))
        self.state[name] = resource
        return resource

    def _put(self, resource: Resource, program: Sequence[tuple[str, type[EssoProvider], dict[str, Any]]]) -> None:
        """Insert a new resource in program order, before any resource registered after it."""
        order = [name for name, _, _ in program]
        after = set(order[order.index(resource.name) + 1 :])
        items = list(self.state.items())
        at = next((i for i, (name, _) in enumerate(items) if name in after), len(items))
        items.insert(at, (resource.name, resource))
        self.state = dict(items)


def ops(events: Sequence[Event]) -> dict[str, Op]:
    return {e.name: e.op for e in events}
