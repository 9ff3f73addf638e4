"""Each field rule written once, as a type: the stack model and the resources' inputs annotate with these.

Why types: a rule that is a type cannot be forgotten by a second model. ``ClusterSpec`` (the stack file)
and the providers' ``Inputs`` (what ``check()`` validates) both say ``nodes: ClusterNodes`` and get the
same rule and the same message; the rule functions themselves live in ``names`` and ``places``.
Every type raises the one rule error (``problems.RULES``), which ``translation.problems_of`` turns into
a Problem at the field's dotted key.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Callable
from typing import Annotated, TypeVar

from pydantic import AfterValidator, SecretStr

from provider.config.names import (
    account_problem,
    computer_problem,
    dns_problem,
    domain_problem,
    group_problem,
    text_problem,
)
from provider.config.places import (
    bucket_problem,
    database_name_problem,
    key_prefix_problem,
    kms_key_problem,
    local_folder_problem,
    region_problem,
    secret_id_problem,
    sql_server_problem,
    windows_path_problem,
)
from provider.config.problems import CONTROL, fail, hidden_character, quoted, raise_if

DEFAULT_ADMIN_GROUP = "SSO Administrators"
DEFAULT_AFFILIATE_GROUP = "SSO Affiliate Administrators"
DEFAULT_RESOURCE_NAME = "Enterprise Single Sign-On Service"

_Value = TypeVar("_Value")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _rule(problem: Callable[[_Value], str | None]) -> AfterValidator:
    """A pydantic validator that raises ``problem``'s message as the field's rule error."""

    def validate(value: _Value) -> _Value:
        raise_if(problem(value))
        return value

    return AfterValidator(validate)


# ------------------------------------------------------------------------------------------ the cluster

_NODE = "node's computer name"

NodeName = Annotated[str, _rule(lambda value: computer_problem(value, _NODE))]
"""One cluster node: its NetBIOS computer name as Windows shows it (the DNS suffix is cluster.dnsSuffix)."""


def cluster_nodes_problems(nodes: list[str]) -> list[tuple[str, str]]:
    """Every problem of a node list, as (``[i]`` or "", message): names, repeats, and at least two nodes."""
    problems: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for index, node in enumerate(nodes):
        why = computer_problem(node, _NODE)
        if why:
            problems.append((f"[{index}]", why))
            continue
        first = seen.setdefault(node.upper(), index)
        if first != index:
            problems.append(
                (
                    f"[{index}]",
                    f"{quoted(node)} repeats cluster.nodes[{first}] (computer names are case-insensitive): "
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
    return problems


def _cluster_nodes(nodes: list[str]) -> list[str]:
    problems = cluster_nodes_problems(nodes)
    if problems:
        fail(problems)
    return nodes


ClusterNodes = Annotated[list[str], AfterValidator(_cluster_nodes)]
"""The failover cluster's nodes: NetBIOS computer names, each once, at least two; nodes[0] creates the system."""

NetworkName = Annotated[
    str, _rule(lambda value: computer_problem(value, "Network Name (the Name of the role's Network Name resource)"))
]
"""The Name of the role's Network Name resource: a NetBIOS computer name, the secret server name."""

RoleName = Annotated[
    str, _rule(lambda value: text_problem(value, "cluster role name (as Failover Cluster Manager shows it)"))
]
ResourceName = Annotated[str, _rule(lambda value: text_problem(value, "cluster resource name"))]
DnsSuffix = Annotated[str, _rule(lambda value: dns_problem(value, "DNS suffix"))]

# ------------------------------------------------------------------------------------------ the domain

NetbiosDomain = Annotated[str, _rule(domain_problem)]
"""A NetBIOS (pre-Windows 2000) domain name, e.g. CONTOSO."""

DomainAccount = Annotated[str, _rule(account_problem)]
r"""A domain account written DOMAIN\user."""

AdminGroupName = Annotated[str, _rule(lambda value: group_problem(value, DEFAULT_ADMIN_GROUP))]
AffiliateAdminGroupName = Annotated[str, _rule(lambda value: group_problem(value, DEFAULT_AFFILIATE_GROUP))]

# ------------------------------------------------------------------------------------------ SQL Server, files

SqlServer = Annotated[str, _rule(sql_server_problem)]
r"""A SQL Server every node reaches: host[\instance][,port]."""

DatabaseName = Annotated[str, _rule(database_name_problem)]
WindowsBackupPath = Annotated[str, _rule(lambda value: windows_path_problem(value, ".bak"))]
"""An absolute Windows path (drive or UNC) to a .bak file, as ssoconfig -backupsecret writes it."""


