"""What every ESSO dynamic provider shares: validation, a pure diff, drift, steps, secrets, the connection.

Why a base: the six resources differ in what they converge, not in how they talk to the engine.
Here live the rules of docs/design.md that apply to all of them:

* ``check()`` validates the inputs with the resource's pydantic model and skips unknowns (preview).
* ``diff()`` is pure: replacement only on the declared config-derived keys, an update when a desired
  input changed, a secret's fingerprint changed, or ``read()`` recorded drift. ``__provider`` is ignored.
  Outputs an update never changes are reported as ``stables``.
* What a provider observes is a pydantic model (``Observed``): ``converge()``/``observe()`` return it,
  ``drift()`` compares it with the inputs, and the output keys, the registration placeholders and the
  Resource's annotations derive from it.
* Secret inputs never travel back: ``check()`` replaces each with a salted PBKDF2 fingerprint (reusing
  the salt in state, so an unchanged password yields the same fingerprint), so no gRPC response, state
  or diff carries it; the value a script needs comes from the live stack config given to ``configure()``.
  The fingerprint is also an output, listed in ``additional_secret_outputs``. One function,
  ``settled_fingerprint``, decides what is recorded for a secret, everywhere.
* The connection (target, transport, WinRM credentials) comes from the stack config handed to
  ``configure()``, never from inputs: changing it never replaces anything or touches a node by itself.
  It runs under the stack's ``CallPolicy`` (remote/base.py): only configured nodes are reached, and a
  disruptive script runs only with ``allowDisruption``.
* Each step a provider takes is recorded in a redacted ``steps`` output and printed on stderr; with the quiet
  input ``essoRun`` (never diffed) it also shows live on the resource's status line, and every remote call is
  appended to the stack's run record (``provider/operate/progress.py``, ``provider/remote/recorder.py``).
"""

from __future__ import annotations

import os
import threading
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, TypeAlias, TypeVar, cast

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError
from pydantic.alias_generators import to_camel

from provider import contracts
from provider.config.rules import (
    AdminGroupName,
    ClusterNodes,
    DomainAccount,
    NetbiosDomain,
    NetworkName,
    RoleName,
    password_problem,
)
from provider.errors import EssoError
from provider.operate.progress import QUIET_KEY, RunContext, live_log
from provider.remote.base import CallPolicy, Remote
from provider.remote.cache import Operation
from provider.remote.recorder import FileRecorder, Recorder, stack_log
from provider.remote.recorder import Operation as CallKind
from provider.resources import preflight
from provider.resources.fingerprints import (
    PBKDF2_ROUNDS,
    KeyRing,
    fingerprint,
    fingerprint_key,
    fingerprint_matches,
    is_fingerprint,
    salt_of,
    same_secret,
    settled_fingerprint,
)
from provider.resources.observed import Observed
from provider.resources.steps import Steps, has_unknowns, now_utc
from provider.spec import CONFIG_KEYS, ClusterSpec, load_spec

CONCURRENCY_ENV = "ESSO_CONCURRENCY"
DEFAULT_CONCURRENCY = 4


def concurrency_setting(value: str | None) -> int:
    """How many independent per-node calls run at once: ``ESSO_CONCURRENCY`` in the provider host's
    environment (the stack file's key set belongs to provider/config), 1-32, default 4; 1 runs them in turn."""
    if value is None or not value.strip():
        return DEFAULT_CONCURRENCY
    number = int(value) if value.strip().isdigit() else 0
    if not 1 <= number <= 32:
        raise EssoError(
            "ESSO-040",
            f"{CONCURRENCY_ENV} is {value[:20]!r}: give a whole number from 1 to 32 (how many nodes are read "
            f"or changed at once; default {DEFAULT_CONCURRENCY}), e.g. {CONCURRENCY_ENV}=4, or unset it.",
            step="configure",
        )
    return number


class Inputs(BaseModel):
    """A resource's inputs: camelCase on the wire, validated in ``check()``."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, hide_input_in_errors=True
    )

    def props(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")

    def problems(self) -> list[tuple[str, str]]:
        """Rules beyond types, as (camelCase key, message); the spec's own rule functions decide."""
        return []


