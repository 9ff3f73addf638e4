"""The stack configuration as pydantic models: the one place a stack's words are checked.

Why here: the program, every provider's ``check()`` and the offline ``python -m provider.spec check``
validate with the same models, so a pull request learns of a bad key before any preview runs.
Errors name the dotted config key as the user writes it (``cluster.nodes[1]``,
``transport.readTimeout``, ``serviceAccountPassword``) and the fix; secrets are ``SecretStr`` and never
echoed (``hide_input_in_errors`` plus messages that only ever name the key).

Config keys are ``esso-cluster:<key>`` in a stack file, where ``<key>`` is the camelCase alias of a
``ClusterSpec`` field (``CONFIG_KEYS``). Sections are structured (object) values; the engine hands them
to programs and providers as JSON text, which the loaders accept. Passwords are top-level secret keys.
An empty top-level value means "unset": ``Pulumi.yaml`` gives the optional keys empty defaults so that a
stack may omit them (the CLI reports any declared key without a default as missing).

Offline check of a stack file (secure values count as present; ``--allow-missing-secrets`` for stacks
such as ``demo`` whose passwords are set with ``pulumi config set --secret`` at run time)::

    python -m provider.spec check [--allow-missing-secrets] stacks/Pulumi.<stack>.yaml ...
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import ipaddress
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from provider.errors import EssoError

PROJECT = "esso-cluster"
DEFAULT_ADMIN_GROUP = "SSO Administrators"
DEFAULT_AFFILIATE_GROUP = "SSO Affiliate Administrators"
DEFAULT_RESOURCE_NAME = "Enterprise Single Sign-On Service"
ESSO_FOLDER = r"C:\Program Files\Common Files\Enterprise Single Sign-On"

__all__ = [
    "CONFIG_KEYS",
    "DEFAULT_ADMIN_GROUP",
    "DEFAULT_AFFILIATE_GROUP",
    "DEFAULT_RESOURCE_NAME",
    "ESSO_FOLDER",
    "PROJECT",
    "SECRET_KEYS",
    "SECTION_KEYS",
    "BackupSection",
    "ClusterSection",
    "ClusterSpec",
    "DatabaseSection",
    "DomainSection",
    "EscrowSection",
    "FailoverSection",
    "PolicySection",
    "Problem",
    "SpecError",
    "SsoSection",
    "TransportSection",
    "check_stack_file",
    "load_spec",
    "load_spec_from_strings",
    "load_stack_file",
    "main",
    "problems_of",
    "sam",
    "split_account",
    "sql_server_parts",
]

# ------------------------------------------------------------------------------------------ problems


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration: the dotted key as the user writes it, and the fix."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class SpecError(EssoError):
    """ESSO-040: the stack configuration is invalid. ``problems`` lists every key to fix."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__("ESSO-040", f"{count} problem{'s' if count != 1 else ''}:\n{lines}\n")

    def __reduce__(self) -> tuple[type[SpecError], tuple[list[Problem]]]:
        return (SpecError, (self.problems,))


_RULES = "esso_rules"  # the pydantic error type that carries (sub-key, message) pairs in its context


def _fail(problems: Sequence[tuple[str, str]]) -> NoReturn:
    """Raise the pydantic error that ``problems_of`` unpacks into one Problem per (sub-key, message)."""
    text = "; ".join(f"{sub}: {msg}" if sub else msg for sub, msg in problems)
    raise PydanticCustomError(_RULES, "{text}", {"text": text, "problems": tuple(problems)})


def _show(value: str) -> str:
    """A non-secret value quoted for a message; control characters are escaped."""
    return f"'{value}'" if value.isprintable() else repr(value)


# ------------------------------------------------------------------------------------------ names


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NETBIOS_FORBIDDEN = '\\/:*?"<>|'
_SAM_FORBIDDEN = '"/\\[]:;|=,+*?<>@'


def _netbios_problem(value: str, what: str, dotted_hint: str) -> str | None:
    """Why ``value`` is not a NetBIOS name (computer or domain), or None."""
    if not value:
        return f"is empty: give the {what} (1-15 characters)"
    if _CONTROL.search(value):
        return f"{_show(value)} contains a control character: retype the {what}"
    if "." in value:
        return f"{_show(value)} contains a dot: {dotted_hint}"
    if any(c.isspace() for c in value):
        return f"{_show(value)} contains a space, which a NetBIOS name cannot: use the {what} as Windows shows it"
    bad = "".join(sorted({c for c in value if c in _NETBIOS_FORBIDDEN}))
    if bad:
        return (
            f"{_show(value)} contains {_show(bad)}; a NetBIOS name cannot contain any of "
            f'\\ / : * ? " < > |: use the {what} as Windows shows it'
        )
    if len(value) > 15:
        return (
            f"{_show(value)} is {len(value)} characters; a NetBIOS name has at most 15: "
            f"use the {what} as Windows shows it (the pre-Windows 2000 name)"
        )
    if value.isdigit():
        return f"{_show(value)} is all digits, which Windows refuses for a NetBIOS name: use the {what}"
    return None


def _computer_problem(value: str, what: str) -> str | None:
    return _netbios_problem(
        value,
        what,
        f"give the {what} as a NetBIOS computer name, e.g. {_show(value.split('.')[0])}, "
        "and put the DNS suffix in cluster.dnsSuffix",
    )


def _domain_problem(value: str) -> str | None:
    return _netbios_problem(
        value,
        "NetBIOS domain name",
        f"use the NetBIOS (pre-Windows 2000) domain name, e.g. {_show(value.split('.')[0].upper())}, not the DNS name",
    )


