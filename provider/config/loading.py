"""From what a stack gives to a ``ClusterSpec``: stack files, prefixed keys, JSON sections, secure values.

Why one loader for three callers: the program and a provider's ``configure()`` receive un-prefixed keys
with sections as JSON text; the offline check reads ``Pulumi.<stack>.yaml`` with encrypted values it
cannot decrypt. All three must accept and refuse the same things. Encrypted values offline are replaced
by ``STAND_IN`` and never judged; every secret value seen is redacted from every message as a last guard.
An empty top-level value means "unset" (Pulumi.yaml's defaults for optional keys).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo

from provider.config.model import CONFIG_KEYS, FIELDS, SECRET_KEYS, SECTION_KEYS, ClusterSpec, cross_section_problems
from provider.config.problems import (
    PROJECT,
    STAND_IN,
    Problem,
    SpecError,
    hidden_character,
    quoted,
    unknown_key_message,
)
from provider.config.translation import problems_of

__all__ = ["STAND_IN", "check_stack_file", "load_spec", "load_stack_file"]

_SECURE = "secure"

# A stack file is a few kilobytes of a few hundred nodes. These bounds (issue 13, L6) make the offline
# check of an untrusted file (a pull request) cheap whatever it holds: YAML aliases may repeat a node,
# but the document they expand to is counted before anything is built from it.
MAX_STACK_FILE_BYTES = 1024 * 1024
MAX_YAML_NODES = 10_000
MAX_NESTING = 32


def _is_secure(value: Any) -> bool:
    """Whether a stack file value is encrypted (``{secure: v1:...}``)."""
    return isinstance(value, Mapping) and set(value) == {_SECURE} and isinstance(value[_SECURE], str)


def _split_namespace(key: str) -> tuple[str | None, str]:
    namespace, sep, name = key.rpartition(":")
    return (namespace if sep else None), name


@dataclass
class _Loaded:
    """A configuration ready for the model, and what loading found on the way."""

    data: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    masked: set[str] = field(default_factory=set)
    """Keys whose values were encrypted (stand-ins offline, or undecrypted): not judged."""
    secrets: list[str] = field(default_factory=list)
    """Secret values seen, redacted from every message."""


class _Loader:
    """One pass over a configuration: keys, then secrets, then secure values, then sections."""

    def __init__(self, *, stack_file: bool, stand_ins: bool) -> None:
        self.stack_file = stack_file
        self.stand_ins = stand_ins
        self.loaded = _Loaded()
        self.nested_secrets: dict[str, str] = {}

    def problem(self, key: str, message: str) -> None:
        self.loaded.problems.append(Problem(key, message))

    def keys(self, config: Mapping[Any, Any]) -> dict[str, Any]:
        """This project's keys, un-prefixed; other namespaces ignored, misspelt or doubled keys reported."""
        data: dict[str, Any] = {}
        for raw_key, value in config.items():
            if not isinstance(raw_key, str):
                self.problem(str(raw_key), "is not a config key: keys are text, esso-cluster:<key>")
                continue
            namespace, name = _split_namespace(raw_key)
            if hidden_character(raw_key) or not raw_key.isascii():
                self.problem(
                    raw_key,
                    "is a key with an invisible or non-ASCII character, which a reviewer cannot tell from the key "
                    f"it looks like: retype it ({PROJECT}:<key>, or another package's namespace:<key>)",
                )
                continue
            if namespace is not None and namespace != PROJECT:
                if name in CONFIG_KEYS:
                    self.problem(
                        raw_key, f"uses namespace {quoted(namespace)}: this project's keys are {PROJECT}:{name}"
                    )
                continue  # another package's key (aws:region, pulumi:...)
            if namespace is None and self.stack_file and name in CONFIG_KEYS:
                self.problem(name, f"must be written {PROJECT}:{name} in a stack file")
            if name not in CONFIG_KEYS:
                self.problem(name, unknown_key_message(name, CONFIG_KEYS, PROJECT))
                continue
            if name in data:
                self.problem(name, f"is set twice (with and without {PROJECT}:): keep one")
                continue
            if self.stack_file and name in SECRET_KEYS and value is not None and value != "" and not _is_secure(value):
                self.problem(
                    name,
                    f"is in plain text in the stack file; Pulumi.yaml declares it secret: remove the line and run "
                    f"`pulumi config set --secret {name}`",
                )
            data[name] = value
        return data

    def secrets(self, data: dict[str, Any], secrets: Mapping[str, str]) -> None:
        """Decrypted values: a top-level key joins ``data``; a nested one (``a.b``) replaces its secure value."""
        for raw_key, value in secrets.items():
            _, name = _split_namespace(raw_key)
            top = re.split(r"[.\[]", name, maxsplit=1)[0]
            if top not in CONFIG_KEYS:
                self.problem(name, "(in secrets) " + unknown_key_message(top, CONFIG_KEYS, PROJECT))
                continue
            self.loaded.secrets.append(value)
            if name == top:
                data[name] = value
            else:
                self.nested_secrets[name] = value

    def resolve(self, path: str, value: Any) -> Any:
        """``value`` with each secure value replaced by its secret, a stand-in, or None (reported)."""
        if _is_secure(value):
            if path in self.nested_secrets:
                return self.nested_secrets[path]
            self.loaded.masked.add(path)
            if self.stand_ins:
                return STAND_IN
            self.problem(
                path,
                "is encrypted in the stack file (secure: v1:...): let Pulumi decrypt it (pulumi preview/up), "
                f"or pass its value: load_stack_file(path, secrets={{'{path}': ...}})",
            )
            return None
        if isinstance(value, Mapping):
            return {key: self.resolve(f"{path}.{key}", item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(f"{path}[{index}]", item) for index, item in enumerate(value)]
        return value

    def section(self, name: str, text: str) -> Any:
        """A section given as JSON text (as the engine sends it), decoded; None when it is not JSON."""
        if _nesting(text) > MAX_NESTING:
            self.problem(name, f"nests deeper than {MAX_NESTING} levels: a section is a flat object of a few keys")
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            self.problem(
                name,
                f"is text that is not a JSON object ({exc.msg} at character {exc.pos}): write it as a YAML "
                f"mapping under {PROJECT}:{name}, or set it with `pulumi config set --path {name}.<key> ...`",
            )
            return None

    def load(self, config: Mapping[Any, Any], secrets: Mapping[str, str] | None, allow_missing: bool) -> _Loaded:
        data = self.keys(config)
        self.secrets(data, secrets or {})
        for name, raw in data.items():
            if raw is None or raw == "":
                continue  # unset: Pulumi.yaml's empty defaults, or a bare `key:` in YAML
            value = self.resolve(name, raw)
            if value is None:
                continue
            if name in SECTION_KEYS and isinstance(value, str):
                if name in self.loaded.masked:
                    continue  # an encrypted section cannot be judged offline
                value = self.section(name, value)
                if value is None:
                    continue
            if name in SECRET_KEYS and isinstance(value, str):
                self.loaded.secrets.append(value)
            self.loaded.data[name] = value
        if allow_missing and "serviceAccountPassword" not in self.loaded.data:
            self.loaded.data["serviceAccountPassword"] = STAND_IN
            self.loaded.masked.add("serviceAccountPassword")
        return self.loaded


def _nesting(text: str) -> int:
    """The deepest bracket nesting of a JSON text (brackets inside strings count too: an upper bound)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _field_adapter(info: FieldInfo) -> TypeAdapter[Any]:
    """Validates one field's value on its own, with the rules its type carries."""
    annotation: Any = info.annotation
    return TypeAdapter(Annotated[(annotation, *info.metadata)] if info.metadata else annotation)


_FIELD_ADAPTERS = {name: _field_adapter(info) for name, info in FIELDS.items()}


def _partial_problems(data: Mapping[str, Any], allow_missing: bool) -> list[Problem]:
    """Cross-section rules over the fields that validate on their own (the model skips them on any error)."""
    values: dict[str, Any] = {}
    for name, info in FIELDS.items():
        key = to_camel(name)
        if key not in data and name not in data:
            if not info.is_required():
                values[name] = info.get_default(call_default_factory=True)
            continue
        try:
            values[name] = _FIELD_ADAPTERS[name].validate_python(data.get(key, data.get(name)))
        except ValidationError:
            continue
    return [Problem(sub, message) for sub, message in cross_section_problems(values, allow_missing)]


def _redact(problems: Sequence[Problem], secrets: Sequence[str]) -> list[Problem]:
    out: list[Problem] = []
    for problem in problems:
        message = problem.message
        for secret in secrets:
            if len(secret) >= 4 and secret in message:
                message = message.replace(secret, "[secret]")
        out.append(Problem(problem.key, message))
    return out


def _under_masked(key: str, masked: set[str]) -> bool:
    """Whether ``key`` is, or is inside, a value that was encrypted (and so is not judged)."""
    return any(key == m or key.startswith((f"{m}.", f"{m}[")) for m in masked)


def _validate(loaded: _Loaded, allow_missing: bool) -> tuple[ClusterSpec | None, list[Problem]]:
    spec: ClusterSpec | None = None
    found: list[Problem] = []
    try:
        spec = ClusterSpec.model_validate(loaded.data, context={"allow_missing_secrets": allow_missing})
    except ValidationError as exc:
        found = problems_of(exc)
        found += [p for p in _partial_problems(loaded.data, allow_missing) if p not in found]
    problems = list(loaded.problems) + [p for p in found if not _under_masked(p.key, loaded.masked)]
    return (spec if not problems else None), _redact(problems, loaded.secrets)


def load_spec(config: Mapping[str, Any], secrets: Mapping[str, str] | None = None) -> ClusterSpec:
    """Validate a configuration mapping into a ClusterSpec, or raise SpecError (ESSO-040) naming every key.

    ``config`` is a stack file's ``config:`` mapping (``esso-cluster:<key>``; other namespaces are ignored)
    or un-prefixed keys, as a provider's ``configure()`` and the program receive them. Section values may
    be mappings or JSON text. Values written ``{secure: ...}`` need their decrypted value in ``secrets``
    (``{"serviceAccountPassword": "..."}``; a nested one by its dotted key); ``secrets`` also supplies keys
    the mapping lacks.
    """
    loaded = _Loader(stack_file=False, stand_ins=False).load(config, secrets, allow_missing=False)
    spec, problems = _validate(loaded, allow_missing=False)
    if spec is None:
        raise SpecError(problems)
    return spec


def yaml_size_problem(text: str) -> str | None:
    """Why a YAML text is too large to load once its aliases are expanded, or too deep; None when it is fine.

    One pass over the parser's events (no tree is built): each collection's expanded node count is known
    at its end, an anchor remembers it and an alias adds it again, so a "billion laughs" file of a few
    hundred bytes is refused after reading those bytes, in microseconds.
    """
    anchored: dict[str, int] = {}
    open_nodes: list[list[Any]] = [[None, 0]]  # [anchor, expanded nodes so far] per open collection
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                if len(open_nodes) > MAX_NESTING:
                    return f"nests collections deeper than {MAX_NESTING} levels; a stack file needs a few"
                open_nodes.append([event.anchor, 1])
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                anchor, size = open_nodes.pop()
            elif isinstance(event, yaml.ScalarEvent):
                anchor, size = event.anchor, 1
            elif isinstance(event, yaml.AliasEvent):
                if any(event.anchor is not None and event.anchor == node[0] for node in open_nodes):
                    return f"has a YAML alias *{event.anchor} inside its own anchor: a value cannot contain itself"
                anchor, size = None, anchored.get(event.anchor or "", 1)
            else:
                continue
            if anchor is not None:
                anchored[anchor] = size
            open_nodes[-1][1] += size
            if open_nodes[-1][1] > MAX_YAML_NODES or size > MAX_YAML_NODES:
                return (
                    f"expands to more than {MAX_YAML_NODES} values once its YAML aliases (*name) are resolved; a "
                    "stack file needs a few hundred: write the values out instead of repeating anchors"
                )
    except yaml.YAMLError:
        return None  # the loader reports the syntax error with its line
    return None


def _read_stack_file(path: str | Path) -> tuple[Mapping[Any, Any] | None, list[Problem]]:
    where = str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_STACK_FILE_BYTES + 1)
    except OSError as exc:
        return None, [Problem(where, f"cannot be read ({exc.strerror or exc}): check the path")]
    if len(raw) > MAX_STACK_FILE_BYTES:
        return None, [Problem(where, f"is larger than {MAX_STACK_FILE_BYTES} bytes; a stack file has a few KB")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(where, f"is not UTF-8 text (byte {exc.start}): save it as UTF-8")]
    if why := yaml_size_problem(text):
        return None, [Problem(where, why)]
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        return None, [Problem(where, f"is not valid YAML{at}: fix the syntax")]
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        return None, [Problem(where, "is not a stack file: the top level must be a mapping with a config: key")]
    config = document.get("config") or {}
    if not isinstance(config, Mapping):
        return None, [Problem(f"{where}: config", "must be a mapping of esso-cluster:<key> to values")]
    return config, []


def load_stack_file(path: str | Path, secrets: Mapping[str, str] | None = None) -> ClusterSpec:
    """Validate ``Pulumi.<stack>.yaml``; encrypted values need ``secrets`` (see ``load_spec``)."""
    config, problems = _read_stack_file(path)
    if config is None:
        raise SpecError(problems)
    loaded = _Loader(stack_file=True, stand_ins=False).load(config, secrets, allow_missing=False)
    spec, problems = _validate(loaded, allow_missing=False)
    if spec is None:
        raise SpecError(problems)
    return spec


def check_stack_file(path: str | Path, *, allow_missing_secrets: bool = False) -> list[Problem]:
    """The problems of a stack file, offline: encrypted values count as present and are not judged.

    With ``allow_missing_secrets`` the password keys may be absent (stacks whose passwords are set with
    ``pulumi config set --secret`` at run time, such as demo).
    """
    config, problems = _read_stack_file(path)
    if config is None:
        return problems
    loaded = _Loader(stack_file=True, stand_ins=True).load(config, None, allow_missing=allow_missing_secrets)
    return _validate(loaded, allow_missing=allow_missing_secrets)[1]
