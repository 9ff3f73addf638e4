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

import textwrap
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

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


def _choices(field: FieldInfo) -> str | None:
    """``negotiate, ntlm or kerberos`` for a Literal field, or None."""
    if typing.get_origin(field.annotation) is not Literal:
        return None
    values = [str(value) for value in typing.get_args(field.annotation)]
    return ", ".join(values[:-1]) + f" or {values[-1]}"


def _details(field: FieldInfo, *, with_default: bool = True) -> str:
    """A field's description with its choices and default: the words Pulumi.yaml and the README show."""
    parts = [field.description or ""]
    choices = _choices(field)
    if choices is not None:
        parts.append(f"one of {choices}")
    default = _shown_default(field)
    if with_default and default is not None:
        parts.append(f"default {default}")
    return "; ".join(parts)


def _keys_of(model: type[BaseModel]) -> str:
    """``networkName (the Name of ...), role (...), resourceName (...; default ...)`` for a section."""
    return ", ".join(f"{to_camel(name)} ({_details(field)})" for name, field in model.model_fields.items())


def description(name: str) -> str:
    """Pulumi.yaml's description of a top-level key: its field's, and for a section each key's."""
    field = FIELDS[name]
    text = field.description or ""
    model = section_model(field.annotation)
    if model is None:
        return _sentence(_details(field))
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


def _folded(text: str, indent: str) -> str:
    """A YAML folded block (``>-``) that reads back as ``text``: wrapped lines joined by single spaces."""
    lines = textwrap.wrap(text, width=116 - len(indent), break_long_words=False, break_on_hyphens=False)
    return ">-\n" + "\n".join(indent + line for line in lines)


def _scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=1000).removesuffix("\n...\n").strip()


def declarations_yaml() -> str:
    """The ``config:`` block of Pulumi.yaml as text, descriptions folded for reading."""
    out = ["config:"]
    for key, declaration in config_declarations().items():
        out.append(f"  {key}:")
        for name, value in declaration.items():
            shown = _folded(value, "      ") if name == "description" else _scalar(value)
            out.append(f"    {name}: {shown}")
    return "\n".join(out) + "\n"


def with_declarations(text: str) -> str:
    """Pulumi.yaml's text with its ``config:`` block (the file's last key) replaced by the generated one."""
    head, marker, _ = text.partition("\nconfig:\n")
    if not marker:
        raise ValueError("Pulumi.yaml has no top-level config: block to replace")
    return head + "\n" + declarations_yaml()


def leaf_fields() -> Iterator[tuple[str, FieldInfo]]:
    """Every key a stack can set, dotted (``cluster.nodes``), with its field, in the model's order."""
    for name, field in FIELDS.items():
        model = section_model(field.annotation)
        if model is None:
            yield to_camel(name), field
            continue
        for sub_name, sub in model.model_fields.items():
            yield f"{to_camel(name)}.{to_camel(sub_name)}", sub


def reference_markdown() -> str:
    """The configuration reference as a Markdown table: every key, what it is, its default."""
    rows = ["| Key | What it is | Default |", "|---|---|---|"]
    for key, field in leaf_fields():
        default = _shown_default(field) or ("required" if field.is_required() else "—")
        secret = " (a secret)" if key in SECRET_KEYS else ""
        rows.append(f"| `{key}` | {_details(field, with_default=False)}{secret} | {default} |")
    return "\n".join(rows)
