"""Pulumi.yaml's ``config:`` declarations and the README's configuration table, generated from the model.

Why generated: a key's meaning is written once, as its field's description in ``sections``/``model``;
``pulumi config``, Pulumi.yaml readers and the README show the same words. ``tests/spec`` fails when
Pulumi.yaml's declarations differ from ``config_declarations()``; ``python -m provider.config
project-file --write`` rewrites them.

Declared types: sections are ``object``, ``allowDisruption`` is ``boolean``, the rest ``string``. A
required section has no default (the Pulumi CLI then requires it in every stack); every other key has
one, empty for "unset", so the spec reports a missing password with its own fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo

from provider.config.model import FIELDS, SECRET_KEYS, section_model

PROJECT_FILE = Path(__file__).resolve().parents[2] / "Pulumi.yaml"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _shown_default(field: FieldInfo) -> str | None:
    """A field's default as a stack file would write it, or None when it has none worth showing."""
    if field.is_required() or field.default_factory is not None:
        return None
    value = field.default
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _keys_of(model: type[BaseModel]) -> str:
    """``networkName (the Name of ...), role (...), resourceName (..., default ...)`` for a section."""
    parts: list[str] = []
    for name, field in model.model_fields.items():
        default = _shown_default(field)
        suffix = f"; default {default}" if default is not None else ""
        parts.append(f"{to_camel(name)} ({field.description}{suffix})")
    return ", ".join(parts)


def description(name: str) -> str:
    """Pulumi.yaml's description of a top-level key: its field's, and for a section each key's."""
    field = FIELDS[name]
    text = field.description or ""
    model = section_model(field.annotation)
    if model is None:
        return _sentence(text)
    return _sentence(f"{text}. Keys: {_keys_of(model)}")


def config_declarations() -> dict[str, dict[str, Any]]:
    """Pulumi.yaml's ``config:`` mapping: one declaration per ClusterSpec field, in field order."""
    out: dict[str, dict[str, Any]] = {}
    for name, field in FIELDS.items():
        key = to_camel(name)
        model = section_model(field.annotation)
        declaration: dict[str, Any] = {
            "type": "object" if model else "boolean" if field.annotation is bool else "string"
        }
        if key in SECRET_KEYS:
            declaration["secret"] = True
            declaration["default"] = ""
        elif model is not None:
            if not field.is_required():
                declaration["default"] = {}
        elif not field.is_required():
            declaration["default"] = "" if field.default is None else field.default
        declaration["description"] = description(name)
        out[key] = declaration
    return out


def with_declarations(text: str) -> str:
    """Pulumi.yaml's text with its ``config:`` block (the file's last key) replaced by the generated one."""
    head, marker, _ = text.partition("\nconfig:\n")
    if not marker:
        raise ValueError("Pulumi.yaml has no top-level config: block to replace")
    block = yaml.safe_dump({"config": config_declarations()}, sort_keys=False, width=116, allow_unicode=True)
    return head + "\n" + block


def reference_markdown() -> str:
    """The configuration reference as a Markdown table: every key, what it is, its default."""
    rows = ["| Key | What it is | Default |", "|---|---|---|"]
    for name, field in FIELDS.items():
        key = to_camel(name)
        model = section_model(field.annotation)
        if model is None:
            default = _shown_default(field) or ("required" if field.is_required() else "—")
            secret = " (secret: `pulumi config set --secret`)" if key in SECRET_KEYS else ""
            rows.append(f"| `{key}` | {field.description}{secret} | {default} |")
            continue
        for sub_name, sub in model.model_fields.items():
            default = _shown_default(sub) or ("required" if sub.is_required() else "—")
            rows.append(f"| `{key}.{to_camel(sub_name)}` | {sub.description} | {default} |")
    return "\n".join(rows)
