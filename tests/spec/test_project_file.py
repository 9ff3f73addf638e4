"""Pulumi.yaml is a valid Pulumi project whose config schema matches provider/spec.py and the stack files.

The JSON schema is Pulumi's own (``pulumi-project.schema.json``: ``pulumi/pulumi``
``sdk/go/common/workspace/project.json`` at commit 5351d868b25dea431a1cddd35ccf1a41d0985a81, verbatim;
see README.md here). That revision predates ``object`` config types (pulumi/pulumi#20129), so it is
validated once with that one enum value added, as current CLIs embed it, and once unchanged with the
``type: object`` declarations dropped, as older CLIs need (pulumi/pulumi#11321).

The CLI's other checks are ported from ``sdk/go/common/workspace/project.go`` (``Project.Validate``,
``ValidateConfigValue``) and ``pkg/workspace/config.go`` (``mergeConfig``): a declared key with no default is
required in every stack, a secret key's stack value must be ``secure:``, stack values must match the
declared type, and defaults are merged in as config values (objects as JSON text).
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs in requirements-dev.txt
import pytest
import yaml

from provider.config.project_file import config_declarations, leaf_fields, reference_markdown, with_declarations
from provider.spec import CONFIG_KEYS, PROJECT, SECRET_KEYS, SECTION_KEYS, ClusterSpec, load_spec
from tests.spec.common import ROOT, STACKS
from tests.spec.test_loading import STACK_SECRETS

SCHEMA_FILE = Path(__file__).with_name("pulumi-project.schema.json")


def project() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "Pulumi.yaml").read_text("utf-8"))
    assert isinstance(document, dict)
    return document


def upstream_schema() -> dict[str, Any]:
    schema = json.loads(SCHEMA_FILE.read_text("utf-8"))
    assert isinstance(schema, dict)
    return schema


def schema_with_object_type() -> dict[str, Any]:
    """The upstream schema with pulumi/pulumi#20129 applied: ``object`` joins the simple config types."""
    schema = copy.deepcopy(upstream_schema())
    enum = schema["$defs"]["simpleConfigType"]["enum"]
    if "object" not in enum:
        enum.append("object")
    return schema


def test_vendored_schema_is_the_upstream_text() -> None:
    text = SCHEMA_FILE.read_text("utf-8")
    assert len(text.rstrip("\n")) == 10346  # the stored upstream file's length
    schema = upstream_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith("sdk/go/common/workspace/project.json")
    assert schema["$defs"]["simpleConfigType"]["enum"] == ["string", "integer", "boolean", "array"]


def test_the_patch_adds_only_object() -> None:
    before, after = upstream_schema(), schema_with_object_type()
    after["$defs"]["simpleConfigType"]["enum"].remove("object")
    assert before == after


def test_pulumi_yaml_validates_against_the_project_schema() -> None:
    jsonschema.Draft202012Validator(schema_with_object_type()).validate(project())


def test_without_object_types_it_validates_against_the_unpatched_schema() -> None:
    """Older CLIs: drop ``type: object`` (pulumi/pulumi#11321's workaround) and the rest still validates."""
    document = project()
    validator = jsonschema.Draft202012Validator(upstream_schema())
    assert not validator.is_valid(document)  # documents why the patch is needed
    for declaration in document["config"].values():
        if declaration.get("type") == "object":
            del declaration["type"]
    validator.validate(document)


