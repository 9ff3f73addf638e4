"""provider/ssoxml/: the Configuration.exe silent XML and the ssomanage update file.

Proves: builders round-trip through the parsers; no password ever appears (every password node is present
and empty, and a sentinel value passed anywhere never shows up where a password would be); any characters
in names are escaped; the update file is exactly three elements; the parsers refuse anything else.
"""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from provider import ssoxml
from provider.ssoxml import (
    PASSWORD_XPATHS,
    SsoXmlError,
    build_create_xml,
    build_join_xml,
    build_update_secret_server_xml,
    parse_sso_xml,
    parse_update_xml,
)

SENTINEL = "S3ntinel-P@ss!"

CREATE: dict[str, Any] = {
    "server": "SQL01\\BTS",
    "database": "SSODB",
    "service_account": "CORP\\svc-entsso",
    "admin_group": "CORP\\SSO Administrators",
    "affiliate_admin_group": "CORP\\SSO Affiliate Administrators",
    "backup_file": r"C:\Program Files\Common Files\Enterprise Single Sign-On\SSO-backup.bak",
    "reminder": "ask the BizTalk team",
}


def feature(text: str) -> etree._Element:
    root = etree.fromstring(text.encode())
    found = root.xpath("Feature[@Name='SSOServer,Engine']")
    assert isinstance(found, list) and len(found) == 1 and isinstance(found[0], etree._Element)
    return found[0]


def password_nodes(text: str) -> list[etree._Element]:
    nodes = []
    for xpath in PASSWORD_XPATHS:
        found = feature(text).xpath(xpath)
        assert isinstance(found, list) and len(found) == 1, xpath
        node = found[0]
        assert isinstance(node, etree._Element)
        nodes.append(node)
    return nodes


# ----------------------------------------------------------------------------------------- round trips


def test_create_round_trips() -> None:
    parsed = parse_sso_xml(build_create_xml(**CREATE))
    assert parsed.mode == "Create"
    assert (parsed.server, parsed.database) == ("SQL01\\BTS", "SSODB")
    assert (parsed.account_domain, parsed.account_user) == ("CORP", "svc-entsso")
    assert parsed.service_account == "CORP\\svc-entsso"
    assert parsed.admin_group == CREATE["admin_group"]
    assert parsed.affiliate_admin_group == CREATE["affiliate_admin_group"]
    assert parsed.backup_file == CREATE["backup_file"]
    assert parsed.reminder == CREATE["reminder"]
    assert parsed.passwords_empty


def test_join_round_trips() -> None:
    parsed = parse_sso_xml(build_join_xml(server="SQL01", database="SSODB", service_account="CORP\\svc-entsso"))
    assert parsed.mode == "Join"
    assert (parsed.server, parsed.database, parsed.service_account) == ("SQL01", "SSODB", "CORP\\svc-entsso")
    assert parsed.admin_group is None and parsed.backup_file is None
    assert parsed.passwords_empty


def test_official_sample_ids_and_structure() -> None:
    text = build_create_xml(**CREATE)
    f = feature(text)
    question = f.find("Question")
    assert question is not None and question.get("ID") == "IsSecretServer" and question.get("Answers") == "Create,Join"
    answers = {a.get("Value"): a for a in question.findall("Answer")}
    assert answers["Create"].get("GUID") == "{FB7268BE-82D4-4cad-8CFF-6930303DA7E2}"
    assert answers["Join"].get("GUID") == "{B9432756-1620-4bec-8CD9-E6D0B7805AA5}"
    assert answers["Create"].get("Selected") == "Yes" and answers["Join"].get("Selected") is None
    ids = {e.get("ID") for e in f.iter() if e.get("ID")}
    assert {
        "SSOAdminGroup",
        "SSOAffiliateAdminGroup",
        "SSO_ID_BACKUP_SECRET_FILE",
        "SSO_ID_BACKUP_SECRET_PASSWORD",
        "SSO_ID_BACKUP_SECRET_PASSWORD_CONFIRM",
        "SSO_ID_BACKUP_SECRET_REMINDER",
        "ENTSSO",
        "SSO_DB_ID",
    } <= ids
    sql = f.find("SQL")
    assert sql is not None and sql.findtext("WindowsSecurity") == "yes"
    join_text = build_join_xml(server="s", database="d", service_account="D\\u")
    join_answers = {a.get("Value"): a for a in feature(join_text).iter("Answer")}
    assert join_answers["Join"].get("Selected") == "Yes" and join_answers["Create"].get("Selected") is None