def _reminder_problem(value: str) -> str | None:
    if CONTROL.search(value) or len(value) > 256:
        return "must be one line of at most 256 characters: a hint for the backup password"
    if hidden := hidden_character(value):
        return f"contains {hidden}, an invisible or text-reordering character: retype the hint without it"
    return None


PasswordReminder = Annotated[str, _rule(_reminder_problem)]

# How much of the password a hint may share with it, in a row (ignoring case, spacing and punctuation):
# less than two thirds of it (and a run under four characters is never judged).
_SHARED_RUN_FLOOR = 4


def _forms(text: str) -> tuple[str, str]:
    """``text`` compared as people retype it: NFKC, case-folded, without spaces; and letters and digits only."""
    folded = "".join(unicodedata.normalize("NFKC", text).casefold().split())
    return folded, "".join(c for c in folded if c.isalnum())


def _longest_shared_run(a: str, b: str) -> int:
    """The length of the longest substring of ``a`` that is also in ``b`` (``difflib``, no junk heuristic)."""
    return difflib.SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size


def reminder_gives_away(reminder: str, password: str) -> bool:
    """Whether a backup password hint gives the password away (issue 13, L8).

    Compared in any case and spacing, with and without punctuation, forwards and reversed: the hint may not
    hold the password, nor a run of its characters as long as two thirds of it (at least four). The password
    itself never reaches a message: the caller says only that the hint is too close.
    """
    for secret, hint in zip(_forms(password), _forms(reminder), strict=True):
        if not secret:
            continue
        if secret in hint or secret[::-1] in hint:
            return True
        run = max(_SHARED_RUN_FLOOR, math.ceil(len(secret) * 2 / 3))
        if len(secret) >= _SHARED_RUN_FLOOR and max(
            _longest_shared_run(secret, hint), _longest_shared_run(secret[::-1], hint)
        ) >= min(run, len(secret)):
            return True
    return False


def _file_problem(value: str) -> str | None:
    if not value.strip() or CONTROL.search(value) or hidden_character(value):
        return "is empty or has a control or invisible character: give the path of a PEM file, or remove the key"
    return None


PemFile = Annotated[str, _rule(_file_problem)]


def _state_file_problem(value: str) -> str | None:
    if not value.strip() or CONTROL.search(value) or hidden_character(value):
        return (
            "is empty or has a control or invisible character: give the simulator's state file, "
            "e.g. .state/demo-world.json"
        )
    return None


SimulatorStateFile = Annotated[str, _rule(_state_file_problem)]

# ------------------------------------------------------------------------------------------ the escrow

EscrowFolder = Annotated[str, _rule(local_folder_problem)]
BucketName = Annotated[str, _rule(bucket_problem)]
KeyPrefix = Annotated[str, _rule(key_prefix_problem)]
KmsKeyId = Annotated[str, _rule(kms_key_problem)]
AwsRegion = Annotated[str, _rule(region_problem)]
SecretsManagerId = Annotated[str, _rule(secret_id_problem)]

# ------------------------------------------------------------------------------------------ the transport


def _port_problem(value: int) -> str | None:
    if 1 <= value <= 65535:
        return None
    return f"{value} is not a TCP port: use 1-65535 (WinRM listens on 5986 for HTTPS, 5985 for HTTP)"


def _seconds_problem(value: float) -> str | None:
    if value > 0 and math.isfinite(value):
        return None
    return f"{value} is not a positive number of seconds: give e.g. 30"


def _retries_problem(value: int) -> str | None:
    return None if 0 <= value <= 10 else f"{value} is out of range: give 0-10 retries"


def _backoff_problem(value: float) -> str | None:
    return None if 0 <= value <= 60 else f"{value} is out of range: give 0-60 seconds between retries"


TcpPort = Annotated[int, _rule(_port_problem)]
Seconds = Annotated[float, _rule(_seconds_problem)]
Retries = Annotated[int, _rule(_retries_problem)]
Backoff = Annotated[float, _rule(_backoff_problem)]

# ------------------------------------------------------------------------------------------ passwords


def password_problem(key: str, value: SecretStr | None, limit: int | None) -> str | None:
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


ServiceAccountPassword = Annotated[
    SecretStr, _rule(lambda value: password_problem("serviceAccountPassword", value, 256))
]
"""ENTSSO's logon password: XML-safe (Configuration.exe reads it from XML), at most 256 characters."""

BackupPassword = Annotated[SecretStr, _rule(lambda value: password_problem("backupPassword", value, None))]
WinrmPassword = Annotated[SecretStr, _rule(lambda value: password_problem("winrmPassword", value, None))]
