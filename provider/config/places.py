"""Where things live: the SQL Server and its database, Windows paths, the escrow folder, AWS names.

Why these rules: each address is used far from where it is written (a node connects to SQL Server, a
script writes the backup file, boto3 calls S3), so a malformed one must fail the offline check with the
fix. Each ``*_problem`` function returns why a value is unusable (never naming the key), or None.
Sources: SQL Server's ``host[\\instance][,port]`` server syntax and instance-name rules (SQL Server
Configuration Manager; "Database identifiers" for the 128-character name); Windows ``MAX_PATH`` and the
characters a file name cannot hold ("Naming Files, Paths, and Namespaces"); the S3 "General purpose
bucket naming rules"; the KMS key-id, region and Secrets Manager name formats.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from pathlib import Path

from provider.config.names import computer_problem, dns_problem
from provider.config.problems import control_problem, quoted

ESSO_FOLDER = r"C:\Program Files\Common Files\Enterprise Single Sign-On"
"""Where Enterprise SSO is installed on every node; the default backup file is written here."""

_INSTANCE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,15}$")
_LOCAL_HOSTS = {".", "(local)", "localhost", "127.0.0.1", "::1", "(localdb)"}
_WIN_FORBIDDEN = '<>:"|?*'
# Temporary folders an escrow must not use: names to refuse, never places this module writes to.
_TEMP_PARTS = ("\\temp\\", "\\tmp\\", "/tmp/", "/var/tmp/", "%temp%", "%tmp%", "\\appdata\\local\\temp")  # noqa: S108
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_KMS_KEY = re.compile(
    r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|alias/[A-Za-z0-9/_-]{1,250}"
    r"|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(?:key/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|mrk-[0-9a-f]{32})|alias/[A-Za-z0-9/_-]{1,250}))$"
)
# S3 "Object key naming guidelines", safe characters: letters, digits and ! - _ . * ' ( ), with "/" between parts.
_PREFIX_SAFE = re.compile(r"[A-Za-z0-9!\-_.*'()/]*")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$")
_SECRET_ID = re.compile(
    r"^(?:[A-Za-z0-9/_+=.@-]{1,512}|arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512})$"
)

# ------------------------------------------------------------------------------------------ SQL Server


def sql_server_parts(server: str) -> tuple[str, str | None, int | None]:
    r"""``("SQL01", "BTS", 1433)`` from ``SQL01\BTS,1433``; raises ValueError with the fix."""
    if not server or not server.strip():
        raise ValueError("is empty: give the SQL Server as host[\\instance][,port], e.g. SQL01 or SQL01\\BTS,1433")
    if why := control_problem(server, "SQL Server"):
        raise ValueError(why)
    if any(c.isspace() for c in server):
        raise ValueError(f"{quoted(server)} contains a space: write host[\\instance][,port] without spaces")
    prefix = re.match(r"^(tcp|np|lpc|admin):", server, re.IGNORECASE)
    if prefix:
        raise ValueError(
            f"{quoted(server)} has a protocol prefix {quoted(prefix.group(0))}: drop it and write "
            "host[\\instance][,port]"
        )
    rest, comma, port_text = server.partition(",")
    port: int | None = None
    if comma:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"{quoted(server)} has port {quoted(port_text)}: the port after the comma must be 1-65535")
        port = int(port_text)
    host, backslash, instance_text = rest.partition("\\")
    instance: str | None = None
    if backslash:
        if "\\" in instance_text:
            raise ValueError(f"{quoted(server)} has more than one backslash: write host[\\instance][,port]")
        if instance_text.upper() == "MSSQLSERVER":
            raise ValueError(f"{quoted(server)} names the default instance: write the host alone, e.g. {quoted(host)}")
        if not _INSTANCE.match(instance_text) or instance_text.upper() == "DEFAULT":
            raise ValueError(
                f"{quoted(server)} has instance name {quoted(instance_text)}; an instance name has 1-16 letters, "
                "digits, _ or $ and starts with a letter or _: use the instance as SQL Server Configuration "
                "Manager shows it"
            )
        instance = instance_text
    if not host:
        raise ValueError(f"{quoted(server)} has no host: write host[\\instance][,port], e.g. SQL01\\BTS")
    if host.lower() in _LOCAL_HOSTS:
        raise ValueError(
            f"{quoted(server)} names the local machine, which differs on every node: give the SQL Server's "
            "name (or its availability group listener) that every node reaches"
        )
    if ":" in host:
        raise ValueError(f"{quoted(server)} uses an IPv6 address: give the SQL Server's DNS name instead")
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(
                f"{quoted(host)} is not a valid IPv4 address: give four numbers 0-255 or a DNS name"
            ) from None
        return host, instance, port
    why = dns_problem(host, "SQL Server host name") if "." in host else computer_problem(host, "SQL Server name")
    if why:
        raise ValueError(f"the host {why}")
    return host, instance, port


def sql_server_problem(value: str) -> str | None:
    """Why ``value`` is not a SQL Server every node can reach as ``host[\\instance][,port]``."""
    try:
        sql_server_parts(value)
    except ValueError as exc:
        return str(exc)
    return None


def database_name_problem(value: str) -> str | None:
    """Why ``value`` cannot be the SSO database's name (the scripts quote it in ``[...]``)."""
    if not value:
        return "is empty: give the SSO database name, e.g. SSODB"
    if why := control_problem(value, "database name"):
        return why
    if "]" in value:
        return f"{quoted(value)} contains ']', which breaks SQL quoting: choose a name without it"
    if value != value.strip():
        return f"{quoted(value)} has leading or trailing spaces: remove them"
    if len(value) > 128:
        return f"is {len(value)} characters; a SQL Server database name has at most 128"
    return None


