"""``PsrpRemote``: contract scripts run on Windows nodes over PowerShell remoting (pypsrp).

Why it looks like this:

* **One session per node and identity** (``pool``): the provider host's threads share it; a per-node lock
  serializes everything sent to one node. ``renew_logon`` opens a new session whose logon token carries the
  group memberships added since (design rule 13). A session broken by a transport failure is never reused.
* **Secrets only as SecureString.** ``exchange_keys()`` runs before the first SecureString; a ``SecretStr``
  parameter is serialized as ``<SS>``, never as text; every error message is scrubbed of the call's secrets.
* **Retries belong to ``Remote.run``**, which retries reads only; pypsrp's own silent retries are off.
* **Errors have stable IDs** (``faults``).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from provider import contracts
from provider.errors import EssoError
from provider.remote.base import Remote, parse_result
from provider.remote.psrp.config import (
    DEFAULT_MAX_ENVELOPE_SIZE,
    Endpoint,
    Resolver,
    check_host,
    default_port,
    dns_resolver,
    validate_transport,
    wsman_kwargs,
)
from provider.remote.psrp.deadlines import (
    CONFIGURATION_EXE,
    CONFIGURATION_EXE_MARGIN_S,
    check_overrides,
    deadline_for,
)
from provider.remote.psrp.faults import Phase, _Call, _script_error, _shell_gone, _transport_error
from provider.remote.psrp.pool import (
    _POOLS,
    _PROCESS_KEY,
    _REGISTRY_LOCK,
    POOL_IDLE_TIMEOUT_S,
    _PoolEntry,
    _quiet_wsman,
    _shutdown,
    node_lock,
)
from provider.remote.psrp.sizing import chunk_bytes_for, script_text
from provider.remote.psrp.wire import _kind, _pipeline, normalise_result, to_plain
from provider.remote.script_source import SCRIPTS_DIR
from provider.spec import ClusterSpec, TransportSection


class PsrpRemote(Remote):
    """Runs contract scripts on Windows nodes over WinRM/PSRP with pypsrp."""

    def __init__(
        self,
        transport: TransportSection,
        *,
        username: str | None,
        password: SecretStr | None,
        resolver: Resolver | None = None,
        dns_suffix: str | None = None,
        max_envelope_size: int = DEFAULT_MAX_ENVELOPE_SIZE,
        configuration_name: str = "Microsoft.PowerShell",
        scripts_dir: Path = SCRIPTS_DIR,
        second_hop: bool | None = None,
        deadlines: Mapping[str, float] | None = None,
    ) -> None:
        """``second_hop`` defaults to ``transport.secondHop != none``; only a test endpoint that serves the
        second hop itself (the loopback simulator) has a reason to declare it otherwise. ``deadlines`` overrides
        the overall deadline of named scripts, in seconds (``deadlines.default_deadline``)."""
        validate_transport(transport, password=password, username=username)
        super().__init__(
            second_hop=transport.second_hop != "none" if second_hop is None else second_hop,
            retries=transport.retries,
            backoff=transport.backoff,
        )
        self.transport = transport
        self.username = username
        self._password = password
        self.resolver = resolver or dns_resolver(dns_suffix, default_port(transport))
        self.max_envelope_size = max_envelope_size
        self.configuration_name = configuration_name
        self.scripts_dir = scripts_dir
        self._chunk_bytes: int | None = None
        self.deadlines = check_overrides(deadlines or {})

    @classmethod
    def from_spec(cls, spec: ClusterSpec, *, resolver: Resolver | None = None, **kwargs: Any) -> PsrpRemote:
        """The stack's transport, the configuring account and winrmPassword; nodes by name (+ dnsSuffix).

        Deadlines: Configuration.exe's script gets its in-script timeout plus 5 minutes (the script kills the tool
        and keeps its log first, ESSO-027), then ``transport.scriptDeadlines`` overrides any script."""
        configuration = spec.transport.configuration_timeout_minutes * 60.0 + CONFIGURATION_EXE_MARGIN_S
        deadlines = {name: configuration for name in CONFIGURATION_EXE} | dict(spec.transport.script_deadlines)
        return cls(
            spec.transport,
            username=spec.sso.configuring_account,
            password=spec.winrm_password,
            resolver=resolver,
            dns_suffix=spec.cluster.dns_suffix,
            deadlines=deadlines,
            **kwargs,
        )

    # -- identity and addresses ------------------------------------------------------------------
    @property
    def identity(self) -> str:
        if self.transport.auth == "certificate":
            return f"certificate:{self.transport.certificate_pem}"
        return self.username or "(default credentials)"

    def endpoint(self, node: str) -> Endpoint:
        host, port = self.resolver(node)
        return Endpoint("https" if self.transport.ssl else "http", check_host(host, node), port)

    @property
    def chunk_bytes(self) -> int:  # type: ignore[override]
        if self._chunk_bytes is None:
            self._chunk_bytes = chunk_bytes_for(
                self.max_envelope_size, script_text(contracts.WRITE_FILE_CHUNK.name, self.scripts_dir)
            )
        return self._chunk_bytes

    def _settings_fingerprint(self, kwargs: Mapping[str, Any]) -> str:
        canonical = repr(sorted((k, repr(v)) for k, v in kwargs.items()))
        canonical += f"|{self.configuration_name}"
        return hmac.new(_PROCESS_KEY, canonical.encode("utf-8"), hashlib.sha256).hexdigest()

    # -- sessions -----------------------------------------------------------------------------------
    def _pool(self, endpoint: Endpoint) -> tuple[_PoolEntry, bool]:
        """The pooled session for (endpoint, identity), opened if needed; True when it is new. Lock held."""
        from pypsrp.powershell import RunspacePool

        kwargs = wsman_kwargs(
            self.transport,
            username=self.username,
            password=self._password,
            port=endpoint.port,
            max_envelope_size=self.max_envelope_size,
        )
        fingerprint = self._settings_fingerprint(kwargs)
        key = (endpoint.key, self.identity)
        with _REGISTRY_LOCK:
            entry = _POOLS.get(key)
        if entry is not None:
            if entry.fingerprint == fingerprint:
                return entry, False
            self._drop(key, graceful=True)  # settings or credentials changed: a new session
        wsman = _quiet_wsman(endpoint.host, kwargs)
        pool = RunspacePool(wsman, configuration_name=self.configuration_name, idle_timeout=POOL_IDLE_TIMEOUT_S)
        try:
            pool.open()
        except BaseException:
            wsman.close()
            raise
        entry = _PoolEntry(fingerprint, wsman, pool)
        with _REGISTRY_LOCK:
            _POOLS[key] = entry
        return entry, True

    def _drop(self, key: tuple[str, str], *, graceful: bool) -> None:
        with _REGISTRY_LOCK:
            entry = _POOLS.pop(key, None)
        if entry is not None:
            _shutdown(entry, graceful=graceful)

    def renew_logon(self, node: str) -> None:
        """Close the node's session and log on again now: the new token carries the identity's current
        groups (rule 13). Opening it here, not lazily, reports an unreachable node at this step."""
        endpoint = self.endpoint(node)
        password = self._password.get_secret_value() if self._password is not None else ""
        call = _Call(node, endpoint, "renew-logon", (password,))
        with node_lock(endpoint.key):
            self._drop((endpoint.key, self.identity), graceful=True)
            try:
                self._pool(endpoint)
            except EssoError:
                raise
            except Exception as exc:
                self._drop((endpoint.key, self.identity), graceful=False)
                raise _transport_error(exc, call, "connect", self.transport) from None

    def close(self) -> None:
        """Pools outlive a Remote (module registry); ``close_pools()`` ends them all."""

    # -- running a script -----------------------------------------------------------------------------
    def _invoke(self, node: str, script: contracts.Script[Any, Any], params: contracts.Params) -> Any:
        endpoint = self.endpoint(node)
        wire = params.wire()
        secret_values = tuple(v.get_secret_value() for v in wire.values() if isinstance(v, SecretStr))
        password = self._password.get_secret_value() if self._password is not None else ""
        call = _Call(node, endpoint, script.name, (password, *secret_values))
        text = script_text(script.name, self.scripts_dir)
        seconds = deadline_for(script, self.deadlines)
        with node_lock(endpoint.key):
            deadline_at = time.monotonic() + seconds  # from when the node is ours: queueing is not the script's
            for attempt in (1, 2):
                phase: Phase = "connect"
                fresh = False
                try:
                    entry, fresh = self._pool(endpoint)
                    if secret_values:
                        entry.pool.exchange_keys()  # before any SecureString is serialized (a no-op once done)
                    ps = _pipeline(entry.pool, text, wire)
                    phase = "invoke"
                    ps.begin_invoke()
                    phase = "receive"
                    output = _wait(ps, deadline_at, self.transport.operation_timeout)
                except _DeadlineExceededError as late:
                    self._drop((endpoint.key, self.identity), graceful=False)  # its pipeline still runs: not reused
                    raise call.deadline(seconds, late.outputs) from None
                except (EssoError, TypeError):
                    raise  # configuration and programming errors are not transport failures
                except Exception as exc:  # every transport failure: the session is not reused
                    self._drop((endpoint.key, self.identity), graceful=False)
                    if attempt == 1 and not fresh and phase != "receive" and _shell_gone(exc):
                        continue  # the pooled shell expired on the node: it refused the request, nothing ran
                    raise _transport_error(exc, call, phase, self.transport) from None
                entry.uses += 1
                if not _finish(ps):
                    self._drop((endpoint.key, self.identity), graceful=False)  # the result stands; the session not
                return self._result(ps, output, call, script)
        raise AssertionError("unreachable")  # pragma: no cover

    def _result(self, ps: Any, output: list[Any], call: _Call, script: contracts.Script[Any, Any]) -> Any:
        errors = list(ps.streams.error)
        if ps.had_errors or _failed(ps):
            record = errors[-1] if errors else None
            raise _script_error(record, call, terminating=True, others=errors[:-1])
        if errors:
            raise _script_error(None, call, terminating=False, others=errors)
        if len(output) != 1 or not isinstance(to_plain(output[0]), dict):
            kinds = ", ".join(_kind(o) for o in output) or "nothing"
            raise call.error(
                "ESSO-037", f"a script emits exactly one hashtable; this one emitted {len(output)} object(s) ({kinds})."
            )
        raw = normalise_result(script.result, to_plain(output[0]))
        try:
            parse_result(call.node, script, raw)  # Remote.run validates again; here the error names the endpoint
        except EssoError as exc:
            raise call.error("ESSO-037", "it returned " + exc.detail.split(" returned ", 1)[-1]) from None
        return raw


class _DeadlineExceededError(Exception):
    def __init__(self, outputs: int) -> None:
        super().__init__(outputs)
        self.outputs = outputs


def _wait(ps: Any, deadline_at: float, operation_timeout: float) -> list[Any]:
    """``end_invoke`` with an overall deadline: pypsrp polls again after every w:TimedOut fault, for ever.

    The last poll asks the node for a shorter OperationTimeout so the deadline is not overshot by a full one."""
    from pypsrp.complex_objects import PSInvocationState

    while ps.state == PSInvocationState.RUNNING:
        remaining = deadline_at - time.monotonic()
        if remaining <= 0:
            raise _DeadlineExceededError(len(ps.output))
        ps.poll_invoke(timeout=math.ceil(remaining) if remaining < operation_timeout else None)
    return list(ps.output)


def _failed(ps: Any) -> bool:
    from pypsrp.complex_objects import PSInvocationState

    return bool(ps.state == PSInvocationState.FAILED)


def _finish(ps: Any) -> bool:
    """Tell the node the pipeline is done (Signal terminate) so it frees the operation; False if that failed."""
    try:
        ps.close()
    except Exception:  # the result is already in hand
        return False
    return True