class ClusterInputs(Inputs):
    """What every resource needs to run the preflight: the nodes, the role, the names that identify them.

    The fields are the stack model's rule types (provider/config/rules.py): check() applies the same
    rules, with the same messages, that the stack file passed.
    """

    domain: NetbiosDomain
    nodes: ClusterNodes
    role: RoleName
    network_name: NetworkName
    service_account: DomainAccount
    admin_group: AdminGroupName
    # transport.acceptWeakerTransport, recorded only (review M3): a weakened transport shows in preview --diff.
    accept_weaker_transport: tuple[Literal["http", "certValidation", "encryption"], ...] = ()

    @staticmethod
    def cluster_fields(spec: ClusterSpec) -> dict[str, Any]:
        return {
            "accept_weaker_transport": tuple(spec.transport.accept_weaker_transport),
            "domain": spec.domain.name,
            "nodes": list(spec.cluster.nodes),
            "role": spec.cluster.role,
            "network_name": spec.cluster.network_name,
            "service_account": spec.sso.service_account,
            "admin_group": spec.sso.admin_group,
        }

    @property
    def qualified_admin_group(self) -> str:
        return f"{self.domain}\\{self.admin_group}"

    @property
    def configured_nodes(self) -> tuple[str, ...]:
        """The hosts this resource may reach (its CallPolicy): the configured nodes, and its own node."""
        own = getattr(self, "node", None)
        return (*self.nodes, *([own] if isinstance(own, str) else []))

    def node_facts(self, remote: Remote, node: str) -> contracts.NodeFacts:
        """Get-NodeFacts on ``node`` for this resource's service account and SSO Administrators group."""
        return preflight.node_facts(
            remote, node, service_account=self.service_account, admin_group=self.qualified_admin_group
        )

    def all_node_facts(self, remote: Remote) -> dict[str, contracts.NodeFacts]:
        """Every configured node's facts, read in parallel (the reads behind outputs)."""
        return preflight.gather_node_facts(
            remote, self.nodes, service_account=self.service_account, admin_group=self.qualified_admin_group
        )

    def fresh_token_facts(
        self, remote: Remote, node: str, verified: preflight.Verified | None = None
    ) -> contracts.NodeFacts:
        """Node facts from a session whose token carries SSO Administrators (rule 13), reusing what the
        preflight read in this session when it read this node."""
        return preflight.fresh_token_facts(
            remote,
            node,
            service_account=self.service_account,
            admin_group=self.qualified_admin_group,
            known=verified.nodes.get(node) if verified else None,
        )

    def preflight(self, remote: Remote) -> preflight.Verified:
        return preflight.verify_preconditions(
            remote,
            nodes=self.nodes,
            service_account=self.service_account,
            admin_group=self.qualified_admin_group,
            role=self.role,
            network_name=self.network_name,
        )


InputsT = TypeVar("InputsT", bound=Inputs)
_CALL = threading.local()  # the resource, operation and status line of the provider call on this thread
ObservedT = TypeVar("ObservedT", bound=Observed)


@dataclass(frozen=True)
class Prior(Generic[InputsT, ObservedT]):
    """What state holds for the resource before an update: its inputs, observation and secret fingerprints."""

    inputs: InputsT
    observed: ObservedT
    fingerprints: dict[str, str | None] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ provider