# ------------------------------------------------------------------------------------------ paths


def windows_path_problem(value: str, suffix: str | None) -> str | None:
    """Why ``value`` is not an absolute Windows path (drive or UNC) ending in ``suffix`` (e.g. ".bak")."""
    example = rf"{ESSO_FOLDER}\SSOSecret.bak"
    if not value:
        return f"is empty: give an absolute Windows path, e.g. {example}"
    if why := control_problem(value, "path"):
        return why
    if "/" in value:
        return f"{quoted(value)} uses '/': Windows paths use backslashes, e.g. {example}"
    if "%" in value:
        return f"{quoted(value)} contains '%': environment variables are not expanded; write the full path"
    if value.startswith("\\\\"):
        parts = value[2:].split("\\")
        if len(parts) < 3 or not parts[0] or not parts[1]:
            return f"{quoted(value)} is not a complete UNC path: write \\\\server\\share\\folder\\file{suffix or ''}"
        names = parts
    elif re.match(r"^[A-Za-z]:\\", value):
        names = value[3:].split("\\")
    else:
        return (
            f"{quoted(value)} is not an absolute Windows path: start with a drive letter (D:\\...) or a UNC "
            f"share (\\\\server\\share\\...), e.g. {example}"
        )
    for name in names:
        if not name:
            return f"{quoted(value)} has an empty folder name (two backslashes in a row or a trailing backslash)"
        bad = "".join(sorted({c for c in name if c in _WIN_FORBIDDEN}))
        if bad:
            return f'{quoted(value)} contains {quoted(bad)}; Windows names cannot contain any of < > : " | ? *'
        if name.endswith((" ", ".")):
            return f"{quoted(value)} has a name ending in a space or a period, which Windows drops: remove it"
    if len(value) > 260:
        return f"is {len(value)} characters; keep the path within 260 (MAX_PATH)"
    if suffix and not value.lower().endswith(suffix):
        return f"{quoted(value)} must name a {suffix} file (ssoconfig -backupsecret writes one), e.g. {example}"
    return None


def local_folder_problem(value: str) -> str | None:
    """Why ``value`` cannot name the escrow's folder on the machine that runs Pulumi."""
    if not value.strip():
        return "is empty: give a persistent folder for the escrowed backup (absolute, or relative to the project)"
    if why := control_problem(value, "path"):
        return why
    return None