def _sam_like_problem(value: str, what: str, limit: int) -> str | None:
    if not value:
        return f"is empty: give the {what}"
    if _CONTROL.search(value):
        return f"{_show(value)} contains a control character: retype the {what}"
    bad = "".join(sorted({c for c in value if c in _SAM_FORBIDDEN}))
    if bad:
        return (
            f"{_show(value)} contains {_show(bad)}; a {what} cannot contain any of "
            '" / \\ [ ] : ; | = , + * ? < > @: use the name as Active Directory shows it (pre-Windows 2000)'
        )
    if len(value) > limit:
        return (
            f"{_show(value)} is {len(value)} characters; a {what} has at most {limit}: "
            "use the pre-Windows 2000 name, as Active Directory Users and Computers shows it"
        )
    if not value.strip(". "):
        return f"{_show(value)} is only periods or spaces: give the {what}"
    if value.endswith("."):
        return f"{_show(value)} ends with a period, which Active Directory refuses: drop the period"
    return None


def split_account(account: str) -> tuple[str, str]:
    r"""``("CONTOSO", "svc-entsso")`` from ``CONTOSO\svc-entsso``; domain is "" when there is no backslash."""
    domain, sep, user = account.partition("\\")
    return (domain, user) if sep else ("", account)


def sam(account: str) -> str:
    r"""The user part (sAMAccountName) of ``DOMAIN\user``."""
    return split_account(account)[1]


def _account_problem(value: str) -> str | None:
    """Why ``value`` is not a ``DOMAIN\\user`` domain account (the domain itself is compared later)."""
    if not value:
        return "is empty: give the account as DOMAIN\\user, e.g. CONTOSO\\svc-entsso"
    if "\\" not in value:
        if "@" in value:
            user, _, dns = value.partition("@")
            return (
                f"{_show(value)} is a user principal name; write it as DOMAIN\\user with the NetBIOS domain, "
                f"e.g. {dns.split('.')[0].upper()}\\{user}"
            )
        return f"{_show(value)} has no domain: write it as DOMAIN\\user, e.g. CONTOSO\\{value}"
    if value.count("\\") > 1:
        return f"{_show(value)} has more than one backslash: write it as DOMAIN\\user"
    domain, user = split_account(value)
    if domain in ("", ".") or domain.upper() in ("BUILTIN", "NT AUTHORITY", "NT SERVICE"):
        return (
            f"{_show(value)} is not a domain account; a clustered ENTSSO needs a domain account that is the "
            "same on every node: write DOMAIN\\user with the domain of domain.name"
        )
    why = _domain_problem(domain)
    if why:
        return f"the domain part {why}"
    why = _sam_like_problem(user, "sAMAccountName (user name)", 20)
    if why:
        return f"the user part {why}"
    return None


def _group_problem(value: str, default: str) -> str | None:
    if "\\" in value:
        group = split_account(value)[1]
        return (
            f"{_show(value)} includes a domain: write the group name alone, e.g. {_show(group or default)}; "
            "the domain comes from domain.name"
        )
    return _sam_like_problem(value, "group name", 64)


_DNS_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def _dns_problem(value: str, what: str) -> str | None:
    if not value:
        return f"is empty: give the {what} or remove the key"
    if value.startswith(".") or value.endswith("."):
        return f"{_show(value)} starts or ends with a dot: write the {what} without it, e.g. contoso.com"
    if len(value) > 253:
        return f"is {len(value)} characters; a DNS name has at most 253"
    for label in value.split("."):
        if not _DNS_LABEL.match(label):
            return (
                f"{_show(value)} is not a DNS name: each dot-separated label needs 1-63 letters, digits or "
                "hyphens and cannot start or end with a hyphen"
            )
    return None


def _text_problem(value: str, what: str, limit: int = 256) -> str | None:
    if not value.strip():
        return f"is empty: give the {what}"
    if _CONTROL.search(value):
        return f"{_show(value)} contains a control character: retype the {what}"
    if value != value.strip():
        return f"{_show(value)} has leading or trailing spaces: remove them"
    if len(value) > limit:
        return f"is {len(value)} characters; the {what} has at most {limit}"
    return None


# ------------------------------------------------------------------------------------------ SQL Server


_INSTANCE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,15}$")
_LOCAL_HOSTS = {".", "(local)", "localhost", "127.0.0.1", "::1", "(localdb)"}


def sql_server_parts(server: str) -> tuple[str, str | None, int | None]:
    r"""``("SQL01", "BTS", 1433)`` from ``SQL01\BTS,1433``; raises ValueError with the fix."""
    if not server or not server.strip():
        raise ValueError("is empty: give the SQL Server as host[\\instance][,port], e.g. SQL01 or SQL01\\BTS,1433")
    if any(c.isspace() for c in server) or _CONTROL.search(server):
        raise ValueError(f"{_show(server)} contains a space: write host[\\instance][,port] without spaces")
    prefix = re.match(r"^(tcp|np|lpc|admin):", server, re.IGNORECASE)
    if prefix:
        raise ValueError(
            f"{_show(server)} has a protocol prefix {_show(prefix.group(0))}: drop it and write host[\\instance][,port]"
        )
    rest, comma, port_text = server.partition(",")
    port: int | None = None
    if comma:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"{_show(server)} has port {_show(port_text)}: the port after the comma must be 1-65535")
        port = int(port_text)
    host, backslash, instance_text = rest.partition("\\")
    instance: str | None = None
    if backslash:
        if "\\" in instance_text:
            raise ValueError(f"{_show(server)} has more than one backslash: write host[\\instance][,port]")
        if instance_text.upper() == "MSSQLSERVER":
            raise ValueError(f"{_show(server)} names the default instance: write the host alone, e.g. {_show(host)}")
        if not _INSTANCE.match(instance_text) or instance_text.upper() == "DEFAULT":
            raise ValueError(
                f"{_show(server)} has instance name {_show(instance_text)}; an instance name has 1-16 letters, "
                "digits, _ or $ and starts with a letter or _: use the instance as SQL Server Configuration "
                "Manager shows it"
            )
        instance = instance_text
    if not host:
        raise ValueError(f"{_show(server)} has no host: write host[\\instance][,port], e.g. SQL01\\BTS")
    if host.lower() in _LOCAL_HOSTS:
        raise ValueError(
            f"{_show(server)} names the local machine, which differs on every node: give the SQL Server's "
            "name (or its availability group listener) that every node reaches"
        )
    if ":" in host:
        raise ValueError(f"{_show(server)} uses an IPv6 address: give the SQL Server's DNS name instead")
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(
                f"{_show(host)} is not a valid IPv4 address: give four numbers 0-255 or a DNS name"
            ) from None
        return host, instance, port
    why = _dns_problem(host, "SQL Server host name") if "." in host else _computer_problem(host, "SQL Server name")
    if why:
        raise ValueError(f"the host {why}")
    return host, instance, port


