"""The real transport: contract scripts run on Windows nodes over PowerShell remoting (pypsrp).

Why it looks like this:

* **One session per node and identity.** A ``RunspacePool`` lives in a module-level registry keyed by
  the node's endpoint and the WinRM identity, so the provider host's threads share it. A per-node lock
  serializes everything sent to one node (one pipeline at a time, in order); different nodes run
  concurrently. ``renew_logon`` closes the node's pool and opens a new session, whose logon token carries
  the group memberships added since (design rule 13). Settings or credentials that change open a new
  session too; a session broken by a transport failure is never reused.
* **Secrets only as SecureString.** ``exchange_keys()`` runs before the first SecureString; a
  ``SecretStr`` parameter is serialized as ``<SS>`` (AES with the pool's session key), never as text.
  Nothing else carries a secret, and every error message is scrubbed of the password and the call's
  secret values.
* **Defaults a security reviewer signs:** HTTPS on 5986 with certificate validation (a CA bundle path is
  accepted), ``negotiate``; ``basic`` only over HTTPS; message encryption kept on over HTTP; the second
  hop declared by ``transport.secondHop`` (CredSSP, or Kerberos with delegation) and refused early by
  ``Remote.run`` (ESSO-015) otherwise. Environment proxies are ignored.
* **Retries belong to ``Remote.run``**, which retries reads only. Here every failure is classified:
  transient ones (refused, reset, 503, timeouts, an escaped WinRM OperationTimeout fault) become
  ``TransientRemoteError`` with ``may_have_run`` telling whether the script could have reached the node;
  pypsrp's own silent retries are switched off so the bound on the time to an error holds.
* **Errors have stable IDs** naming the node, the endpoint and the script: ESSO-030 authentication,
  031 unreachable, 032 TLS, 033 timeout, 034 WinRM fault, 035 terminating error, 036 non-terminating
  errors. A script that refuses with ``ESSO-NNN ...`` raises that ID.
* **File chunks fit one envelope:** ``chunk_bytes`` is derived from ``max_envelope_size`` and the
  Write-FileChunk script's own size, so each chunk travels in a single WS-Man request.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import os
import re
import threading
import types
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import requests
from pydantic import BaseModel, SecretStr

from provider import contracts as c
from provider.errors import CATALOGUE, EssoError, classify_windows_error
from provider.remote.base import Remote, TransientRemoteError, parse_result
from provider.remote.script_source import SCRIPTS_DIR, ScriptSourceError, assembled
from provider.spec import ClusterSpec, TransportSection

# 150 KiB: the WinRM default up to Server 2008 R2 and the floor of every later version (500 KiB).
# A client must never announce more than the server accepts, or requests fault 0x80338111.
DEFAULT_MAX_ENVELOPE_SIZE = 153_600
# Server-side idle timeout of a pooled session: long enough for a `pulumi up`, short enough that
# a crashed provider host does not hold one of the user's 30 shells (MaxShellsPerUser) for 2 hours.
POOL_IDLE_TIMEOUT_S = 600

WSMAN_OPERATION_TIMEOUT = 0x80338029
WSMAN_SHELL_NOT_FOUND = 0x8033805B
TRANSIENT_HTTP_STATUS = frozenset({503})

# PowerShell's ErrorCategory enum, for messages a person can read.
ERROR_CATEGORIES = (
    "NotSpecified",
    "OpenError",
    "CloseError",
    "DeviceError",
    "DeadlockDetected",
    "InvalidArgument",
    "InvalidData",
    "InvalidOperation",
    "InvalidResult",
    "InvalidType",
    "MetadataError",
    "NotImplemented",
    "NotInstalled",
    "ObjectNotFound",
    "OperationStopped",
    "OperationTimeout",
    "SyntaxError",
    "ParserError",
    "PermissionDenied",
    "ResourceBusy",
    "ResourceExists",
    "ResourceUnavailable",
    "ReadError",
    "WriteError",
    "FromStdErr",
    "SecurityError",
    "ProtocolError",
    "ConnectionError",
    "AuthenticationError",
    "LimitsExceeded",
    "QuotaExceeded",
    "NotEnabled",
)

_ESSO_PREFIX = re.compile(r"^\s*(ESSO-\d{3})\b[\s:.-]*(.*)$", re.DOTALL)

Phase = Literal["connect", "invoke", "receive"]


# ---------------------------------------------------------------------------------------- addresses


@dataclass(frozen=True)
class Endpoint:
    """Where a node's WinRM listener is reached."""

    scheme: Literal["http", "https"]
    host: str
    port: int

    @property
    def key(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.key}/wsman"


