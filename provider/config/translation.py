"""Pydantic's validation errors in the stack file's words: one Problem per dotted key, with the fix.

Why: pydantic says ``cluster.nodes.1: Value error, ...`` or ``Extra inputs are not permitted``; an
operator needs ``cluster.nodes[1]: ... use the node's computer name`` and, for a typo, the key they
meant. The hint for a missing key is the field's own description, so it cannot drift from Pulumi.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo

from provider.config.model import SECRET_KEYS, ClusterSpec, section_model
from provider.config.problems import PROJECT, RULES, Problem, unknown_key_message


def dotted_key(loc: Sequence[str | int], sub: str = "") -> str:
    """``cluster.nodes[1]`` from pydantic's location ``("cluster", "nodes", 1)``, plus a rule's sub-key."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    if sub:
        out += sub if (sub.startswith("[") or not out) else f".{sub}"
    return out


def _fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """A model's fields by camelCase key and by Python name."""
    return {to_camel(name): field for name, field in model.model_fields.items()} | dict(model.model_fields)


def _field_at(loc: Sequence[str | int]) -> FieldInfo | None:
    """The ClusterSpec field at a location (list indexes skipped), or None when there is no such field."""
    model: type[BaseModel] | None = ClusterSpec
    field: FieldInfo | None = None
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None:
            return None
        field = _fields(model).get(part)
        if field is None:
            return None
        model = section_model(field.annotation)
    return field


def _model_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The section model at a location (ClusterSpec itself for the root), or None."""
    if not loc:
        return ClusterSpec
    field = _field_at(loc)
    return section_model(field.annotation) if field is not None else None


def _missing_hint(loc: Sequence[str | int]) -> str:
    """What a missing key is, from its description; a section also lists the keys it requires."""
    field = _field_at(loc)
    if field is None or not field.description:
        return ""
    model = section_model(field.annotation)
    if model is None:
        return field.description
    required = [to_camel(name) for name, sub in model.model_fields.items() if sub.is_required()]
    listed = ", ".join(required[:-1]) + f" and {required[-1]}" if len(required) > 1 else "".join(required)
    return f"{field.description}: {listed}" if listed else field.description


def _translate(err: Mapping[str, Any]) -> list[Problem]:
    loc: tuple[str | int, ...] = tuple(err["loc"])
    kind = str(err.get("type", ""))
    key = dotted_key(loc)
    ctx = err.get("ctx") or {}
    if kind == RULES:
        return [Problem(dotted_key(loc, sub), message) for sub, message in ctx.get("problems", ())]
    if kind == "missing":
        if key in SECRET_KEYS:
            return [Problem(key, f"is not set: run `pulumi config set --secret {key}`")]
        hint = _missing_hint(loc)
        where = (
            f"add esso-cluster:{key} to the stack file"
            if len(loc) == 1
            else f"add {loc[-1]} under esso-cluster:{dotted_key(loc[:-1])}"
        )
        return [Problem(key, f"is required: {where}" + (f" ({hint})" if hint else ""))]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = [to_camel(name) for name in model.model_fields] if model else []
        where = f"esso-cluster:{dotted_key(loc[:-1])}" if len(loc) > 1 else PROJECT
        return [Problem(key, unknown_key_message(str(loc[-1]), known, where))]
    if kind == "literal_error":
        return [Problem(key, f"must be {ctx['expected']}")]
    if kind in ("bool_type", "bool_parsing"):
        return [Problem(key, "must be true or false")]
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return [Problem(key, "must be a whole number")]
    if kind in ("float_type", "float_parsing", "finite_number"):
        return [Problem(key, "must be a number (seconds)")]
    if kind == "string_type":
        if key in SECRET_KEYS:
            return [Problem(key, "must be text: run `pulumi config set --secret " + key + "`")]
        quote = " (quote it in YAML)" if isinstance(err.get("input"), int | float | bool) else ""
        return [Problem(key, f"must be text{quote}")]
    if kind == "list_type":
        return [Problem(key, "must be a list (a YAML sequence), e.g. [SSO01, SSO02]")]
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return [Problem(key, f"must be a mapping (a YAML object with keys under esso-cluster:{key})")]
    return [Problem(key, str(err["msg"]).removeprefix("Value error, "))]


def problems_of(error: ValidationError, *, prefix: str = "") -> list[Problem]:
    """The Problems of a ValidationError of ClusterSpec, or of one section with ``prefix`` (e.g. "transport")."""
    root: tuple[str, ...] = tuple(prefix.split(".")) if prefix else ()
    out: list[Problem] = []
    for err in error.errors(include_url=False, include_input=True, include_context=True):
        for problem in _translate({**err, "loc": root + tuple(err["loc"])}):
            if problem not in out:
                out.append(problem)
    return out