# ------------------------------------------------------------------------------------------ paths


_WIN_FORBIDDEN = '<>:"|?*'
# Temporary folders an escrow must not use: names to refuse, never places this module writes to.
_TEMP_PARTS = ("\\temp\\", "\\tmp\\", "/tmp/", "/var/tmp/", "%temp%", "%tmp%", "\\appdata\\local\\temp")  # noqa: S108


def _windows_path_problem(value: str, suffix: str | None) -> str | None:
    example = rf"{ESSO_FOLDER}\SSOSecret.bak"
    if not value:
        return f"is empty: give an absolute Windows path, e.g. {example}"
    if _CONTROL.search(value):
        return f"{_show(value)} contains a control character: retype the path"
    if "/" in value:
        return f"{_show(value)} uses '/': Windows paths use backslashes, e.g. {example}"
    if "%" in value:
        return f"{_show(value)} contains '%': environment variables are not expanded; write the full path"
    if value.startswith("\\\\"):
        parts = value[2:].split("\\")
        if len(parts) < 3 or not parts[0] or not parts[1]:
            return f"{_show(value)} is not a complete UNC path: write \\\\server\\share\\folder\\file{suffix or ''}"
        names = parts
    elif re.match(r"^[A-Za-z]:\\", value):
        names = value[3:].split("\\")
    else:
        return (
            f"{_show(value)} is not an absolute Windows path: start with a drive letter (D:\\...) or a UNC "
            f"share (\\\\server\\share\\...), e.g. {example}"
        )
    for name in names:
        if not name:
            return f"{_show(value)} has an empty folder name (two backslashes in a row or a trailing backslash)"
        bad = "".join(sorted({c for c in name if c in _WIN_FORBIDDEN}))
        if bad:
            return f'{_show(value)} contains {_show(bad)}; Windows names cannot contain any of < > : " | ? *'
        if name.endswith((" ", ".")):
            return f"{_show(value)} has a name ending in a space or a period, which Windows drops: remove it"
    if len(value) > 260:
        return f"is {len(value)} characters; keep the path within 260 (MAX_PATH)"
    if suffix and not value.lower().endswith(suffix):
        return f"{_show(value)} must name a {suffix} file (ssoconfig -backupsecret writes one), e.g. {example}"
    return None


def _local_path_problem(value: str) -> str | None:
    if not value.strip():
        return "is empty: give a persistent folder for the escrowed backup (absolute, or relative to the project)"
    if _CONTROL.search(value):
        return f"{_show(value)} contains a control character: retype the path"
    return None


def _is_temporary(value: str) -> bool:
    lowered = value.lower()
    probe = lowered if lowered.endswith(("/", "\\")) else lowered + ("\\" if "\\" in lowered else "/")
    return any(part in probe for part in _TEMP_PARTS)


# ------------------------------------------------------------------------------------------ AWS names


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_KMS_KEY = re.compile(
    r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|alias/[A-Za-z0-9/_-]{1,250}"
    r"|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(?:key/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|mrk-[0-9a-f]{32})|alias/[A-Za-z0-9/_-]{1,250}))$"
)
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$")
_SECRET_ID = re.compile(
    r"^(?:[A-Za-z0-9/_+=.@-]{1,512}|arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512})$"
)


def _bucket_problem(value: str) -> str | None:
    rules = (
        "S3 bucket names have 3-63 lowercase letters, digits, dots or hyphens and start and end with a letter or digit"
    )
    if value != value.lower():
        return (
            f"{_show(value)} has capital letters; S3 bucket names are lowercase: "
            f"use {_show(value.lower().replace('_', '-'))}"
        )
    if "_" in value:
        return f"{_show(value)} contains '_'; {rules}: use hyphens"
    if not _BUCKET.match(value):
        return f"{_show(value)} is not a valid bucket name; {rules}"
    if ".." in value:
        return f"{_show(value)} has two adjacent periods, which S3 refuses"
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value):
        return f"{_show(value)} looks like an IP address, which S3 refuses as a bucket name"
    if value.startswith(_BUCKET_PREFIXES) or value.endswith(_BUCKET_SUFFIXES):
        return f"{_show(value)} uses a prefix or suffix that S3 reserves (xn--, sthree-, -s3alias, --ol-s3, ...)"
    return None


def _prefix_problem(value: str) -> str | None:
    if value.startswith("/") or value.endswith("/"):
        return (
            f"{_show(value)} starts or ends with '/': write the key prefix without them, e.g. {_show(value.strip('/'))}"
        )
    if "//" in value:
        return f"{_show(value)} contains '//': separate the parts of the prefix with a single '/'"
    if "\\" in value:
        return f"{_show(value)} contains a backslash: S3 key prefixes use '/'"
    if _CONTROL.search(value):
        return f"{_show(value)} contains a control character: retype the prefix"
    if len(value) > 512:
        return f"is {len(value)} characters; keep the key prefix within 512"
    return None


# ------------------------------------------------------------------------------------------ passwords


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _password_problem(key: str, value: SecretStr | None, limit: int | None) -> str | None:
    """Why a password is unusable. The message names the key and the rule, never the value."""
    if value is None:
        return None
    secret = value.get_secret_value()
    if not secret:
        return f"is empty: run `pulumi config set --secret {key}` with the password"
    if _XML_ILLEGAL.search(secret):
        return (
            "contains a character XML 1.0 cannot carry (a control character other than tab, CR or LF, a lone "
            "surrogate, U+FFFE or U+FFFF); Configuration.exe reads passwords from XML: use a password without it"
        )
    if limit is not None and len(secret) > limit:
        return f"is longer than {limit} characters, the most Windows accepts for an account password: shorten it"
    return None


