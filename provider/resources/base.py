"""What every ESSO dynamic provider shares: validation, a pure diff, drift, steps, secrets, the connection.

Why a base: the six resources differ in what they converge, not in how they talk to the engine.
Here live the rules of DESIGN.md that apply to all of them:

* ``check()`` validates the inputs with the resource's pydantic model and skips unknowns (preview).
* ``diff()`` is pure: replacement only on the declared config-derived keys, an update when a desired
  input changed, a secret's fingerprint changed, or ``read()`` recorded drift. ``__provider`` is ignored.
* Secret inputs never travel back: ``check()`` replaces each with a salted PBKDF2 fingerprint (reusing
  the salt in state, so an unchanged password yields the same fingerprint), so no gRPC response, state
  or diff carries it; the value a script needs comes from the live stack config given to ``configure()``.
  The fingerprint is also an output, listed in ``additional_secret_outputs``.
* The connection (target, transport, WinRM credentials) comes from the stack config handed to
  ``configure()``, never from inputs: changing it never replaces anything or touches a node by itself.
* Each step a provider takes is recorded in a redacted ``steps`` output and printed on stderr.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

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

from provider.config.problems import printable
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
from provider.remote.base import Remote
from provider.resources import preflight
from provider.spec import CONFIG_KEYS, ClusterSpec, load_spec

PBKDF2_ROUNDS = 60_000


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

    @staticmethod
    def cluster_fields(spec: ClusterSpec) -> dict[str, Any]:
        return {
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

    def preflight(self, remote: Remote) -> preflight.Verified:
        return preflight.full(
            remote,
            nodes=self.nodes,
            service_account=self.service_account,
            admin_group=self.qualified_admin_group,
            role=self.role,
            network_name=self.network_name,
        )


# ------------------------------------------------------------------------------------------ secrets


def fingerprint(value: str, salt: str | None = None) -> str:
    """A salted, slow fingerprint: lets diff() see a changed password without keeping the password."""
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", value.encode("utf-8"), bytes.fromhex(salt), PBKDF2_ROUNDS).hex()
    return f"pbkdf2-sha256${PBKDF2_ROUNDS}${salt}${digest}"


def is_fingerprint(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("pbkdf2-sha256$") and value.count("$") == 3


def salt_of(stored: Any) -> str | None:
    return str(stored).split("$")[2] if is_fingerprint(stored) else None


def fingerprint_matches(value: str, stored: str | None) -> bool:
    if not stored or stored.count("$") != 3:
        return False
    _, rounds, salt, _ = stored.split("$")
    if int(rounds) != PBKDF2_ROUNDS:
        return False
    return hmac.compare_digest(fingerprint(value, salt), stored)


def fingerprint_key(key: str) -> str:
    return f"{key}Fingerprint"


# --------------------------------------------------------------------------------------------- steps


class Steps:
    """The redacted record of what a provider did: node, step, changed. Never values."""

    def __init__(self, resource: str) -> None:
        self.resource = resource
        self.items: list[dict[str, Any]] = []

    def add(self, node: str, step: str, changed: bool, note: str = "") -> None:
        item: dict[str, Any] = {"node": node, "step": step, "changed": changed}
        if note:
            item["note"] = note
        self.items.append(item)
        state = "changed" if changed else "ok"
        extra = f" ({printable(note)})" if note else ""
        line = f"esso: [{printable(self.resource)}] {printable(node)} {printable(step)} {state}{extra}"
        print(line, file=sys.stderr, flush=True)  # escaped: a node's reply cannot forge or erase a line (L4)


def has_unknowns(value: Any) -> bool:
    """True when a preview left any value unknown (the host passes ``pulumi.output.Unknown``)."""
    if isinstance(value, Mapping):
        return any(has_unknowns(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_unknowns(v) for v in value)
    return type(value).__name__ == "Unknown"


def now_utc() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


# ------------------------------------------------------------------------------------------ provider


class EssoProvider(ResourceProvider):
    """The shared engine contract. Subclasses set the class attributes and implement converge/observe."""

    resource: ClassVar[str]  # the short name used in steps and messages
    inputs_model: ClassVar[type[Inputs]]
    replace_keys: ClassVar[tuple[str, ...]] = ()  # camelCase input keys whose change replaces
    quiet_keys: ClassVar[tuple[str, ...]] = ()  # recorded, but a change needs no remote call
    undiffed_keys: ClassVar[tuple[str, ...]] = ()  # recorded once, never diffed (e.g. the creator node)
    secret_keys: ClassVar[tuple[str, ...]] = ()  # inputs replaced by fingerprints in outputs
    observed_keys: ClassVar[tuple[str, ...]] = ()  # outputs that come from the world, not the inputs
    extra_secret_outputs: ClassVar[tuple[str, ...]] = ()  # observed outputs that must be stored as secrets
    delete_before_replace: ClassVar[bool] = False

    # ---- connection --------------------------------------------------------------------------
    def configure(self, req: ConfigureRequest) -> None:
        """Take the live stack configuration (credentials, transport, allowDisruption) from the engine."""
        values = {k: v for k in CONFIG_KEYS if (v := req.config.get(k)) not in (None, "")}
        self._spec = load_spec(values)

    def use_spec(self, spec: ClusterSpec) -> None:
        """Set the live configuration directly (tests, and the program's in-process mocks)."""
        self._spec = spec

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
    def remote(self) -> Iterator[Remote]:
        from provider.remote.factory import connect

        remote = connect(self.spec, project_dir=Path(os.getcwd()))
        try:
            yield remote
        finally:
            remote.close()

    def service_account_password(self) -> SecretStr:
        """The ENTSSO account's password, from the live stack config (inputs hold only its fingerprint)."""
        return self.spec.service_account_password

    def backup_password(self) -> SecretStr:
        """The master secret backup password: the stack's secret, or else the escrow's Secrets Manager entry."""
        if self.spec.backup_password is not None:
            return self.spec.backup_password
        section = self.spec.escrow
        if section.password_secret_id:
            from provider.escrow import backup_password_from_secrets_manager

            return backup_password_from_secrets_manager(section.password_secret_id, section.region)
        raise EssoError("ESSO-040", "no backup password: set backupPassword or escrow.passwordSecretId.")

    def require_disruption(self, what: str, node: str) -> None:
        if not self.spec.allow_disruption:
            raise EssoError(
                "ESSO-019",
                f"{self.resource} must {what}; the stack does not set allowDisruption.",
                node=node,
                step=what,
            )

    # ---- engine contract ---------------------------------------------------------------------
    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        own = {k: v for k, v in news.items() if k != "__provider"}
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
            if value is None or has_unknowns(value) or is_fingerprint(value):
                continue
            checked[key] = fingerprint(value, salt_of(olds.get(key))) if isinstance(value, str) else None
        return checked

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in self.replace_keys if olds.get(k) != news.get(k)]
        plain_keys = [
            k
            for k in news
            if k != "__provider" and k not in self.secret_keys and k not in self.undiffed_keys and k not in replaces
        ]
        changed = [k for k in plain_keys if olds.get(k) != news.get(k)]
        changed += [k for k in self.secret_keys if self._secret_changed(k, olds, news)]
        if not replaces and not changed and not has_unknowns(news):
            changed = self.drift(olds)
        if replaces:
            self.guard_replacement(olds, news, replaces)
        return DiffResult(
            changes=bool(replaces or changed),
            replaces=replaces,
            delete_before_replace=self.delete_before_replace,
        )

    def guard_replacement(self, olds: dict[str, Any], news: dict[str, Any], replaces: list[str]) -> None:
        """Refuse a replacement during diff (so preview already fails). Default: allowed."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self.inputs_model.model_validate(self._own(props))
        steps = Steps(self.resource)
        observed = self.converge(inputs, None, steps)
        return CreateResult(self.resource_id(inputs), self._outputs(props, observed, steps))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        inputs = self.inputs_model.model_validate(self._own(news))
        steps = Steps(self.resource)
        if self._only_quiet_changes(olds, news):
            observed = {k: olds[k] for k in self.observed_keys if k in olds}
            steps.add("-", "record-settings", False, "no remote call needed")
        else:
            observed = self.converge(inputs, olds, steps)
        return UpdateResult(self._outputs(news, observed, steps, previous=olds))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        observed = self.observe(props)
        if observed is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, **observed})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        steps = Steps(self.resource)
        self.remove(props, steps)

    # ---- what subclasses implement -----------------------------------------------------------
    @abstractmethod
    def resource_id(self, inputs: Any) -> str: ...

    @abstractmethod
    def converge(self, inputs: Any, olds: dict[str, Any] | None, steps: Steps) -> dict[str, Any]:
        """Make the world match the inputs; return the observed outputs (never secrets)."""

    @abstractmethod
    def observe(self, props: dict[str, Any]) -> dict[str, Any] | None:
        """Read the facts behind the outputs; None only on positive evidence that it is gone."""

    @abstractmethod
    def remove(self, props: dict[str, Any], steps: Steps) -> None:
        """Undo exactly what this resource did, as the design's per-resource table says."""

    def drift(self, olds: dict[str, Any]) -> list[str]:
        """Names of outputs that ``read()`` found different from the desired state."""
        return []

    # ---- helpers -----------------------------------------------------------------------------
    def stored_inputs(self, props: Mapping[str, Any]) -> Any:
        """The inputs recorded in state (outputs carry them, minus secrets) for read() and delete()."""
        keys = {f.alias or n for n, f in self.inputs_model.model_fields.items()}
        return self.inputs_model.model_validate({k: v for k, v in props.items() if k in keys})

    @staticmethod
    def _own(props: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in props.items() if k != "__provider"}

    @staticmethod
    def _secret_changed(key: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
        """Whether a secret input differs from the one whose fingerprint is in state."""
        value, stored = news.get(key), olds.get(fingerprint_key(key))
        if has_unknowns(value):
            return True
        if value is None:
            return bool(stored)
        if is_fingerprint(value):
            return bool(value != stored)
        return not fingerprint_matches(str(value), stored)

    def _only_quiet_changes(self, olds: dict[str, Any], news: dict[str, Any]) -> bool:
        if self.drift(olds) or any(self._secret_changed(k, olds, news) for k in self.secret_keys):
            return False
        changed = [
            k
            for k in news
            if k != "__provider"
            and k not in self.secret_keys
            and k not in self.undiffed_keys
            and olds.get(k) != news.get(k)
        ]
        return bool(changed) and all(k in self.quiet_keys for k in changed)

    def _outputs(
        self,
        props: Mapping[str, Any],
        observed: Mapping[str, Any],
        steps: Steps,
        previous: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        outs = {k: v for k, v in self._own(props).items() if k not in self.secret_keys}
        for key in self.undiffed_keys:
            if previous is not None and key in previous:
                outs[key] = previous[key]
        for key in self.secret_keys:
            value = props.get(key)
            old = (previous or {}).get(fingerprint_key(key))
            if value is None:
                outs[fingerprint_key(key)] = None
            elif is_fingerprint(value):
                outs[fingerprint_key(key)] = value
            elif old and fingerprint_matches(str(value), old):
                outs[fingerprint_key(key)] = old
            else:
                outs[fingerprint_key(key)] = fingerprint(str(value))
        outs.update(observed)
        outs["steps"] = steps.items
        return outs


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
        **{k: None for k in provider.observed_keys},
        "steps": None,
    }
    secret_outputs = [fingerprint_key(k) for k in provider.secret_keys] + list(provider.extra_secret_outputs)
    extra = pulumi.ResourceOptions(additional_secret_outputs=secret_outputs) if secret_outputs else None
    return props, pulumi.ResourceOptions.merge(opts, extra)