def test_project_settings() -> None:
    document = project()
    assert document["name"] == PROJECT == "esso-cluster"
    assert document["description"]
    assert document["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
    assert document["main"] == "."
    assert document["stackConfigDir"] == "stacks"
    assert (ROOT / document["stackConfigDir"]).is_dir()


def test_config_schema_declares_every_key_with_a_description() -> None:
    config = project()["config"]
    assert tuple(config) == CONFIG_KEYS
    for key, declaration in config.items():
        assert isinstance(declaration.get("description"), str) and len(declaration["description"]) > 20, key


def test_config_declarations_are_generated_from_the_field_descriptions() -> None:
    """One source: Pulumi.yaml says what the model's Field(description=...) says, in the generator's layout."""
    assert project()["config"] == config_declarations(), "run: python -m provider.config project-file --write"
    text = (ROOT / "Pulumi.yaml").read_text("utf-8")
    assert with_declarations(text) == text, "run: python -m provider.config project-file --write"


def test_every_key_has_its_own_description() -> None:
    """Each key a stack can set is described once, and no two keys share words that would hide a gap."""
    descriptions = [field.description or "" for _key, field in leaf_fields()]
    assert all(len(d) > 10 for d in descriptions), descriptions
    assert len(set(descriptions)) == len(descriptions)


def test_the_description_of_a_section_names_each_of_its_keys() -> None:
    config = project()["config"]
    for key, _field in leaf_fields():
        top, _, sub = key.partition(".")
        if sub:
            assert f"{sub} (" in config[top]["description"], key


def test_the_reference_table_lists_every_key_once() -> None:
    rows = reference_markdown().splitlines()[2:]
    keys = [row.split("`")[1] for row in rows]
    assert keys == [key for key, _field in leaf_fields()]
    assert {key.partition(".")[0] for key in keys} == set(CONFIG_KEYS)


def test_types_and_secrets_match_the_model() -> None:
    config = project()["config"]
    for key, declaration in config.items():
        expected = "object" if key in SECTION_KEYS else "boolean" if key == "allowDisruption" else "string"
        assert declaration["type"] == expected, key
        assert declaration.get("secret", False) is (key in SECRET_KEYS), key


def test_required_keys_are_the_required_sections() -> None:
    """A declared key without a default is required by the CLI in every stack; optional keys need one."""
    config = project()["config"]
    no_default = {k for k, d in config.items() if "default" not in d and "value" not in d}
    assert no_default == {"cluster", "domain", "sso", "database"}
    required_fields = {f.alias or n for n, f in ClusterSpec.model_fields.items() if f.is_required()}
    assert required_fields - no_default == {"serviceAccountPassword"}  # an empty default, reported by the spec


# ---- ported CLI checks -----------------------------------------------------------------------------------


def validate_config_value(type_name: str, items: dict[str, Any] | None, value: Any) -> bool:
    """``ValidateConfigValue`` (sdk/go/common/workspace/project.go)."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return True
        if isinstance(value, float):
            return value == math.trunc(value)
        if isinstance(value, str):
            try:
                int(value)
            except ValueError:
                return False
            return True
        return False
    if type_name == "boolean":
        return value in ("true", "false") or isinstance(value, bool)
    if type_name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or items is None:
        return False
    return all(validate_config_value(items["type"], items.get("items"), item) for item in value)


def test_project_validate_rules() -> None:
    """``Project.Validate``: arrays declare items, defaults have the declared type, never default and value."""
    for key, declaration in project()["config"].items():
        assert not ("default" in declaration and "value" in declaration), key
        if declaration["type"] == "array":
            assert "items" in declaration, key
        if "default" in declaration:
            assert validate_config_value(declaration["type"], declaration.get("items"), declaration["default"]), key


def stack_config(name: str) -> dict[str, Any]:
    document = yaml.safe_load((STACKS / f"Pulumi.{name}.yaml").read_text("utf-8"))
    config = document.get("config") or {}
    assert isinstance(config, dict)
    return config


def stack_value_content(value: Any) -> Any:
    """What the CLI type-checks: objects as parsed JSON, scalars as their config text."""
    if isinstance(value, dict | list):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def create_config_value(value: Any) -> Any:
    """``createConfigValue`` (pkg/workspace/config.go): primitives as text, anything else as JSON text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int):
        return str(value)
    return json.dumps(value)


@pytest.mark.parametrize("name", ["demo", "dev", "prod"])
def test_stack_files_pass_the_cli_merge(name: str) -> None:
    """``mergeConfig``: required keys present, secrets encrypted, values of the declared type."""
    declarations = project()["config"]
    stack = stack_config(name)
    for key, declaration in declarations.items():
        full = f"{PROJECT}:{key}"
        if full not in stack:
            assert "default" in declaration or "value" in declaration, f"{name} is missing {key}"
            continue
        value = stack[full]
        if declaration.get("secret"):
            assert isinstance(value, dict) and set(value) == {"secure"}, f"{name}: {key} must be encrypted"
            continue
        assert validate_config_value(declaration["type"], declaration.get("items"), stack_value_content(value)), key
    unknown = {k for k in stack if k.startswith(f"{PROJECT}:")} - {f"{PROJECT}:{k}" for k in declarations}
    assert unknown == set()


@pytest.mark.parametrize("name", ["demo", "dev", "prod"])
def test_merged_defaults_read_as_unset(name: str) -> None:
    """After the CLI merges Pulumi.yaml's defaults, the program sees the same spec as the stack file gives."""
    declarations = project()["config"]
    stack = stack_config(name)
    merged: dict[str, Any] = {}
    for key, declaration in declarations.items():
        full = f"{PROJECT}:{key}"
        if full in stack:
            value = stack[full]
            merged[key] = json.dumps(value) if isinstance(value, dict) and "secure" not in value else value
        elif "default" in declaration:
            merged[key] = create_config_value(declaration["default"])
    secrets = STACK_SECRETS[name]
    merged.update(secrets)
    from_merge = load_spec(merged)
    from_file = load_spec(stack_config(name), secrets=secrets)
    assert from_merge == from_file