# ------------------------------------------------------------------------------------------ models


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
    )


def _check(why: str | None) -> None:
    if why:
        raise PydanticCustomError(_RULES, "{text}", {"text": why, "problems": (("", why),)})


class ClusterSection(_Model):
    """The failover cluster and the role that will hold ENTSSO."""

    network_name: str  # the Network Name resource's Name: the secret server name
    role: str  # the cluster role (group) with an IP Address and a Network Name
    nodes: list[str]  # ordered; nodes[0] creates the SSO system and ends up owning the role
    resource_name: str = DEFAULT_RESOURCE_NAME  # the Generic Service resource for ENTSSO
    dns_suffix: str | None = None  # appended to node names to reach them over WinRM

    @field_validator("network_name")
    @classmethod
    def _network_name(cls, value: str) -> str:
        _check(_computer_problem(value, "Network Name (the Name of the role's Network Name resource)"))
        return value

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        _check(_text_problem(value, "cluster role name (as Failover Cluster Manager shows it)"))
        return value

    @field_validator("resource_name")
    @classmethod
    def _resource_name(cls, value: str) -> str:
        _check(_text_problem(value, "cluster resource name"))
        return value

    @field_validator("dns_suffix")
    @classmethod
    def _dns_suffix(cls, value: str | None) -> str | None:
        if value is not None:
            _check(_dns_problem(value, "DNS suffix"))
        return value

    @field_validator("nodes")
    @classmethod
    def _nodes(cls, nodes: list[str]) -> list[str]:
        problems: list[tuple[str, str]] = []
        seen: dict[str, int] = {}
        for i, node in enumerate(nodes):
            why = _computer_problem(node, "node's computer name")
            if why:
                problems.append((f"[{i}]", why))
                continue
            first = seen.setdefault(node.upper(), i)
            if first != i:
                problems.append(
                    (
                        f"[{i}]",
                        f"{_show(node)} repeats cluster.nodes[{first}] (computer names are case-insensitive): "
                        "list each node once",
                    )
                )
        if len(nodes) < 2:
            problems.append(
                (
                    "",
                    f"lists {len(nodes)} node{'s' if len(nodes) != 1 else ''}; clustering the master secret server "
                    "needs at least two: list every node of the failover cluster, nodes[0] first (it creates the "
                    "SSO system)",
                )
            )
        if problems:
            _fail(problems)
        return nodes

    @model_validator(mode="after")
    def _cluster_rules(self) -> Self:
        if self.network_name.upper() in {n.upper() for n in self.nodes}:
            _fail(
                [
                    (
                        "networkName",
                        f"{_show(self.network_name)} is also a node's name; the Network Name is the role's own "
                        "computer name (e.g. BIZTALKSSO): give the Name of the role's Network Name resource",
                    )
                ]
            )
        return self


class DomainSection(_Model):
    name: str  # NetBIOS domain name, e.g. CONTOSO

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        _check(_domain_problem(value))
        return value


class SsoSection(_Model):
    admin_group: str = DEFAULT_ADMIN_GROUP
    affiliate_admin_group: str = DEFAULT_AFFILIATE_GROUP
    service_account: str  # DOMAIN\user that ENTSSO logs on as
    configuring_account: str  # DOMAIN\user that runs configuration (the WinRM identity)

    @field_validator("admin_group")
    @classmethod
    def _admin_group(cls, value: str) -> str:
        _check(_group_problem(value, DEFAULT_ADMIN_GROUP))
        return value

    @field_validator("affiliate_admin_group")
    @classmethod
    def _affiliate_group(cls, value: str) -> str:
        _check(_group_problem(value, DEFAULT_AFFILIATE_GROUP))
        return value

    @field_validator("service_account", "configuring_account")
    @classmethod
    def _account(cls, value: str) -> str:
        _check(_account_problem(value))
        return value


class DatabaseSection(_Model):
    server: str  # host[\instance][,port]
    name: str = "SSODB"

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        try:
            sql_server_parts(value)
        except ValueError as exc:
            _check(str(exc))
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value:
            _check("is empty: give the SSO database name, e.g. SSODB")
        if _CONTROL.search(value):
            _check(f"{_show(value)} contains a control character: retype the database name")
        if "]" in value:
            _check(f"{_show(value)} contains ']', which breaks SQL quoting: choose a name without it")
        if value != value.strip():
            _check(f"{_show(value)} has leading or trailing spaces: remove them")
        if len(value) > 128:
            _check(f"is {len(value)} characters; a SQL Server database name has at most 128")
        return value


class BackupSection(_Model):
    path: str = ESSO_FOLDER + r"\SSOSecret.bak"  # where node 1 writes the master secret backup
    reminder: str = ""

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        _check(_windows_path_problem(value, ".bak"))
        return value

    @field_validator("reminder")
    @classmethod
    def _reminder(cls, value: str) -> str:
        if _CONTROL.search(value) or len(value) > 256:
            _check("must be one line of at most 256 characters: a hint for the backup password")
        return value