class TypedProvider(ResourceProvider, Generic[InputsT, ObservedT]):
    """The shared engine contract, typed by a resource's inputs and observation. Subclasses set the class
    attributes and implement converge/observe/drift/remove."""

    resource: ClassVar[str]  # the short name used in steps and messages
    inputs_model: ClassVar[type[Inputs]]
    observed_model: ClassVar[type[Observed]]  # outputs that come from the world, not the inputs
    replace_keys: ClassVar[tuple[str, ...]] = ()  # camelCase input keys whose change replaces
    record_only_keys: ClassVar[tuple[str, ...]] = ()  # recorded, but a change needs no remote call
    # Recorded by every resource, never a remote call; absent from older state means the default (no upgrade diff).
    shared_record_only: ClassVar[dict[str, Any]] = {"acceptWeakerTransport": []}
    recorded_once_keys: ClassVar[tuple[str, ...]] = ()  # recorded once, never diffed (e.g. the creator node)
    secret_keys: ClassVar[tuple[str, ...]] = ()  # inputs replaced by fingerprints in outputs
    stable_outputs: ClassVar[tuple[str, ...]] = ()  # observed outputs an update never changes
    extra_secret_outputs: ClassVar[tuple[str, ...]] = ()  # observed outputs that must be stored as secrets
    delete_before_replace: ClassVar[bool] = False

    @classmethod
    def observed_keys(cls) -> tuple[str, ...]:
        return cls.observed_model.output_keys()

    # ---- connection --------------------------------------------------------------------------
    def configure(self, req: ConfigureRequest) -> None:
        """Take the live stack configuration (credentials, transport, allowDisruption) from the engine, and join
        the host's operation: every provider the host configures from the same Configure shares its facts cache
        (provider/remote/cache.py says why that is one engine operation)."""
        values = {k: v for k in CONFIG_KEYS if (v := req.config.get(k)) not in (None, "")}
        self._spec = load_spec(values)
        concurrency = concurrency_setting(os.environ.get(CONCURRENCY_ENV))
        token = getattr(req.config, "_props", None)  # the host's Configure payload, one object per Configure
        self._operation: Operation | None = Operation.for_host(token if token is not None else req.config)
        self._operation.concurrency = concurrency

    def use_spec(self, spec: ClusterSpec, operation: Operation | None = None) -> None:
        """Set the live configuration directly (tests, and the program's in-process mocks). Without an
        ``operation`` every read goes to the nodes, calls run in turn, and fingerprints derive afresh."""
        self._spec = spec
        self._operation = operation

    @property
    def operation(self) -> Operation | None:
        """The engine operation this provider serves (None outside a provider host)."""
        return getattr(self, "_operation", None)

    @property
    def key_ring(self) -> KeyRing:
        """The operation's fingerprint keys (one derivation per secret); outside a host, a new ring per call
        (nothing unpicklable is kept on a provider the program serializes)."""
        return self.operation.keys if self.operation is not None else KeyRing()

    @property
    def spec(self) -> ClusterSpec:
        spec: ClusterSpec | None = getattr(self, "_spec", None)
        if spec is None:
            raise EssoError(
                "ESSO-040",
                f"{self.resource}: the provider received no stack configuration (configure() was not called).",
            )
        return spec

    @contextmanager
    def remote(self, inputs: ClusterInputs, *also: str) -> Iterator[Remote]:
        """A connection under the stack's policy: it reaches only the configured nodes (the stack's, this
        resource's, and ``also``: hosts its state recorded, such as the creator node) and runs a disruptive
        script only with allowDisruption."""
        from provider.remote.factory import connect

        remote = connect(self.spec, project_dir=Path(os.getcwd()))
        remote.recorder = self._call_recorder()
        remote.policy = CallPolicy.for_stack(
            nodes=(*self.spec.cluster.nodes, *inputs.configured_nodes, *also),
            allow_disruption=self.spec.allow_disruption,
        )
        if self.operation is not None:
            remote.cache = self.operation.cache
            remote.concurrency = self.operation.concurrency
            remote.levels = self.operation.levels.track(f"{self.resource} {getattr(inputs, 'node', '')}".strip())
        try:
            yield remote
        finally:
            remote.close()

    # ---- progress and the record (issue 18) -----------------------------------------------------
    recorder: Recorder | None = None  # set by a caller that keeps the calls itself (``esso plan``'s twin)

    def _begin(self, operation: CallKind, props: Mapping[str, Any]) -> Steps:
        """Note which resource and operation the calls that follow belong to; Steps that also show live.

        Per thread: the SDK host shares one provider object among the resources of its class and serves
        requests on several threads (a refresh reads them in parallel)."""
        _CALL.operation = operation
        _CALL.context = context = RunContext.from_props(dict(props))
        steps = Steps(self.resource)
        _CALL.live = log = live_log(context)
        if log is not None:
            steps.live = log.status
        return steps

    def _call_recorder(self) -> Recorder | None:
        """The recorder of this call's Remote: the caller's, or the stack's log file when the stack is known."""
        operation: CallKind = getattr(_CALL, "operation", "other")
        context: RunContext | None = getattr(_CALL, "context", None)
        recorder = self.recorder
        if recorder is None and context is not None:
            try:
                path = stack_log(Path(os.getcwd()), context.stack)  # the host's cwd is the project
            except ValueError:
                path = None
            if path is not None:
                recorder = FileRecorder(path, operation=operation, resource=self.resource)
        if recorder is not None:
            recorder.operation, recorder.resource = operation, self.resource
            log = getattr(_CALL, "live", None)
            if log is not None:
                recorder.listeners = [lambda node, script: log.status(f"{node} {script} running")]
        return recorder

    def service_account_password(self) -> SecretStr:
        """The ENTSSO account's password, from the live stack config (inputs hold only its fingerprint)."""
        return self.spec.service_account_password

    def backup_password(self) -> SecretStr:
        """The master secret backup password: the stack's secret, or else the escrow's Secrets Manager entry."""
        if self.spec.backup_password is not None:
            return self.spec.backup_password
        section = self.spec.escrow
        if section.password_secret_id:
            from provider.backup_password import backup_password_from_secrets_manager

            return backup_password_from_secrets_manager(section.password_secret_id, section.region)
        raise EssoError("ESSO-040", "no backup password: set backupPassword or escrow.passwordSecretId.")

    def require_disruption(self, what: str, node: str | None) -> None:
        """ESSO-019 before a step that would need a disruptive script later, or in diff() where no Remote
        exists (the rule's home is ``CallPolicy.require_disruption``)."""
        CallPolicy(allow_disruption=self.spec.allow_disruption).require_disruption(
            f"{self.resource} must {what}", node=node, step=what
        )

    # ---- engine contract ---------------------------------------------------------------------
    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        own = self._own(news)
        checked = self._fingerprinted(olds, news)  # on every path: a CheckResponse never carries a password
        if has_unknowns(own):
            return CheckResult(checked, [])
        try:
            inputs = self.inputs_model.model_validate(own)
        except ValidationError as exc:
            failures = [
                CheckFailure(".".join(str(p) for p in err["loc"]) or self.resource, err["msg"]) for err in exc.errors()
            ]
            return CheckResult(checked, failures)
        problems = inputs.problems()
        for key in self.secret_keys:
            value = own.get(key)
            if isinstance(value, str) and not is_fingerprint(value):
                why = password_problem(key, SecretStr(value), None)
                if why:
                    problems.append((key, why))
        return CheckResult(checked, [CheckFailure(key, f"{key} {why}") for key, why in problems])

    def _fingerprinted(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
        """The inputs with each secret replaced by its fingerprint (salt reused from state); unknowns kept."""
        checked = dict(news)
        for key in self.secret_keys:
            value = news.get(key)
            if value is None or has_unknowns(value):
                continue
            if not isinstance(value, str):
                checked[key] = None  # not a password: validation reports the type, the value goes nowhere
                continue
            stored = olds.get(key)
            checked[key] = settled_fingerprint(value, stored if is_fingerprint(stored) else None, self.key_ring)
        return checked

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in self.replace_keys if olds.get(k) != news.get(k)]
        plain_keys = [
            k
            for k in news
            if k not in ("__provider", QUIET_KEY)
            and k not in self.secret_keys
            and k not in self.recorded_once_keys
            and k not in replaces
        ]
        changed = [k for k in plain_keys if self._old(olds, k) != news.get(k)]
        changed += [k for k in self.secret_keys if self._secret_changed(k, olds, news)]
        if not replaces and not changed and not has_unknowns(news):
            changed = self._drift_in(olds)
        if replaces:
            self.guard_replacement(olds, news, replaces)
        return DiffResult(
            changes=bool(replaces or changed),
            replaces=replaces,
            stables=[] if replaces else self.stables(),
            delete_before_replace=self.delete_before_replace,
        )

    def stables(self) -> list[str]:
        """Outputs an update leaves as they are: the replace keys (they did not change, or it would be a
        replacement), the keys recorded once, and the observations declared stable."""
        return [*self.replace_keys, *self.recorded_once_keys, *self.stable_outputs]

    def guard_replacement(self, olds: dict[str, Any], news: dict[str, Any], replaces: list[str]) -> None:
        """Refuse a replacement during diff (so preview already fails). Default: allowed."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = cast(InputsT, self.inputs_model.model_validate(self._own(props)))
        steps = self._begin("create", props)
        observed = self.converge(inputs, None, steps)
        return CreateResult(self.resource_id(inputs), self._outputs(props, observed.outputs(), steps))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        inputs = cast(InputsT, self.inputs_model.model_validate(self._own(news)))
        steps = self._begin("update", news)
        if self._needs_no_remote_call(olds, news):
            observed = self.observed_model.from_state(olds).outputs(only_set=True)
            steps.add("-", "record-settings", False, "no remote call needed")
        else:
            observed = self.converge(inputs, self.prior(olds), steps).outputs()
        return UpdateResult(self._outputs(news, observed, steps, previous=olds))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        self._begin("read", props)
        observed = self.observe(self.stored_inputs(props), self.recorded(props))
        if observed is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, **observed.outputs(only_set=True)})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        steps = self._begin("delete", props)
        self.remove(props, steps)

    # ---- what subclasses implement -----------------------------------------------------------
    @abstractmethod
    def resource_id(self, inputs: Any) -> str: ...

    @abstractmethod
    def converge(self, inputs: InputsT, prior: Prior[InputsT, ObservedT] | None, steps: Steps) -> ObservedT:
        """Make the world match the inputs (``prior``: what state held, None on create); return what it
        observed (never secrets)."""

    @abstractmethod
    def observe(self, inputs: InputsT, recorded: ObservedT) -> ObservedT | None:
        """Read the facts behind the outputs; None only on positive evidence that it is gone."""

    @abstractmethod
    def remove(self, props: dict[str, Any], steps: Steps) -> None:
        """Undo exactly what this resource did, as the design's per-resource table says."""

    def drift(self, observed: ObservedT, inputs: InputsT) -> list[str]:
        """Names of outputs that ``read()`` found different from the desired state."""
        return []

    # ---- helpers -----------------------------------------------------------------------------
    def stored_inputs(self, props: Mapping[str, Any]) -> InputsT:
        """The inputs recorded in state (outputs carry them, minus secrets) for read() and delete()."""
        keys = {f.alias or n for n, f in self.inputs_model.model_fields.items()}
        return cast(InputsT, self.inputs_model.model_validate({k: v for k, v in props.items() if k in keys}))

    def recorded(self, props: Mapping[str, Any]) -> ObservedT:
        """The observation recorded in state."""
        return cast(ObservedT, self.observed_model.from_state(props))

    def prior(self, olds: Mapping[str, Any]) -> Prior[InputsT, ObservedT]:
        return Prior(
            self.stored_inputs(olds),
            self.recorded(olds),
            {k: olds.get(fingerprint_key(k)) for k in self.secret_keys},
        )

    def _drift_in(self, olds: Mapping[str, Any]) -> list[str]:
        return self.drift(self.recorded(olds), self.stored_inputs(olds))

    @staticmethod
    def _own(props: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in props.items() if k not in ("__provider", QUIET_KEY)}

    def _secret_changed(self, key: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
        """Whether a secret input differs from the one whose fingerprint is in state."""
        value, stored = news.get(key), olds.get(fingerprint_key(key))
        if has_unknowns(value):
            return True
        return not same_secret(settled_fingerprint(value, stored, self.key_ring), stored)

    def _needs_no_remote_call(self, olds: dict[str, Any], news: dict[str, Any]) -> bool:
        if self._drift_in(olds) or any(self._secret_changed(k, olds, news) for k in self.secret_keys):
            return False
        changed = [
            k
            for k in news
            if k not in ("__provider", QUIET_KEY)
            and k not in self.secret_keys
            and k not in self.recorded_once_keys
            and self._old(olds, k) != news.get(k)
        ]
        return bool(changed) and all(k in self.record_only_keys or k in self.shared_record_only for k in changed)

    def _old(self, olds: Mapping[str, Any], key: str) -> Any:
        """The recorded value of ``key``; a shared record-only key missing from older state is its default."""
        return olds.get(key, self.shared_record_only.get(key))

    def _outputs(
        self,
        props: Mapping[str, Any],
        observed: Mapping[str, Any],
        steps: Steps,
        previous: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        outs = {k: v for k, v in self._own(props).items() if k not in self.secret_keys}
        for key in self.recorded_once_keys:
            if previous is not None and key in previous:
                outs[key] = previous[key]
        for key in self.secret_keys:
            outs[fingerprint_key(key)] = settled_fingerprint(
                props.get(key), (previous or {}).get(fingerprint_key(key)), self.key_ring
            )
        outs.update(observed)
        if isinstance(props.get(QUIET_KEY), dict):
            outs[QUIET_KEY] = props[QUIET_KEY]  # kept in state: refresh and destroy know the URN and the stack
        outs["steps"] = steps.items
        return outs


EssoProvider: TypeAlias = TypedProvider[Any, Any]
"""Any ESSO provider, whatever its inputs and observation (what harnesses and ``registration`` take)."""


def registration(
    provider: type[EssoProvider],
    inputs: Inputs,
    opts: pulumi.ResourceOptions | None,
    secrets: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], pulumi.ResourceOptions]:
    """The props and options a resource registers with: its inputs, its secrets (as secret Outputs), every
    observed output declared as None (so the SDK creates an attribute for it), and the fingerprints of its
    secrets requested as secret outputs."""
    props: dict[str, Any] = {
        **inputs.props(),
        **(secrets or {}),
        **{k: None for k in provider.observed_keys()},
        "steps": None,
    }
    secret_outputs = [fingerprint_key(k) for k in provider.secret_keys] + list(provider.extra_secret_outputs)
    extra = pulumi.ResourceOptions(additional_secret_outputs=secret_outputs) if secret_outputs else None
    return props, pulumi.ResourceOptions.merge(opts, extra)


__all__ = [
    "PBKDF2_ROUNDS",
    "ClusterInputs",
    "EssoProvider",
    "Inputs",
    "Observed",
    "Prior",
    "Steps",
    "TypedProvider",
    "fingerprint",
    "fingerprint_key",
    "fingerprint_matches",
    "has_unknowns",
    "is_fingerprint",
    "now_utc",
    "registration",
    "salt_of",
    "settled_fingerprint",
]