Resolver = Callable[[str], tuple[str, int]]


def default_port(transport: TransportSection) -> int:
    return transport.port if transport.port is not None else (5986 if transport.ssl else 5985)


def dns_resolver(dns_suffix: str | None, port: int) -> Resolver:
    """Node name -> (FQDN, port): the suffix is appended to short names (no dot)."""

    def resolve(node: str) -> tuple[str, int]:
        host = f"{node}.{dns_suffix.strip('.')}" if dns_suffix and "." not in node else node
        return host, port

    return resolve


# ------------------------------------------------------------------------------------ configuration


def _config_error(key: str, detail: str) -> EssoError:
    return EssoError("ESSO-040", f"transport.{key}: {detail}", step="transport")


def validate_transport(transport: TransportSection, *, password: SecretStr | None) -> None:
    """Refuse settings that would weaken the connection or that pypsrp would reject later (ESSO-040)."""
    t = transport
    if t.auth == "basic" and not t.ssl:
        raise _config_error("auth", "basic sends the password with every request; it is allowed only over HTTPS.")
    if not t.ssl:
        if t.encryption == "never":
            raise _config_error("encryption", "message encryption must stay on over HTTP; use 'auto' or HTTPS.")
        if t.auth == "certificate":
            raise _config_error("auth", "certificate authentication needs HTTPS (transport.ssl: true).")
    elif t.encryption == "always" and t.auth in ("basic", "certificate"):
        raise _config_error("encryption", f"'always' needs negotiate, ntlm, kerberos or credssp, not {t.auth}.")
    if t.auth == "certificate" and not (t.certificate_pem and t.certificate_key_pem):
        raise _config_error("certificatePem", "certificate authentication needs certificatePem and certificateKeyPem.")
    for key, value in (("certificatePem", t.certificate_pem), ("certificateKeyPem", t.certificate_key_pem)):
        if value and value.lstrip().startswith("-----BEGIN"):
            raise _config_error(key, "give the path of a PEM file, not its content.")
    if t.auth in ("basic", "ntlm", "credssp") and password is None:
        raise _config_error("auth", f"{t.auth} needs the configuring account's password (winrmPassword).")
    if t.second_hop == "credssp" and t.auth != "credssp":
        raise _config_error("secondHop", "'credssp' needs auth: credssp.")
    if t.second_hop == "kerberos-delegation" and t.auth != "kerberos":
        raise _config_error(
            "secondHop", "'kerberos-delegation' needs auth: kerberos (negotiate may fall back to NTLM)."
        )
    if t.ca_bundle and not t.cert_validation:
        raise _config_error("caBundle", "a CA bundle is given but certValidation is false.")
    if t.ca_bundle and not Path(t.ca_bundle).is_file():
        raise _config_error("caBundle", f"{t.ca_bundle} is not a file.")
    if not (0 < t.operation_timeout < t.read_timeout):
        raise _config_error(
            "readTimeout",
            f"must be greater than operationTimeout ({t.read_timeout} <= {t.operation_timeout}): the node answers "
            "an idle Receive only when the operation timeout expires.",
        )
    if t.connect_timeout <= 0:
        raise _config_error("connectTimeout", "must be positive.")
    if t.retries < 0 or t.backoff < 0:
        raise _config_error("retries", "retries and backoff cannot be negative.")