class EscrowSection(_Model):
    kind: Literal["local", "s3"] = "local"
    path: str | None = None  # local: a persistent folder
    bucket: str | None = None
    prefix: str = "esso"
    kms_key_id: str | None = None
    region: str | None = None
    password_secret_id: str | None = None  # Secrets Manager ARN or name holding the backup password

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None:
            _check(_local_path_problem(value))
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        if value is not None:
            _check(_bucket_problem(value))
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        _check(_prefix_problem(value))
        return value

    @field_validator("kms_key_id")
    @classmethod
    def _kms(cls, value: str | None) -> str | None:
        if value is not None and not _KMS_KEY.match(value):
            _check(f"{_show(value)} is not a KMS key reference: give a key ID, a key ARN, alias/<name> or an alias ARN")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.match(value):
            _check(f"{_show(value)} is not an AWS region code: use e.g. eu-west-1 or us-east-1")
        return value

    @field_validator("password_secret_id")
    @classmethod
    def _secret_id(cls, value: str | None) -> str | None:
        if value is not None and not _SECRET_ID.match(value):
            _check(
                f"{_show(value)} is not a Secrets Manager secret name or ARN: use letters, digits and /_+=.@- "
                "(e.g. esso/prod/backup-password) or the secret's ARN"
            )
        return value

    @model_validator(mode="after")
    def _escrow_rules(self) -> Self:
        problems: list[tuple[str, str]] = []
        if self.kind == "local":
            # A missing path is a ClusterSpec rule: the default EscrowSection() must still construct.
            for field in ("bucket", "kms_key_id", "region"):
                if getattr(self, field) is not None:
                    problems.append((to_camel(field), "is only used with escrow.kind: s3: remove it or set kind: s3"))
        else:
            if self.bucket is None:
                problems.append(("bucket", "is required with escrow.kind: s3: give the S3 bucket for the escrow"))
            if self.path is not None:
                problems.append(("path", "is only used with escrow.kind: local: remove it or set kind: local"))
        if problems:
            _fail(problems)
        return self


class TransportSection(_Model):
    """How nodes are reached over WinRM/PSRP. Changing it never replaces a resource."""

    auth: Literal["negotiate", "ntlm", "kerberos", "credssp", "certificate", "basic"] = "negotiate"
    ssl: bool = True
    port: int | None = None  # None: 5986 with ssl, 5985 without
    cert_validation: bool = True
    ca_bundle: str | None = None
    encryption: Literal["auto", "always", "never"] = "auto"
    second_hop: Literal["none", "credssp", "kerberos-delegation"] = "none"
    certificate_pem: str | None = None
    certificate_key_pem: str | None = None
    connect_timeout: float = 30.0
    read_timeout: float = 90.0
    operation_timeout: float = 60.0
    retries: int = 2
    backoff: float = 2.0

    @field_validator("port")
    @classmethod
    def _port(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 65535:
            _check(f"{value} is not a TCP port: use 1-65535 (WinRM listens on 5986 for HTTPS, 5985 for HTTP)")
        return value

    @field_validator("connect_timeout", "read_timeout", "operation_timeout")
    @classmethod
    def _timeout(cls, value: float) -> float:
        if not value > 0 or value != value or value == float("inf"):
            _check(f"{value} is not a positive number of seconds: give e.g. 30")
        return value

    @field_validator("retries")
    @classmethod
    def _retries(cls, value: int) -> int:
        if not 0 <= value <= 10:
            _check(f"{value} is out of range: give 0-10 retries")
        return value

    @field_validator("backoff")
    @classmethod
    def _backoff(cls, value: float) -> float:
        if not 0 <= value <= 60:
            _check(f"{value} is out of range: give 0-60 seconds between retries")
        return value

    @field_validator("ca_bundle", "certificate_pem", "certificate_key_pem")
    @classmethod
    def _file(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or _CONTROL.search(value)):
            _check("is empty or has a control character: give the path of a PEM file, or remove the key")
        return value

    @model_validator(mode="after")
    def _transport_rules(self) -> Self:
        # One rule set with the transport (provider.remote.psrp.validate_transport): provider/remote/transport_rules.py
        from provider.remote.transport_rules import transport_problems

        p = transport_problems(self)
        if p:
            _fail(p)
        return self


class FailoverSection(_Model):
    verify: bool = True  # move the role to every restored node and back (seed restore step 7)


class PolicySection(_Model):
    protect_sso_system: bool = True
    on_destroy: Literal["retain", "remove"] = "retain"


class ClusterSpec(_Model):
    """The whole stack configuration."""

    target: Literal["simulator", "winrm"] = "winrm"
    simulator_state: str | None = None
    cluster: ClusterSection
    domain: DomainSection
    sso: SsoSection
    database: DatabaseSection
    backup: BackupSection = Field(default_factory=BackupSection)
    escrow: EscrowSection = Field(default_factory=EscrowSection)
    transport: TransportSection = Field(default_factory=TransportSection)
    allow_disruption: bool = False
    failover: FailoverSection = Field(default_factory=FailoverSection)
    policy: PolicySection = Field(default_factory=PolicySection)
    service_account_password: SecretStr
    backup_password: SecretStr | None = None  # may come from escrow.passwordSecretId instead
    winrm_password: SecretStr | None = None  # the configuring account's password (not for the simulator)

    @field_validator("simulator_state")
    @classmethod
    def _simulator_state(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or _CONTROL.search(value)):
            _check("is empty or has a control character: give the simulator's state file, e.g. .state/demo-world.json")
        return value

    @field_validator("service_account_password")
    @classmethod
    def _service_password(cls, value: SecretStr) -> SecretStr:
        _check(_password_problem("serviceAccountPassword", value, 256))
        return value

    @field_validator("backup_password")
    @classmethod
    def _backup_password(cls, value: SecretStr | None) -> SecretStr | None:
        _check(_password_problem("backupPassword", value, None))
        return value

    @field_validator("winrm_password")
    @classmethod
    def _winrm_password(cls, value: SecretStr | None) -> SecretStr | None:
        _check(_password_problem("winrmPassword", value, None))
        return value

    @model_validator(mode="after")
    def _spec_rules(self, info: ValidationInfo) -> Self:
        allow_missing = bool((info.context or {}).get("allow_missing_secrets"))
        problems = _root_problems({name: getattr(self, name) for name in type(self).model_fields}, allow_missing)
        if problems:
            _fail(problems)
        return self

    # ---- helpers other modules call ----------------------------------------------------------
    @property
    def first_node(self) -> str:
        """nodes[0]: creates the SSO system and owns the role at the end of every run."""
        return self.cluster.nodes[0]

    @property
    def other_nodes(self) -> list[str]:
        """The nodes that join the SSO system and restore the master secret, in order."""
        return list(self.cluster.nodes[1:])

    def qualified(self, group: str) -> str:
        r"""``CONTOSO\SSO Administrators`` from ``SSO Administrators`` (an already qualified name is kept)."""
        return group if "\\" in group else f"{self.domain.name}\\{group}"

    @staticmethod
    def sam(account: str) -> str:
        r"""The user part of ``DOMAIN\user``."""
        return sam(account)

    def node_address(self, node: str) -> str:
        """The host name WinRM connects to: ``node.dnsSuffix`` when cluster.dnsSuffix is set."""
        suffix = self.cluster.dns_suffix
        return f"{node}.{suffix}" if suffix else node


def _root_problems(v: Mapping[str, Any], allow_missing: bool) -> list[tuple[str, str]]:
    """Rules across sections. ``v`` maps field names to validated values; a field that failed is absent."""
    p: list[tuple[str, str]] = []
    target = v.get("target")
    if target == "simulator" and "simulator_state" in v and v["simulator_state"] is None:
        p.append(
            (
                "simulatorState",
                "is required with target: simulator: give the simulator's state file, e.g. .state/demo-world.json "
                "(relative to the project directory)",
            )
        )
    if target == "winrm" and v.get("simulator_state") is not None:
        p.append(("simulatorState", "is only used with target: simulator: remove it"))
    transport = v.get("transport")
    if (
        target == "winrm"
        and "winrm_password" in v
        and v["winrm_password"] is None
        and isinstance(transport, TransportSection)
        and transport.auth != "certificate"
        and not allow_missing
    ):
        p.append(
            (
                "winrmPassword",
                "is required with target: winrm (it is sso.configuringAccount's password, the WinRM logon): run "
                "`pulumi config set --secret winrmPassword`, or use transport.auth: certificate",
            )
        )
    sso = v.get("sso")
    if isinstance(transport, TransportSection) and isinstance(sso, SsoSection):
        from provider.remote.transport_rules import account_problems  # the transport applies it too

        p += [(f"transport.{key}", why) for key, why in account_problems(transport, sso.configuring_account)]
    escrow = v.get("escrow")
    if (
        "backup_password" in v
        and v["backup_password"] is None
        and isinstance(escrow, EscrowSection)
        and escrow.password_secret_id is None
        and not allow_missing
    ):
        p.append(
            (
                "backupPassword",
                "is required to back up the master secret: run `pulumi config set --secret backupPassword`, or set "
                "escrow.passwordSecretId to a Secrets Manager secret that holds it",
            )
        )
    if isinstance(escrow, EscrowSection) and escrow.kind == "local" and escrow.path is None:
        p.append(
            (
                "escrow.path",
                "is required with escrow.kind: local (the default): give a persistent folder for the master secret "
                "backup (absolute, or relative to the project directory), or use escrow.kind: s3",
            )
        )
    if (
        target == "winrm"
        and isinstance(escrow, EscrowSection)
        and escrow.kind == "local"
        and escrow.path is not None
        and _is_temporary(escrow.path)
    ):
        p.append(
            (
                "escrow.path",
                f"{_show(escrow.path)} is a temporary folder; the master secret backup must outlive the machine's "
                "clean-ups: choose a folder that is kept and backed up, or escrow.kind: s3 (only the simulator "
                "target may use a temporary escrow)",
            )
        )
    domain = v.get("domain")
    sso = v.get("sso")
    if isinstance(domain, DomainSection) and isinstance(sso, SsoSection):
        for key, account in (("serviceAccount", sso.service_account), ("configuringAccount", sso.configuring_account)):
            account_domain, user = split_account(account)
            if account_domain.upper() != domain.name.upper():
                p.append(
                    (
                        f"sso.{key}",
                        f"{_show(account)} is in domain {_show(account_domain)} but domain.name is "
                        f"{_show(domain.name)}: the SSO groups and accounts live in one domain; write "
                        f"{domain.name}\\{user}, or correct domain.name",
                    )
                )
    backup = v.get("backup")
    password = v.get("backup_password")
    if isinstance(backup, BackupSection) and isinstance(password, SecretStr) and backup.reminder:
        secret = password.get_secret_value()
        if secret and secret.lower() in backup.reminder.lower():
            p.append(("backup.reminder", "contains backupPassword: write a hint that does not give the password away"))
    return p


# ------------------------------------------------------------------------------------------ keys

_FIELDS = ClusterSpec.model_fields
CONFIG_KEYS: tuple[str, ...] = tuple(to_camel(name) for name in _FIELDS)
SECRET_KEYS: tuple[str, ...] = ("serviceAccountPassword", "backupPassword", "winrmPassword")
SECTION_KEYS: tuple[str, ...] = tuple(
    to_camel(name)
    for name, f in _FIELDS.items()
    if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)
)
_STAND_IN = "Stand-in-for-an-encrypted-value-1"  # passes every password rule; never a real secret

