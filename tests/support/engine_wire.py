"""The engine harness's property values: secrets as the engine marks them, the gRPC wire, and the state cipher.

Why a value model of its own: the SDK's ``rpc.deserialize_properties`` lifts a nested secret to its
enclosing object, and the host only ever sees plain values. The engine keeps a secret exactly where it
is (``resource.PropertyValue`` with ``IsSecret``), strips it before calling a provider that does not
accept secrets and re-derives it afterwards. This module does the same with a ``Secret`` wrapper:

* ``to_struct`` / ``from_struct``: engine values to and from ``google.protobuf.Struct``. With
  ``keep_secrets=False`` a secret travels as its plain value, as the engine marshals for a provider whose
  ``Configure`` answered ``acceptSecrets: false`` (``MarshalOptions{KeepSecrets: false}``).
* ``annotate_secrets``: the engine's ``annotateSecrets`` (``pkg/resource/plugin/provider_plugin.go:918``).
* ``mark_additional_secret_outputs``: what the engine's step executor does after every step.
* ``diff_inputs``: the engine's own input diff, its fallback when a provider answers ``DIFF_UNKNOWN``.
* ``StateCipher``: secrets in the stored state are encrypted (AES-256-GCM), never plain, as in a Pulumi
  checkpoint (``{"<sig>": "<secret sig>", "ciphertext": "..."}``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import rpc

__all__ = [
    "SECRET_SIG",
    "SIG_KEY",
    "UNKNOWN",
    "Secret",
    "StateCipher",
    "annotate_secrets",
    "contains_secret",
    "decode_value",
    "diff_inputs",
    "encode_value",
    "from_struct",
    "mark_additional_secret_outputs",
    "strip_secrets",
    "to_struct",
]

SIG_KEY: str = rpc._special_sig_key
SECRET_SIG: str = rpc._special_secret_sig
UNKNOWN: str = rpc.UNKNOWN


@dataclass(frozen=True)
class Secret:
    """A value the engine holds as secret (``resource.MakeSecret``)."""

    value: Any

    def __repr__(self) -> str:  # never print the value (pytest shows reprs in failures)
        return "Secret([secret])"


# ------------------------------------------------------------------------------------------- secrets


def contains_secret(value: Any) -> bool:
    """``PropertyValue.ContainsSecrets``: a secret anywhere inside."""
    if isinstance(value, Secret):
        return True
    if isinstance(value, Mapping):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_secret(v) for v in value)
    return False


def strip_secrets(value: Any) -> Any:
    """The plain value: what a provider receives when it does not accept secrets."""
    if isinstance(value, Secret):
        return strip_secrets(value.value)
    if isinstance(value, Mapping):
        return {k: strip_secrets(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strip_secrets(v) for v in value]
    return value


def annotate_secrets(outs: Mapping[str, Any], ins: Mapping[str, Any]) -> dict[str, Any]:
    """Re-derive secretness of a provider's answer from what was sent (``annotateSecrets``).

    Imitates ``annotateSecrets(outs, ins)`` in ``pkg/resource/plugin/provider_plugin.go:918`` (called after
    Check, Create, Read and Update when the provider did not accept secrets): for each key of ``ins`` that
    ``outs`` also has, when both are objects it recurses; otherwise, when the input contains a secret
    anywhere, the whole output value becomes secret (so an array with one secret input element is wholly
    secret). New output keys derived from a secret are NOT secret: that is what
    ``additional_secret_outputs`` is for.
    """
    result = dict(outs)
    for key, in_value in ins.items():
        if key not in result:
            continue
        out_value = result[key]
        if _is_object(out_value) and _is_object(in_value):
            result[key] = annotate_secrets(out_value, in_value)
        elif not isinstance(out_value, Secret) and contains_secret(in_value):
            result[key] = Secret(out_value)
    return result


def mark_additional_secret_outputs(outs: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """Mark the registration's ``additionalSecretOutputs`` secret after a step.

    Imitates ``stepExecutor.executeStep`` (``pkg/resource/deploy/step_executor.go``): "Ensure that any
    secrets properties in the output are marked as such" — for every name in
    ``newState.AdditionalSecretOutputs`` present in the outputs and not yet secret, ``MakeSecret``. It runs
    for every step with a new state (create, update, same, refresh).
    """
    result = dict(outs)
    for name in names:
        if name in result and not isinstance(result[name], Secret):
            result[name] = Secret(result[name])
    return result


def _is_object(value: Any) -> bool:
    return isinstance(value, Mapping)


# ------------------------------------------------------------------------------------------- diffing


def diff_inputs(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """The keys whose values differ between two input bags (secrets compared by their values).

    Imitates ``oldInputs.Diff(newInputs)`` (``resource.PropertyMap.Diff``), which ``diffResource`` in
    ``pkg/resource/deploy/step_generator.go`` uses when the provider answered ``DIFF_UNKNOWN``. The keys
    include ``__provider``: with the default ``diff()`` any change of the serialized provider is an update.
    Null and absent are the same (``PropertyMap.Diff`` ignores null-to-missing changes).
    """
    keys = sorted(set(olds) | set(news))
    return [k for k in keys if _norm(olds.get(k)) != _norm(news.get(k))]


def _norm(value: Any) -> Any:
    value = strip_secrets(value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping):
        return {k: _norm(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------- the wire


def encode_value(value: Any, keep_secrets: bool) -> Any:
    if isinstance(value, Secret):
        inner = encode_value(value.value, keep_secrets)
        return {SIG_KEY: SECRET_SIG, "value": inner} if keep_secrets else inner
    if isinstance(value, Mapping):
        return {str(k): encode_value(v, keep_secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode_value(v, keep_secrets) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"cannot marshal a {type(value).__name__} property value")


def to_struct(props: Mapping[str, Any], *, keep_secrets: bool) -> struct_pb2.Struct:
    """Engine values -> ``Struct`` (``plugin.MarshalProperties``); secrets stripped unless ``keep_secrets``."""
    struct = struct_pb2.Struct()
    struct.update(encode_value(props, keep_secrets))
    return struct


def decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return Secret(decode_value(value.get("value")))
        return {k: decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def from_struct(struct: struct_pb2.Struct | None) -> dict[str, Any]:
    """``Struct`` -> engine values (``plugin.UnmarshalProperties`` with ``KeepSecrets: true``)."""
    if struct is None:
        return {}
    raw: dict[str, Any] = json_format.MessageToDict(struct)
    result: dict[str, Any] = decode_value(raw)
    return result


# ------------------------------------------------------------------------------------------- the state


class StateCipher:
    """Encrypts every secret of the stored state, as a Pulumi secrets manager does for a checkpoint.

    The key comes from a passphrase (PBKDF2-SHA256) and a salt kept in the state file; the passphrase
    is never written. A secret is stored as ``{"<sig key>": "<secret sig>", "ciphertext": "v1:<nonce>:<ct>"}``,
    the shape of a secret in a Pulumi deployment, so a reader of the file can tell it is a secret and
    cannot read it.
    """

    ROUNDS = 100_000

    def __init__(self, passphrase: str, salt: bytes | None = None) -> None:
        self.salt = salt or os.urandom(16)
        self._key = hashlib.pbkdf2_hmac("sha256", passphrase.encode("utf-8"), self.salt, self.ROUNDS)

    @property
    def salt_text(self) -> str:
        return base64.b64encode(self.salt).decode("ascii")

    def encrypt(self, value: Any) -> str:
        nonce = os.urandom(12)
        plain = json.dumps(encode_value(value, keep_secrets=True), sort_keys=True).encode("utf-8")
        sealed = AESGCM(self._key).encrypt(nonce, plain, None)
        return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"

    def decrypt(self, text: str) -> Any:
        version, nonce, sealed = text.split(":")
        if version != "v1":
            raise ValueError(f"unknown ciphertext version {version}")
        plain = AESGCM(self._key).decrypt(base64.b64decode(nonce), base64.b64decode(sealed), None)
        return decode_value(json.loads(plain))

    def seal(self, value: Any) -> Any:
        """Engine values -> JSON for the state file: every secret encrypted."""
        if isinstance(value, Secret):
            return {SIG_KEY: SECRET_SIG, "ciphertext": self.encrypt(value.value)}
        if isinstance(value, Mapping):
            return {k: self.seal(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.seal(v) for v in value]
        return value

    def unseal(self, value: Any) -> Any:
        """JSON from the state file -> engine values (secrets decrypted and marked)."""
        if isinstance(value, dict):
            if value.get(SIG_KEY) == SECRET_SIG and "ciphertext" in value:
                return Secret(self.decrypt(value["ciphertext"]))
            return {k: self.unseal(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.unseal(v) for v in value]
        return value