def wsman_kwargs(
    transport: TransportSection,
    *,
    username: str | None,
    password: SecretStr | None,
    port: int,
    max_envelope_size: int = DEFAULT_MAX_ENVELOPE_SIZE,
) -> dict[str, Any]:
    """The keyword arguments of ``pypsrp.wsman.WSMan`` for these settings (the password in clear: keep local)."""
    validate_transport(transport, password=password)
    t = transport
    kwargs: dict[str, Any] = {
        "port": port,
        "ssl": t.ssl,
        "auth": t.auth,
        "encryption": t.encryption,
        "cert_validation": (t.ca_bundle or True) if t.cert_validation else False,
        "connection_timeout": t.connect_timeout,
        "read_timeout": t.read_timeout,
        "operation_timeout": t.operation_timeout,
        "max_envelope_size": max_envelope_size,
        # Retries are Remote.run's business (reads only); pypsrp's would re-send silently.
        "reconnection_retries": 0,
        "reconnection_backoff": 0.0,
        "no_proxy": True,
    }
    if t.auth == "certificate":
        kwargs["certificate_pem"] = t.certificate_pem
        kwargs["certificate_key_pem"] = t.certificate_key_pem
    else:
        kwargs["username"] = username
        kwargs["password"] = password.get_secret_value() if password is not None else None
    if t.auth == "credssp":
        kwargs["credssp_auth_mechanism"] = "auto"
    if t.auth in ("negotiate", "kerberos", "ntlm"):
        kwargs["negotiate_send_cbt"] = True  # channel binding over HTTPS
    if t.second_hop == "kerberos-delegation":
        kwargs["negotiate_delegate"] = True
    return kwargs


# ------------------------------------------------------------------------------------------ scripts


def script_text(name: str, folder: Path = SCRIPTS_DIR) -> str:
    """The text sent for ``provider/scripts/<name>.ps1``: the script with its ``#esso:include`` fragments spliced
    in (``script_source.assembled``, cached); values travel only as parameters."""
    try:
        return assembled(name, folder)
    except FileNotFoundError:
        raise EssoError("ESSO-037", f"{folder / f'{name}.ps1'} is missing from this installation.", step=name) from None
    except ScriptSourceError as e:
        raise EssoError("ESSO-037", f"{name}.ps1 cannot be assembled: {e}", step=name) from None


# ----------------------------------------------------------------------------------- chunk sizing

_FRAGMENT_HEADER = 21  # object id, fragment id, flags, length
_RECEIVE_MARGIN = 4096  # the result hashtable around a chunk, and the Receive envelope's own overhead
_PATH_ALLOWANCE = "C" * 1024  # a path up to 1,024 characters keeps a chunk inside one envelope


def _create_pipeline_bytes(script: str, params: Mapping[str, Any]) -> int:
    """Size of the PSRP CreatePipeline message pypsrp builds for this script and parameters."""
    from pypsrp.complex_objects import (
        ApartmentState,
        Command,
        CommandParameter,
        HostInfo,
        Pipeline,
        RemoteStreamOptions,
    )
    from pypsrp.messages import CreatePipeline, Destination, Message
    from pypsrp.serializer import Serializer

    command = Command(script, protocol_version="2.3", is_script=True, use_local_scope=None)
    for name, value in params.items():
        command.args.append(CommandParameter(name=name, value=value))
    pipeline = Pipeline(is_nested=False, cmds=[command], history=None, redirect_err_to_out=False)
    message = CreatePipeline(
        True,
        ApartmentState(value=ApartmentState.UNKNOWN),
        RemoteStreamOptions(value=RemoteStreamOptions.ADD_INVOCATION_INFO),
        False,
        HostInfo(host=None),
        pipeline,
        False,
    )
    zero = str(uuid.UUID(int=0))
    return len(Message(Destination.SERVER, zero, zero, message, Serializer()).pack())