_MISSING_HINTS = {
    "cluster": "the failover cluster: networkName, role and nodes",
    "domain": "the domain: name (NetBIOS), e.g. CONTOSO",
    "sso": "the SSO accounts: serviceAccount and configuringAccount as DOMAIN\\user",
    "database": "the SSO database: server as host[\\instance][,port] (name defaults to SSODB)",
    "cluster.networkName": "the Name of the role's Network Name resource, e.g. BIZTALKSSO",
    "cluster.role": "the cluster role that has an IP Address and a Network Name",
    "cluster.nodes": "the list of cluster nodes, nodes[0] first",
    "domain.name": "the NetBIOS domain name, e.g. CONTOSO",
    "sso.serviceAccount": "the account ENTSSO logs on as, e.g. CONTOSO\\svc-entsso",
    "sso.configuringAccount": "the account that runs the configuration, e.g. CONTOSO\\esso-config",
    "database.server": "the SQL Server as host[\\instance][,port], e.g. SQL01",
}


def _key(loc: Sequence[str | int], sub: str = "") -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    if sub:
        out += sub if (sub.startswith("[") or not out) else f".{sub}"
    return out


def _model_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    model: type[BaseModel] = ClusterSpec
    for part in loc:
        if isinstance(part, int):
            continue
        names = {to_camel(n): f for n, f in model.model_fields.items()} | dict(model.model_fields)
        field = names.get(part)
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return None
        model = field.annotation
    return model


