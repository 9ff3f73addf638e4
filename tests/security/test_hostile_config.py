"""Issue 13, L2/L6/L8 on the configuration side: what a pull request could slip past a reviewer.

* Invisible and text-reordering characters (zero-width, bidi overrides, no-break spaces, ...) are refused in
  every text key, with a message that names the key and the character (and itself shows no invisible text).
* Look-alike (non-ASCII) letters are refused in computer, domain, DNS, account and group names; a computer
  name holds only what a host name may, so it cannot move a URL's host or port.
* A stack file of YAML aliases (a "billion laughs") is refused in milliseconds; so is a file nested too deep.
* The backup reminder may not give the password away in any case, spacing or order.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from provider.config.loading import MAX_YAML_NODES, check_stack_file
from provider.config.problems import hidden_character
from provider.spec import load_spec
from tests.spec.common import BACKUP_SENTINEL, STACKS, base_config, changed, problems

# Keys holding text, with a valid value to put the hostile character into.
TEXT_KEYS = {
    "cluster.networkName": "BIZTALKSSO",
    "cluster.role": "SSO",
    "cluster.nodes[1]": "SSO02",
    "cluster.resourceName": "Enterprise Single Sign-On Service",
    "cluster.dnsSuffix": "contoso.com",
    "domain.name": "CONTOSO",
    "sso.adminGroup": "SSO Administrators",
    "sso.affiliateAdminGroup": "SSO Affiliate Administrators",
    "sso.serviceAccount": "CONTOSO\\svc-entsso",
    "sso.configuringAccount": "CONTOSO\\esso-config",
    "database.server": "SQL01",
    "database.name": "SSODB",
    "backup.path": "D:\\ESSO\\SSOSecret.bak",
    "backup.reminder": "see the vault",
    "escrow.path": "/srv/esso-escrow",
    "escrow.prefix": "esso/prod",
}
INVISIBLE = {
    "\u200b": "U+200B",  # zero width space
    "\u202e": "U+202E",  # right-to-left override
    "\u2066": "U+2066",  # left-to-right isolate
    "\u00a0": "U+00A0",  # no-break space
    "\ufeff": "U+FEFF",  # byte order mark
    "\u00ad": "U+00AD",  # soft hyphen
    "\u034f": "U+034F",  # combining grapheme joiner
    "\u2028": "U+2028",  # line separator
    "\ue000": "U+E000",  # private use
}


def _at(key: str, value: str) -> list[Any]:
    found = problems(changed(base_config(), {key: value}))
    return [p for p in found if p.key == key]


@pytest.mark.parametrize("char", list(INVISIBLE))
@pytest.mark.parametrize("key", list(TEXT_KEYS))
def test_invisible_characters_are_refused_in_every_text_key(key: str, char: str) -> None:
    valid = TEXT_KEYS[key]
    value = valid[:3] + char + valid[3:]
    found = _at(key, value)
    assert found, f"{key} accepted {value!r}"
    message = found[0].message
    assert hidden_character(message) is None and "\x1b" not in message  # the message itself shows what it holds
    assert INVISIBLE[char] in message, message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("cluster.nodes[1]", "\u0405\u0405\u041e02"),  # Cyrillic DZE, DZE, O: looks like SSO02
        ("cluster.nodes[1]", "SS\u039f02"),  # Greek capital omicron
        ("cluster.nodes[1]", "\uff33\uff33\uff2f02"),  # full-width SSO
        ("cluster.networkName", "BIZT\u0410LKSSO"),  # Cyrillic A
        ("cluster.dnsSuffix", "cont\u043eso.com"),  # Cyrillic o
        ("domain.name", "C\u039fNTOSO"),
        ("sso.serviceAccount", "CONTOSO\\svc-ent\u0455so"),  # Cyrillic small dze
        ("sso.configuringAccount", "CONT\u041eSO\\esso-config"),
        ("sso.adminGroup", "SSO \u0410dministrators"),
        ("database.server", "SQL\u041e1"),
    ],
)
def test_look_alike_letters_are_refused_in_names(key: str, value: str) -> None:
    found = _at(key, value)
    assert found and "not ASCII" in found[0].message, found


@pytest.mark.parametrize("value", ["a@evil", "SSO01#", "@{}", "SSO_02", "SSO02%", "SSO(2)", "SSO!02", "SS'02"])
def test_a_node_name_holds_only_what_a_host_name_may(value: str) -> None:
    # The review's R06: 'a@evil' became host 'evil', 'SSO01#' port 443, '@{}' host '{}'.
    found = _at("cluster.nodes[1]", value)
    assert found and ("letters, digits and hyphens" in found[0].message or "cannot contain" in found[0].message)


@pytest.mark.parametrize("value", ["esso/../other", "./esso", "esso/.", "esso/..", "esso prefix", "esso?v=1"])
def test_an_escrow_prefix_is_names_of_safe_characters(value: str) -> None:
    assert _at("escrow.prefix", value)


def test_ordinary_names_still_pass() -> None:
    config = changed(
        base_config(),
        {
            "cluster.nodes": ["SSO-01", "sso02", "Node3"],
            "cluster.role": "Rôle SSO (prod)",  # a role is display text: accented letters are fine there
            "escrow.prefix": "prod/esso_v2",
            "backup.path": "D:\\Données\\SSOSecret.bak",
        },
    )
    assert load_spec(config).cluster.nodes == ["SSO-01", "sso02", "Node3"]


@pytest.mark.parametrize(
    "key", ["\u0435sso-cluster:allowDisruption", "esso-cluster:allow\u200bDisruption", "aws\u202e:x"]
)
def test_a_look_alike_or_invisible_key_is_not_ignored(tmp_path: Path, key: str) -> None:
    # A key in a look-alike namespace would otherwise pass as another package's key, silently doing nothing.
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(f'config:\n  "{key}": true\n', encoding="utf-8")
    found = [p for p in check_stack_file(path) if p.key == key]
    assert found and "invisible or non-ASCII" in found[0].message
    assert hidden_character(str(found[0])) is None


# ------------------------------------------------------------------------------------------ the reminder

NEAR_COPIES = [
    BACKUP_SENTINEL,
    BACKUP_SENTINEL.upper(),
    BACKUP_SENTINEL[:-1],  # the password without its last character
    BACKUP_SENTINEL[::-1],  # reversed
    BACKUP_SENTINEL.replace("-", " "),  # other spacing
    "password is " + BACKUP_SENTINEL[:-1] + " + #",
    " ".join(BACKUP_SENTINEL),  # spaced out
    "bak sentinel 0d42",  # two thirds of it
]


@pytest.mark.parametrize("reminder", NEAR_COPIES)
def test_the_reminder_may_not_give_the_password_away(reminder: str) -> None:
    found = _at("backup.reminder", reminder)
    assert found and "too close to backupPassword" in found[0].message
    lowered = found[0].message.lower()
    assert "sentinel" not in lowered and "0d42" not in lowered


@pytest.mark.parametrize("reminder", ["see the vault", "team vault entry 'ESSO prod'", "the usual, with 2026"])
def test_a_reminder_that_gives_nothing_away_passes(reminder: str) -> None:
    assert load_spec(changed(base_config(), {"backup.reminder": reminder})).backup.reminder == reminder


# ------------------------------------------------------------------------------------------ YAML


def _laughs(depth: int) -> str:
    """The review's R15 file: each level an anchor of nine aliases of the previous one (9**depth values)."""
    lines = ["config:", "  esso-cluster:cluster:", "    networkName: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, depth + 1):
        lines.append(f"    l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("depth", [5, 7, 12])
def test_a_billion_laughs_stack_file_is_refused_fast(tmp_path: Path, depth: int) -> None:
    # Before: depth 7 (479 bytes) took 42 s and 1 GB; depth 12 would not finish.
    path = tmp_path / "Pulumi.bomb.yaml"
    path.write_text(_laughs(depth), encoding="utf-8")
    assert path.stat().st_size < 1000
    started = time.monotonic()
    found = check_stack_file(path)
    assert time.monotonic() - started < 0.5
    assert len(found) == 1 and found[0].key == str(path)
    assert f"more than {MAX_YAML_NODES} values" in found[0].message and "alias" in found[0].message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("config:\n  esso-cluster:cluster: &a\n    nodes: [*a]\n", "inside its own anchor"),
        ("config:\n  esso-cluster:cluster: " + "[" * 3000 + "]" * 3000 + "\n", "deeper than"),
        ("config:\n  esso-cluster:cluster: '" + "[" * 3000 + "]" * 3000 + "'\n", "deeper than"),
    ],
    ids=["self-alias", "deep-yaml", "deep-json-section"],
)
def test_self_reference_and_deep_nesting_are_refused_not_crashed(tmp_path: Path, text: str, fragment: str) -> None:
    # Before: each raised RecursionError out of the check.
    path = tmp_path / "Pulumi.deep.yaml"
    path.write_text(text, encoding="utf-8")
    assert any(fragment in p.message for p in check_stack_file(path))


def test_a_huge_stack_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.huge.yaml"
    path.write_text("config:\n  esso-cluster:allowDisruption: false\n" + "# padding\n" * 200_000, encoding="utf-8")
    (problem,) = check_stack_file(path)
    assert "larger than" in problem.message


def test_a_few_aliases_are_still_fine(tmp_path: Path) -> None:
    text = (STACKS / "Pulumi.dev.yaml").read_text(encoding="utf-8")
    nodes = "    nodes:\n      - BTSDEV-SSO01\n      - BTSDEV-SSO02\n"
    assert nodes in text and "*" not in text
    text = text.replace(nodes, "    nodes: *nodes\n").replace(
        "config:", "x-nodes: &nodes [BTSDEV-SSO01, BTSDEV-SSO02]\nconfig:", 1
    )
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(text, encoding="utf-8")
    assert check_stack_file(path, allow_missing_secrets=True) == check_stack_file(
        STACKS / "Pulumi.dev.yaml", allow_missing_secrets=True
    )