def chunk_bytes_for(max_envelope_size: int, write_script: str) -> int:
    """File bytes per chunk so that one Write-FileChunk call, and one Read-FileChunk result, fit one envelope."""
    from pypsrp.wsman import WSMan

    payload = WSMan("localhost", max_envelope_size=max_envelope_size, auth="basic").max_payload_size
    overhead = _create_pipeline_bytes(
        write_script,
        c.WriteFileChunkParams(
            path=_PATH_ALLOWANCE, data_base64="", offset=2**62, final=False, expected_sha256="0" * 64
        ).wire(),
    )
    send_room = payload - _FRAGMENT_HEADER - overhead - 256
    receive_room = payload - _FRAGMENT_HEADER - _RECEIVE_MARGIN
    room = min(send_room, receive_room)
    chunk = (room // 4) * 3  # base64 text -> bytes
    chunk -= chunk % 3072  # whole base64 quanta, in KiB multiples
    if chunk < 3072:
        raise EssoError(
            "ESSO-034",
            f"a max envelope size of {max_envelope_size} bytes leaves no room for file data.",
            step="send-file",
        )
    return chunk


# -------------------------------------------------------------------------------- result conversion


def to_plain(value: Any) -> Any:
    """Deserialized PSRP output -> plain Python: Hashtable -> dict, arrays -> list, GUID -> str."""
    from pypsrp.complex_objects import GenericComplexObject

    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, GenericComplexObject):
        if value.extended_properties:  # [PSCustomObject]
            return {str(k): to_plain(v) for k, v in value.extended_properties.items()}
        if value.adapted_properties:
            return {str(k): to_plain(v) for k, v in value.adapted_properties.items()}
        return None if value.to_string is None else str(value)
    return value


def _union_members(annotation: Any) -> tuple[list[Any], bool]:
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        args = list(get_args(annotation))
        return [a for a in args if a is not type(None)], type(None) in args
    if origin is Literal:
        return [annotation], None in get_args(annotation)
    return [annotation], annotation is None or annotation is Any


def _normalise(annotation: Any, value: Any) -> Any:
    members, nullable = _union_members(annotation)
    if nullable and value == "" and isinstance(value, str):
        return None  # PowerShell's $null often arrives as '' (Out-String, psrpcore): same meaning
    for member in members:
        origin = get_origin(member)
        if isinstance(member, type) and issubclass(member, BaseModel) and isinstance(value, dict):
            return normalise_result(member, value)
        if origin is list:
            (inner,) = get_args(member) or (Any,)
            if value is None and not nullable:
                return []  # PowerShell unrolls an empty array to $null
            if value is not None and not isinstance(value, list):
                value = [value]  # ... and a one-item array to the item
            return [_normalise(inner, v) for v in value]
        if origin is dict and isinstance(value, dict):
            args = get_args(member)
            inner = args[1] if len(args) == 2 else Any
            return {k: _normalise(inner, v) for k, v in value.items()}
    return value


def normalise_result(model: type[BaseModel], raw: Any) -> Any:
    """Map PowerShell's null spellings onto the model: '' -> None where the field is optional, lists unrolled."""
    if not isinstance(raw, dict):
        return raw
    out = dict(raw)
    for name, field in model.model_fields.items():
        for key in dict.fromkeys((field.alias or name, name)):
            if key in out:
                out[key] = _normalise(field.annotation, out[key])
    return out


# --------------------------------------------------------------------------------- pool registry


@dataclass
class _PoolEntry:
    fingerprint: str
    wsman: Any  # pypsrp.wsman.WSMan
    pool: Any  # pypsrp.powershell.RunspacePool
    uses: int = 0


_PROCESS_KEY = os.urandom(32)  # fingerprints of settings never outlive the process
_REGISTRY_LOCK = threading.Lock()
_NODE_LOCKS: dict[str, threading.Lock] = {}
_POOLS: dict[tuple[str, str], _PoolEntry] = {}


def node_lock(endpoint_key: str) -> threading.Lock:
    """The lock that serializes every operation sent to one node."""
    with _REGISTRY_LOCK:
        return _NODE_LOCKS.setdefault(endpoint_key, threading.Lock())