def _unknown_key_message(key: str, known: Sequence[str], where: str) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    snake = to_camel(key) if key != to_camel(key) and to_camel(key) in known else None
    guess = snake or (close[0] if close else None)
    hint = f"did you mean {guess}? " if guess else ""
    return f"is not a known key of {where}: {hint}known keys are {', '.join(known)}"


def _friendly(err: Mapping[str, Any]) -> list[Problem]:
    loc: tuple[str | int, ...] = tuple(err.get("loc", ()))
    kind = str(err.get("type", ""))
    key = _key(loc)
    ctx = err.get("ctx") or {}
    if kind == _RULES:
        return [Problem(_key(loc, sub), msg) for sub, msg in ctx.get("problems", ())]
    if kind == "missing":
        if key in SECRET_KEYS:
            return [Problem(key, f"is not set: run `pulumi config set --secret {key}`")]
        hint = _MISSING_HINTS.get(key, "")
        where = (
            f"add esso-cluster:{key} to the stack file"
            if len(loc) == 1
            else f"add {loc[-1]} under esso-cluster:{_key(loc[:-1])}"
        )
        return [Problem(key, f"is required: {where}" + (f" ({hint})" if hint else ""))]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = [to_camel(n) for n in model.model_fields] if model else []
        where = f"esso-cluster:{_key(loc[:-1])}" if len(loc) > 1 else PROJECT
        return [Problem(key, _unknown_key_message(str(loc[-1]), known, where))]
    if kind == "literal_error":
        return [Problem(key, f"must be {ctx.get('expected', 'one of the documented values')}")]
    if kind in ("bool_type", "bool_parsing"):
        return [Problem(key, "must be true or false")]
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return [Problem(key, "must be a whole number")]
    if kind in ("float_type", "float_parsing", "finite_number"):
        return [Problem(key, "must be a number (seconds)")]
    if kind == "string_type":
        found = err.get("input")
        if key in SECRET_KEYS:
            return [Problem(key, "must be text: run `pulumi config set --secret " + key + "`")]
        quote = " (quote it in YAML)" if isinstance(found, int | float | bool) else ""
        return [Problem(key, f"must be text{quote}")]
    if kind == "list_type":
        return [Problem(key, "must be a list (a YAML sequence), e.g. [SSO01, SSO02]")]
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return [Problem(key, f"must be a mapping (a YAML object with keys under esso-cluster:{key})")]
    msg = str(err.get("msg", "is invalid"))
    return [Problem(key, msg.removeprefix("Value error, "))]


def problems_of(error: ValidationError, *, prefix: str = "") -> list[Problem]:
    """The Problems of a ValidationError of ClusterSpec, or of one section with ``prefix`` (e.g. "transport")."""
    root: tuple[str, ...] = tuple(prefix.split(".")) if prefix else ()
    out: list[Problem] = []
    for err in error.errors(include_url=False, include_input=True, include_context=True):
        for problem in _friendly({**err, "loc": root + tuple(err.get("loc", ()))}):
            if problem not in out:
                out.append(problem)
    return out


# ------------------------------------------------------------------------------------------ loading


_SECURE = "secure"


