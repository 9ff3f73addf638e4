"""How a provider reaches the nodes: the stack config from configure(), the Remote under its CallPolicy,
the concurrency setting, the passwords, and the record of each call.

Why apart: the transport, the policy and the run record change for reasons of their own; every provider
shares them through ``Connection``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from pulumi.dynamic import (
    ConfigureRequest,
)
from pydantic import SecretStr

from provider.errors import EssoError
from provider.operate.progress import RunContext, live_log
from provider.remote.base import CallPolicy, Remote
from provider.remote.cache import Operation
from provider.remote.recorder import FileRecorder, Recorder, stack_log
from provider.remote.recorder import Operation as CallKind
from provider.resources.cluster_inputs import ClusterInputs
from provider.resources.fingerprints import (
    KeyRing,
)
from provider.resources.steps import Steps
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


_CALL = threading.local()  # the resource, operation and status line of the provider call on this thread


class Connection:
    """The live stack configuration and the Remote under its policy, plus the steps and the run record of a
    provider call. Why a mixin: how a provider reaches nodes changes apart from how it answers the engine."""

    resource: ClassVar[str]  # the short name used in steps and messages

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

            key = (section.password_secret_id, section.region)
            known = self.operation.secrets_manager if self.operation is not None else {}
            if key not in known:
                known[key] = backup_password_from_secrets_manager(*key)
            return known[key]
        raise EssoError("ESSO-040", "no backup password: set backupPassword or escrow.passwordSecretId.")

    def require_disruption(self, what: str, node: str | None) -> None:
        """ESSO-019 before a step that would need a disruptive script later, or in diff() where no Remote
        exists (the rule's home is ``CallPolicy.require_disruption``)."""
        CallPolicy(allow_disruption=self.spec.allow_disruption).require_disruption(
            f"{self.resource} must {what}", node=node, step=what
        )