def _shutdown(entry: _PoolEntry, *, graceful: bool) -> None:
    if graceful:
        with contextlib.suppress(Exception):  # best effort: otherwise the shell idles out on the node
            entry.pool.close()  # WS-Man Delete: the node frees the shell now
    with contextlib.suppress(Exception):
        entry.wsman.close()


def close_pools() -> None:
    """Close every pooled session (tests, and process exit)."""
    with _REGISTRY_LOCK:
        keys = list(_POOLS)
    for key in keys:
        with node_lock(key[0]):
            entry = _POOLS.pop(key, None)
            if entry is not None:
                _shutdown(entry, graceful=True)


def open_pool_count() -> int:
    with _REGISTRY_LOCK:
        return len(_POOLS)


atexit.register(close_pools)


# --------------------------------------------------------------------------------------- the remote


@dataclass(frozen=True)
class _Call:
    """What every error of one script call names, and the values it must never show."""

    node: str
    endpoint: Endpoint
    script: str
    secrets: tuple[str, ...]

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "********")
        return text

    def error(self, code: str, detail: str) -> EssoError:
        detail = detail if detail.endswith((".", "!", "?")) else detail + "."
        return EssoError(
            code,
            self.scrub(f"{self.script} on {self.node} ({self.endpoint}): {detail}"),
            node=self.node,
            step=self.script,
        )

    def transient(self, code: str, detail: str, *, may_have_run: bool) -> TransientRemoteError:
        ran = "the script may have run" if may_have_run else "the script did not run"
        return TransientRemoteError(
            code,
            self.scrub(f"{self.script} on {self.node} ({self.endpoint}): {detail}; {ran}."),
            node=self.node,
            step=self.script,
            may_have_run=may_have_run,
        )


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
    ) -> None:
        """``second_hop`` defaults to ``transport.secondHop != none``; only a test endpoint that serves the
        second hop itself (the loopback simulator) has a reason to declare it otherwise."""
        validate_transport(transport, password=password)
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

    @classmethod
    def from_spec(cls, spec: ClusterSpec, *, resolver: Resolver | None = None, **kwargs: Any) -> PsrpRemote:
        """The stack's transport, the configuring account and winrmPassword; nodes by name (+ dnsSuffix)."""
        return cls(
            spec.transport,
            username=spec.sso.configuring_account,
            password=spec.winrm_password,
            resolver=resolver,
            dns_suffix=spec.cluster.dns_suffix,
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
        return Endpoint("https" if self.transport.ssl else "http", host, port)

    @property
    def chunk_bytes(self) -> int:  # type: ignore[override]
        if self._chunk_bytes is None:
            self._chunk_bytes = chunk_bytes_for(
                self.max_envelope_size, script_text(c.WRITE_FILE_CHUNK.name, self.scripts_dir)
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
    def _invoke(self, node: str, script: c.Script[Any, Any], params: c.Params) -> Any:
        endpoint = self.endpoint(node)
        wire = params.wire()
        secret_values = tuple(v.get_secret_value() for v in wire.values() if isinstance(v, SecretStr))
        password = self._password.get_secret_value() if self._password is not None else ""
        call = _Call(node, endpoint, script.name, (password, *secret_values))
        text = script_text(script.name, self.scripts_dir)
        with node_lock(endpoint.key):
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
                    output = ps.end_invoke()
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

    def _result(self, ps: Any, output: list[Any], call: _Call, script: c.Script[Any, Any]) -> Any:
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


# ---------------------------------------------------------------------------------------- helpers


def _pipeline(pool: Any, text: str, wire: Mapping[str, Any]) -> Any:
    """A PowerShell pipeline of the script text with its parameters; secrets as SecureString (keys exchanged)."""
    from pypsrp.complex_objects import ObjectMeta
    from pypsrp.powershell import PowerShell

    ps = PowerShell(pool)
    ps.add_script(text)
    for name, value in wire.items():
        if value is None:
            continue  # $null: the script's parameter default (a None value would make a switch)
        if isinstance(value, SecretStr):
            ps.add_parameter(name, pool.serialize(value.get_secret_value(), ObjectMeta("SS")))
        elif isinstance(value, bool | str):
            ps.add_parameter(name, value)
        elif isinstance(value, int):
            fits = -(2**31) <= value < 2**31
            ps.add_parameter(name, value if fits else pool.serialize(value, ObjectMeta("I64")))
        elif isinstance(value, float):
            ps.add_parameter(name, pool.serialize(value, ObjectMeta("Db")))
        elif isinstance(value, list | dict):
            if _contains_secret(value):
                raise TypeError(f"parameter {name}: a secret inside a collection cannot travel as SecureString")
            ps.add_parameter(name, value)
        else:
            raise TypeError(f"parameter {name}: cannot send a {type(value).__name__}")
    return ps


def _quiet_wsman(host: str, kwargs: Mapping[str, Any]) -> Any:
    """A WSMan whose Receive does not retry a read timeout five times (pypsrp 0.9 does, silently)."""
    from pypsrp.wsman import NAMESPACES, WSMan, WSManAction

    class _WSMan(WSMan):
        def receive(
            self,
            resource_uri: str,
            resource: Any,
            option_set: Any = None,
            selector_set: Any = None,
            timeout: int | None = None,
        ) -> Any:
            res = self.invoke(WSManAction.RECEIVE, resource_uri, resource, option_set, selector_set, timeout)
            return res.find("s:Body", namespaces=NAMESPACES)

    return _WSMan(host, **kwargs)


def _kind(value: Any) -> str:
    types_ = getattr(value, "types", None)
    return str(types_[0]) if types_ else type(value).__name__


def _contains_secret(value: Any) -> bool:
    if isinstance(value, SecretStr):
        return True
    if isinstance(value, dict):
        return any(_contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secret(v) for v in value)
    return False


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


def _shell_gone(exc: BaseException) -> bool:
    from pypsrp.exceptions import WSManFaultError

    return isinstance(exc, WSManFaultError) and exc.code == WSMAN_SHELL_NOT_FOUND


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        nxt = current.__cause__ or current.__context__
        if nxt is None and current.args and isinstance(current.args[0], BaseException):
            nxt = current.args[0]
        reason = getattr(current, "reason", None)
        if nxt is None and isinstance(reason, BaseException):
            nxt = reason
        if nxt is None:
            break
        current = nxt
    return current


def _refused(exc: BaseException) -> bool:
    """True when the request provably never reached the server (no TCP connection was made)."""
    import urllib3.exceptions as u3

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, u3.NewConnectionError | ConnectionRefusedError | u3.ConnectTimeoutError):
            return True
        for nxt in (e.__cause__, e.__context__, getattr(e, "reason", None), *getattr(e, "args", ())):
            if isinstance(nxt, BaseException):
                stack.append(nxt)
    return False


def _transport_error(exc: BaseException, call: _Call, phase: Phase, transport: TransportSection) -> EssoError:
    """Classify a pypsrp/requests failure into a stable ID; transient ones say whether the script may have run."""
    from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

    # Before the pipeline was sent nothing can have run; while it was being sent, only a request that never
    # connected (or a 503, which the node refuses before processing) proves it did not.
    def may_have_run(provably_not_sent: bool) -> bool:
        return phase == "receive" or (phase == "invoke" and not provably_not_sent)

    cause = _root_cause(exc)
    reason = f"{type(cause).__name__}: {cause}" if cause is not exc else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, AuthenticationError):
        return call.error("ESSO-030", f"the node refused the credentials of this identity ({transport.auth}).")
    if isinstance(exc, requests.exceptions.SSLError):
        return call.error(
            "ESSO-032",
            f"TLS verification failed ({reason}); set transport.caBundle to the CA that issued the listener's "
            "certificate.",
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return call.transient("ESSO-031", f"no TCP connection within {transport.connect_timeout}s", may_have_run=False)
    if isinstance(exc, requests.exceptions.ReadTimeout | TimeoutError):
        return call.transient(
            "ESSO-033",
            f"no answer within the read timeout of {transport.read_timeout}s",
            may_have_run=may_have_run(False),
        )
    if isinstance(exc, requests.exceptions.ConnectionError | ConnectionError):
        refused = _refused(exc)
        what = "connection refused" if refused else "connection dropped"
        return call.transient("ESSO-031", f"{what} ({reason})", may_have_run=may_have_run(refused))
    if isinstance(exc, WSManFaultError):
        code = exc.code if isinstance(exc.code, int) else None
        code_text = f"0x{code:08X}" if code is not None else str(exc.code)
        if code == WSMAN_OPERATION_TIMEOUT:
            return call.transient(
                "ESSO-033",
                f"WinRM operation timeout {code_text} after {transport.operation_timeout}s",
                may_have_run=may_have_run(False),
            )
        return call.error("ESSO-034", f"WinRM fault {code_text}: {exc.reason or 'no reason given'}")
    if isinstance(exc, WinRMTransportError):
        if exc.code in TRANSIENT_HTTP_STATUS:
            return call.transient(
                "ESSO-031", f"the WinRM service answered HTTP {exc.code}", may_have_run=may_have_run(True)
            )
        body = " ".join(str(exc.response_text or "").split())[:200]
        return call.error("ESSO-034", f"WinRM answered HTTP {exc.code}{': ' + body if body else ''}")
    return call.error("ESSO-034", f"WinRM/PSRP failure ({reason})")


def _record_text(record: Any) -> tuple[str, str, str, str]:
    """(message, category, target, fully qualified error id) of a pypsrp ErrorRecord."""
    message = str(record) if record is not None else ""
    if not message or message == "None":
        exc = getattr(record, "exception", None)
        props: dict[str, Any] = {}
        if exc is not None:
            props = {**getattr(exc, "adapted_properties", {}), **getattr(exc, "extended_properties", {})}
        message = str(props.get("Message") or "unknown error")
    number = getattr(record, "category", None)
    category = ERROR_CATEGORIES[number] if isinstance(number, int) and 0 <= number < len(ERROR_CATEGORIES) else "?"
    if getattr(record, "reason", None):
        category += f" ({record.reason})"
    target_name = getattr(record, "target_name", None)
    target_object = getattr(record, "target_object", None)
    target = str(target_name or (target_object if target_object not in (None, "") else "") or "-")
    return message.strip(), category, target, str(getattr(record, "fq_error", None) or "-")


def _script_error(record: Any, call: _Call, *, terminating: bool, others: list[Any]) -> EssoError:
    """ESSO-035/036, or the ESSO-NNN a script refused with."""
    records = ([record] if record is not None else []) + list(others)
    for r in records:  # a script's own refusal names its rule: that ID wins
        message = _record_text(r)[0]
        match = _ESSO_PREFIX.match(message)
        if match and match.group(1) in CATALOGUE:
            return EssoError(
                match.group(1),
                call.scrub(f"{match.group(2).strip()} [{call.script} on {call.node} ({call.endpoint})]"),
                node=call.node,
                step=call.script,
            )
    if terminating:
        message, category, target, fq = _record_text(record)
        extra = f"; {len(others)} earlier error(s): " + " | ".join(_record_text(o)[0] for o in others) if others else ""
        # a known Windows/ESSO failure gets the seed's advice; the original text stays in the detail
        code = classify_windows_error(message) or "ESSO-035"
        return call.error(code, f"terminating error: {message} (category {category}, target {target}, id {fq}){extra}")
    listed = "; ".join(
        f"[{i}] {m} (category {cat}, target {t}, id {fq})"
        for i, (m, cat, t, fq) in enumerate((_record_text(o) for o in others), start=1)
    )
    return call.error("ESSO-036", f"{len(others)} non-terminating error(s): {listed}")


__all__ = [
    "DEFAULT_MAX_ENVELOPE_SIZE",
    "Endpoint",
    "PsrpRemote",
    "Resolver",
    "chunk_bytes_for",
    "close_pools",
    "dns_resolver",
    "node_lock",
    "normalise_result",
    "open_pool_count",
    "script_text",
    "to_plain",
    "validate_transport",
    "wsman_kwargs",
]
