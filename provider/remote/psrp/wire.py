"""What crosses the wire: parameters into a pipeline (secrets as SecureString), results back to plain Python.

Why: PowerShell spells null and one-item arrays its own way; results are mapped onto the contract's model
here, so a script and its pydantic Result agree whatever PowerShell version serialized them.
"""

from __future__ import annotations

import types
import uuid
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr

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


def _pipeline(pool: Any, text: str, wire: Mapping[str, Any]) -> Any:
    """A PowerShell pipeline of the script text with its parameters; secrets as SecureString (keys exchanged)."""
    from pypsrp.complex_objects import ObjectMeta
    from pypsrp.powershell import PowerShell

    ps = PowerShell(pool)
    # A scope of its own: the parameters (SecureStrings among them), variables and functions of one script do not
    # stay in the pooled runspace for the next script (AddScript's useLocalScope; review ps_fidelity F14).
    ps.add_script(text, use_local_scope=True)
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