def _is_secure(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {_SECURE} and isinstance(value[_SECURE], str)


@dataclass
class _Loaded:
    data: dict[str, Any]
    problems: list[Problem]
    masked: set[str]  # keys whose values were encrypted (stand-ins offline, or undecrypted): not judged
    secrets: list[str]  # secret values seen, redacted from every message as a last guard


def _strip_prefix(key: str) -> tuple[str | None, str]:
    namespace, sep, name = key.rpartition(":")
    return (namespace if sep else None), name


def _prepare(
    config: Mapping[str, Any],
    secrets: Mapping[str, str] | None,
    *,
    stack_file: bool,
    stand_ins: bool,
    allow_missing: bool,
) -> _Loaded:
    problems: list[Problem] = []
    data: dict[str, Any] = {}
    masked: set[str] = set()
    seen_secrets: list[str] = []
    for raw_key, value in config.items():
        if not isinstance(raw_key, str):
            problems.append(Problem(str(raw_key), "is not a config key: keys are text, esso-cluster:<key>"))
            continue
        namespace, name = _strip_prefix(raw_key)
        if namespace is not None and namespace != PROJECT:
            if name in CONFIG_KEYS:
                problems.append(
                    Problem(raw_key, f"uses namespace {_show(namespace)}: this project's keys are {PROJECT}:{name}")
                )
            continue  # another package's key (aws:region, pulumi:...)
        if namespace is None and stack_file and name in CONFIG_KEYS:
            problems.append(Problem(name, f"must be written {PROJECT}:{name} in a stack file"))
        if name not in CONFIG_KEYS:
            problems.append(Problem(name, _unknown_key_message(name, CONFIG_KEYS, PROJECT)))
            continue
        if name in data:
            problems.append(Problem(name, f"is set twice (with and without {PROJECT}:): keep one"))
            continue
        if stack_file and name in SECRET_KEYS and value is not None and value != "" and not _is_secure(value):
            problems.append(
                Problem(
                    name,
                    f"is in plain text in the stack file; Pulumi.yaml declares it secret: remove the line and run "
                    f"`pulumi config set --secret {name}`",
                )
            )
        data[name] = value

    nested_secrets: dict[str, str] = {}
    for raw_key, value in (secrets or {}).items():
        _, name = _strip_prefix(raw_key)
        top = re.split(r"[.\[]", name, maxsplit=1)[0]
        if top not in CONFIG_KEYS:
            problems.append(Problem(name, "(in secrets) " + _unknown_key_message(top, CONFIG_KEYS, PROJECT)))
            continue
        seen_secrets.append(value)
        if name == top:
            data[name] = value
        else:
            nested_secrets[name] = value

    def resolve(path: str, value: Any) -> Any:
        if _is_secure(value):
            if path in nested_secrets:
                return nested_secrets[path]
            masked.add(path)
            if stand_ins:
                return _STAND_IN
            problems.append(
                Problem(
                    path,
                    "is encrypted in the stack file (secure: v1:...): let Pulumi decrypt it (pulumi preview/up), "
                    f"or pass its value: load_stack_file(path, secrets={{'{path}': ...}})",
                )
            )
            return None
        if isinstance(value, Mapping):
            return {k: resolve(f"{path}.{k}", v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(f"{path}[{i}]", v) for i, v in enumerate(value)]
        return value

    out: dict[str, Any] = {}
    for name, value in data.items():
        if value is None or value == "":
            continue  # unset: Pulumi.yaml's empty defaults, or a bare `key:` in YAML
        value = resolve(name, value)
        if value is None:
            continue
        if name in SECTION_KEYS and isinstance(value, str):
            if name in masked:
                continue  # an encrypted section cannot be judged offline
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                problems.append(
                    Problem(
                        name,
                        f"is text that is not a JSON object ({exc.msg} at character {exc.pos}): write it as a YAML "
                        f"mapping under {PROJECT}:{name}, or set it with `pulumi config set --path {name}.<key> ...`",
                    )
                )
                continue
        if name in SECRET_KEYS and isinstance(value, str):
            seen_secrets.append(value)
        out[name] = value

    if allow_missing and "serviceAccountPassword" not in out:
        out["serviceAccountPassword"] = _STAND_IN
        masked.add("serviceAccountPassword")
    return _Loaded(out, problems, masked, seen_secrets)


def _partial_problems(data: Mapping[str, Any], allow_missing: bool) -> list[Problem]:
    """Cross-section rules over the sections that validate on their own (the model skips them on any error)."""
    values: dict[str, Any] = {}
    for name, field in _FIELDS.items():
        alias = to_camel(name)
        if alias not in data and name not in data:
            if not field.is_required():
                with contextlib.suppress(ValidationError):
                    values[name] = field.get_default(call_default_factory=True)
            continue
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(field.annotation if field.annotation is not None else Any)
            values[name] = adapter.validate_python(data.get(alias, data.get(name)))
        except ValidationError:
            continue
    return [Problem(sub, msg) for sub, msg in _root_problems(values, allow_missing)]


def _redact(problems: Sequence[Problem], secrets: Sequence[str]) -> list[Problem]:
    out: list[Problem] = []
    for p in problems:
        message = p.message
        for secret in secrets:
            if len(secret) >= 4 and secret in message:
                message = message.replace(secret, "[secret]")
        out.append(Problem(p.key, message))
    return out


def _covered(key: str, masked: set[str]) -> bool:
    return any(key == m or key.startswith((f"{m}.", f"{m}[")) for m in masked)


def _validate(loaded: _Loaded, allow_missing: bool) -> tuple[ClusterSpec | None, list[Problem]]:
    spec: ClusterSpec | None = None
    found: list[Problem] = []
    try:
        spec = ClusterSpec.model_validate(loaded.data, context={"allow_missing_secrets": allow_missing})
    except ValidationError as exc:
        found = problems_of(exc)
        found += [p for p in _partial_problems(loaded.data, allow_missing) if p not in found]
    # A value that was encrypted (a stand-in offline, or one left undecrypted) is not judged again.
    problems = list(loaded.problems) + [p for p in found if not _covered(p.key, loaded.masked)]
    return (spec if not problems else None), _redact(problems, loaded.secrets)


def load_spec(config: Mapping[str, Any], secrets: Mapping[str, str] | None = None) -> ClusterSpec:
    """Validate a configuration mapping into a ClusterSpec, or raise SpecError (ESSO-040) naming every key.

    ``config`` is a stack file's ``config:`` mapping (``esso-cluster:<key>``; other namespaces are ignored)
    or un-prefixed keys. Section values may be mappings or JSON text. Values written ``{secure: ...}`` need
    their decrypted value in ``secrets`` (``{"serviceAccountPassword": "..."}``; a nested one by its dotted
    key); ``secrets`` also supplies keys the mapping lacks.
    """
    loaded = _prepare(config, secrets, stack_file=False, stand_ins=False, allow_missing=False)
    spec, problems = _validate(loaded, allow_missing=False)
    if spec is None:
        raise SpecError(problems)
    return spec


def load_spec_from_strings(values: Mapping[str, str]) -> ClusterSpec:
    """What a dynamic provider's ``configure()`` receives: un-prefixed keys, JSON (sections) or plain strings."""
    return load_spec(values)


def _read_stack_file(path: str | Path) -> tuple[Mapping[str, Any] | None, list[Problem]]:
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        return None, [Problem(where, f"cannot be read ({exc.strerror or exc}): check the path")]
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
    loaded = _prepare(config, secrets, stack_file=True, stand_ins=False, allow_missing=False)
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
    loaded = _prepare(config, None, stack_file=True, stand_ins=True, allow_missing=allow_missing_secrets)
    return _validate(loaded, allow_missing=allow_missing_secrets)[1]


# ------------------------------------------------------------------------------------------ CLI


def main(argv: Sequence[str] | None = None, *, out: Callable[[str], None] = print) -> int:
    """``python -m provider.spec check [--allow-missing-secrets] FILE...``: 0 when every file is valid."""
    parser = argparse.ArgumentParser(prog="python -m provider.spec", description="Validate esso-cluster stack files.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate stack files offline (no Pulumi CLI, no decryption)")
    check.add_argument("files", nargs="+", metavar="FILE", help="stacks/Pulumi.<stack>.yaml")
    check.add_argument(
        "--allow-missing-secrets",
        action="store_true",
        help="accept absent password keys (they are set with `pulumi config set --secret` at run time)",
    )
    args = parser.parse_args(argv)
    status = 0
    for file in args.files:
        problems = check_stack_file(file, allow_missing_secrets=args.allow_missing_secrets)
        if problems:
            status = 1
            for problem in problems:
                out(str(problem))
            print(f"ESSO-040 {file}: {len(problems)} problem(s); fix each key as the message says", file=sys.stderr)
        else:
            out(f"ok: {file}")
    return status


if __name__ == "__main__":
    sys.exit(main())