# --------------------------------------------------------------------------------------------- secrets


@pytest.mark.parametrize("mode", ["create", "join"])
def test_every_password_node_is_present_and_empty(mode: str) -> None:
    if mode == "create":
        text = build_create_xml(**CREATE)
    else:
        text = build_join_xml(server="s", database="d", service_account="D\\u")
    nodes = password_nodes(text)
    assert len(nodes) == 4
    for node in nodes:
        assert len(node) == 0 and not (node.text or "").strip()
    # every element named Password anywhere is empty too
    for element in etree.fromstring(text.encode()).iter("Password"):
        assert not (element.text or "").strip()


def test_no_builder_argument_can_carry_a_password() -> None:
    """The builders take no password argument, and a sentinel put in every other field never lands in one."""
    for builder in (build_create_xml, build_join_xml):
        names = set(builder.__code__.co_varnames[: builder.__code__.co_kwonlyargcount])
        assert not {n for n in names if "password" in n or "secret" in n}
    fields = {k: f"{SENTINEL}-{k}" for k in CREATE if k != "service_account"}
    fields |= {k: f"CORP\\{SENTINEL}-{k}" for k in ("admin_group", "affiliate_admin_group")}
    text = build_create_xml(service_account=f"CORP\\{SENTINEL}", **fields)
    for node in password_nodes(text):
        assert SENTINEL not in etree.tostring(node, encoding="unicode")
    assert parse_sso_xml(text).passwords_empty


def test_parse_notices_a_filled_password() -> None:
    text = build_create_xml(**CREATE)
    root = etree.fromstring(text.encode())
    target = root.xpath("Feature/" + PASSWORD_XPATHS[0])
    assert isinstance(target, list) and isinstance(target[0], etree._Element)
    target[0].text = SENTINEL
    assert not parse_sso_xml(etree.tostring(root, encoding="unicode")).passwords_empty


def test_parse_notices_a_missing_password_node() -> None:
    text = build_join_xml(server="s", database="d", service_account="D\\u")
    root = etree.fromstring(text.encode())
    service = root.find("Feature/NTService")
    assert service is not None
    password = service.find("Password")
    assert password is not None
    service.remove(password)
    assert not parse_sso_xml(etree.tostring(root, encoding="unicode")).passwords_empty


# ------------------------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    "value",
    ["a<b>&c", "quote\"and'apos", "]]>", "Ünïcødé ßerver", "tab\there", "  spaced  ", "x&amp;y", "<!--x-->"],
)
def test_any_characters_in_names_escape_and_round_trip(value: str) -> None:
    text = build_create_xml(
        server=value,
        database=value,
        service_account=f"DOM\\{value}",
        admin_group=f"DOM\\{value}",
        affiliate_admin_group=f"DOM\\{value}",
        backup_file=value,
        reminder=value,
    )
    parsed = parse_sso_xml(text)
    assert parsed.server == parsed.database == parsed.account_user == value
    assert parsed.backup_file == parsed.reminder == value
    assert parsed.admin_group == parsed.affiliate_admin_group == f"DOM\\{value}"
    update = build_update_secret_server_xml(value.strip())
    assert parse_update_xml(update) == value.strip()


@pytest.mark.parametrize("account", ["noslash", "\\user", "DOMAIN\\", "A\\B\\C", ""])
def test_bad_service_account_is_refused(account: str) -> None:
    with pytest.raises(SsoXmlError):
        build_join_xml(server="s", database="d", service_account=account)


@pytest.mark.parametrize("field", ["server", "database", "admin_group", "affiliate_admin_group", "backup_file"])
def test_empty_required_values_are_refused(field: str) -> None:
    with pytest.raises(SsoXmlError):
        build_create_xml(**{**CREATE, field: " "})