def _temp_roots() -> list[Path]:
    candidates = {tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"}  # noqa: S108 - refused, not used
    candidates.update(v for k in ("TMPDIR", "TEMP", "TMP") if (v := os.environ.get(k)))
    return [Path(os.path.realpath(c)) for c in sorted(candidates)]


def temporary_folder(path: str, *, on_this_machine: bool = False) -> str | None:
    """The temporary folder that holds ``path``, or None: the one rule for "a backup must not live in temp".

    By name always (``\\Temp\\``, ``/tmp/``, ``%TEMP%``, ...), which the offline check can judge on any
    machine. With ``on_this_machine`` also by real location: ``path`` resolved (symlinks followed) inside
    this machine's temporary roots (``tempfile.gettempdir()``, TMPDIR, TEMP, TMP, /tmp, /var/tmp, /dev/shm),
    which a local escrow on the machine running Pulumi needs.
    """
    lowered = path.lower()
    probe = lowered if lowered.endswith(("/", "\\")) else lowered + ("\\" if "\\" in lowered else "/")
    for part in _TEMP_PARTS:
        at = probe.find(part)
        if at >= 0:
            return path[: at + len(part)].rstrip("/\\")
    if on_this_machine:
        real = Path(os.path.realpath(path))
        for root in _temp_roots():
            if real == root or real.is_relative_to(root):
                return str(root)
    return None


# ------------------------------------------------------------------------------------------ AWS names


def bucket_problem(value: str) -> str | None:
    """Why ``value`` is not an S3 general purpose bucket name."""
    rules = (
        "S3 bucket names have 3-63 lowercase letters, digits, dots or hyphens and start and end with a letter or digit"
    )
    if value != value.lower():
        return (
            f"{quoted(value)} has capital letters; S3 bucket names are lowercase: "
            f"use {quoted(value.lower().replace('_', '-'))}"
        )
    if "_" in value:
        return f"{quoted(value)} contains '_'; {rules}: use hyphens"
    if not _BUCKET.match(value):
        return f"{quoted(value)} is not a valid bucket name; {rules}"
    if ".." in value:
        return f"{quoted(value)} has two adjacent periods, which S3 refuses"
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value):
        return f"{quoted(value)} looks like an IP address, which S3 refuses as a bucket name"
    if value.startswith(_BUCKET_PREFIXES) or value.endswith(_BUCKET_SUFFIXES):
        return f"{quoted(value)} uses a prefix or suffix that S3 reserves (xn--, sthree-, -s3alias, --ol-s3, ...)"
    return None


def key_prefix_problem(value: str) -> str | None:
    """Why ``value`` is not an S3 key prefix written without leading or trailing slashes."""
    if value.startswith("/") or value.endswith("/"):
        return (
            f"{quoted(value)} starts or ends with '/': write the key prefix without them, "
            f"e.g. {quoted(value.strip('/'))}"
        )
    if "//" in value:
        return f"{quoted(value)} contains '//': separate the parts of the prefix with a single '/'"
    if "\\" in value:
        return f"{quoted(value)} contains a backslash: S3 key prefixes use '/'"
    if why := control_problem(value, "prefix"):
        return why
    if not _PREFIX_SAFE.fullmatch(value):
        bad = "".join(sorted({c for c in value if not _PREFIX_SAFE.fullmatch(c)}))
        return (
            f"{quoted(value)} contains {quoted(bad)}; keep the key prefix to the characters S3 calls safe "
            "(letters, digits and ! - _ . * ' ( ), with '/' between parts), so every tool shows it as written"
        )
    if value and any(part in (".", "..") for part in value.split("/")):
        return (
            f"{quoted(value)} has a '.' or '..' part, which some tools resolve as a folder step, so two prefixes "
            "that read differently could name the same objects: write each part as a name"
        )
    if len(value) > 512:
        return f"is {len(value)} characters; keep the key prefix within 512"
    return None


def kms_key_problem(value: str) -> str | None:
    """Why ``value`` is not a KMS key ID, key ARN, alias or alias ARN."""
    if _KMS_KEY.match(value):
        return None
    return f"{quoted(value)} is not a KMS key reference: give a key ID, a key ARN, alias/<name> or an alias ARN"


def region_problem(value: str) -> str | None:
    """Why ``value`` is not an AWS region code."""
    if _REGION.match(value):
        return None
    return f"{quoted(value)} is not an AWS region code: use e.g. eu-west-1 or us-east-1"


def secret_id_problem(value: str) -> str | None:
    """Why ``value`` is not a Secrets Manager secret name or ARN."""
    if _SECRET_ID.match(value):
        return None
    return (
        f"{quoted(value)} is not a Secrets Manager secret name or ARN: use letters, digits and /_+=.@- "
        "(e.g. esso/prod/backup-password) or the secret's ARN"
    )