def test_control_characters_are_refused() -> None:
    with pytest.raises(ValueError):
        build_update_secret_server_xml("bad\x01name")


# -------------------------------------------------------------------------------------- the update file


def test_update_xml_is_exactly_three_elements() -> None:
    assert build_update_secret_server_xml("BIZTALKCLUSTER") == (
        "<sso><globalInfo><secretServer>BIZTALKCLUSTER</secretServer></globalInfo></sso>"
    )
    assert parse_update_xml("<sso>\n  <globalInfo>\n    <secretServer>X</secretServer>\n  </globalInfo>\n</sso>") == "X"


@pytest.mark.parametrize(
    "text",
    [
        "<sso><globalInfo><secretServer>X</secretServer><ssoAdminAccount>D\\g</ssoAdminAccount></globalInfo></sso>",
        "<sso><globalInfo><secretServer>X</secretServer></globalInfo><globalInfo/></sso>",
        "<sso><globalInfo><secretServer>X</secretServer></globalInfo></sso><!-- trailing -->",
        "<sso><globalInfo><!-- c --><secretServer>X</secretServer></globalInfo></sso>",
        "<sso><globalInfo><secretServer><b>X</b></secretServer></globalInfo></sso>",
        "<sso><globalInfo><secretServer a='1'>X</secretServer></globalInfo></sso>",
        "<sso><globalInfo><secretServer></secretServer></globalInfo></sso>",
        "<sso>text<globalInfo><secretServer>X</secretServer></globalInfo></sso>",
        "<sso xmlns='urn:x'><globalInfo><secretServer>X</secretServer></globalInfo></sso>",
        "<other><globalInfo><secretServer>X</secretServer></globalInfo></other>",
        "<sso><secretServer>X</secretServer></sso>",
        '<!DOCTYPE sso [<!ENTITY e "X">]><sso><globalInfo><secretServer>&e;</secretServer></globalInfo></sso>',
        "<sso><globalInfo><secretServer>X</secretServer></globalInfo>",
    ],
)
def test_parse_update_refuses_anything_but_secret_server(text: str) -> None:
    with pytest.raises(SsoXmlError):
        parse_update_xml(text)


def test_parse_sso_refuses_foreign_documents() -> None:
    with pytest.raises(SsoXmlError):
        parse_sso_xml("<Configuration><Feature Name='WMI'/></Configuration>")
    with pytest.raises(SsoXmlError):
        parse_sso_xml('<!DOCTYPE Configuration [<!ENTITY x "y">]><Configuration/>')
    text = build_create_xml(**CREATE).replace('Value="Join" GUID', 'Selected="Yes" Value="Join" GUID')
    with pytest.raises(SsoXmlError):
        parse_sso_xml(text)  # two selected answers


def test_module_says_where_the_ids_come_from() -> None:
    assert ssoxml.__doc__ is not None and "official sample" in ssoxml.__doc__


@pytest.mark.parametrize("group", ["SSO Administrators", "\\SSO Administrators", "CORP\\", " \\x"])
@pytest.mark.parametrize("field", ["admin_group", "affiliate_admin_group"])
def test_sso_groups_must_be_domain_qualified(field: str, group: str) -> None:
    """Issue 9 A5: a bare name may bind a local group of that name; Microsoft's samples write DOMAIN\\group."""
    with pytest.raises(SsoXmlError, match="DOMAIN"):
        build_create_xml(**{**CREATE, field: group})


@pytest.mark.parametrize("mode", ["Create", "Join"])
def test_the_file_lists_the_installed_features_as_real_exports_do(mode: str) -> None:
    """Issue 9 A8: real exports end with <InstalledFeature> elements; the seed installs SSOAdmin and SSOServer."""
    text = (
        build_create_xml(**CREATE)
        if mode == "Create"
        else build_join_xml(server="s", database="d", service_account="D\\u")
    )
    root = etree.fromstring(text.encode())
    assert [e.text for e in root.findall("InstalledFeature")] == ["SSOAdmin", "SSOServer"]
    assert root[-1].tag == "InstalledFeature" and root[0].tag == "Feature"
