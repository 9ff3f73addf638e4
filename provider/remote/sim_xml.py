"""How the simulated Configuration.exe and ``ssomanage -updatedb`` read their XML files.

Why a parser of its own (not ``provider.ssoxml``): the simulator checks what the producer wrote, keyed
on the element IDs of the official sample (reference/biztalk-esso.md §2.3/§2.4), so a bug in the
producer shows up as a refusal here instead of being shared by both sides. Entities and network
access are off: the files come from configuration values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, huge_tree=False)


class SimXmlError(ValueError):
    """The file is not one the real tool would accept."""


@dataclass(frozen=True)
class ConfigXml:
    """What the SSO feature of a Configuration.exe file asks for (never a password)."""

    mode: Literal["Create", "Join"]
    server: str
    database: str
    account: str  # DOMAIN\user from NTService ID="ENTSSO"
    admin_group: str | None = None
    affiliate_admin_group: str | None = None
    backup_file: str | None = None
    reminder: str = ""
    filled_passwords: list[str] = field(default_factory=list)  # password nodes that are NOT empty


def _root(text: str) -> etree._Element:
    try:
        return etree.fromstring(text.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SimXmlError(f"the XML does not parse ({exc.msg})") from None


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _first(root: etree._Element, xpath: str) -> etree._Element | None:
    found = root.xpath(xpath)
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return found[0]
    return None


def _password_nodes(root: etree._Element) -> list[tuple[str, etree._Element]]:
    """Every node that carries a password: Password elements, and Name elements whose ID says PASSWORD."""
    nodes: list[tuple[str, etree._Element]] = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag == "Password":
            parent = element.getparent()
            owner = parent.get("ID", parent.tag) if parent is not None else "?"
            nodes.append((f"{owner}/Password", element))
        elif element.tag == "Name" and "PASSWORD" in (element.get("ID") or "").upper():
            value = element.find("Value")
            if value is not None:
                nodes.append((f"{element.get('ID')}/Value", value))
    return nodes


def parse_config_xml(text: str) -> ConfigXml:
    """Read the SSO feature: the selected answer, the data store, the account, groups and backup file."""
    root = _root(text)
    question = _first(root, ".//Question[@ID='IsSecretServer']")
    if question is None:
        raise SimXmlError("no Question ID='IsSecretServer' (not an SSO feature file)")
    selected = [a for a in question.findall("Answer") if (a.get("Selected") or "").lower() == "yes"]
    if len(selected) != 1 or selected[0].get("Value") not in ("Create", "Join"):
        raise SimXmlError("exactly one IsSecretServer answer (Create or Join) must carry Selected='Yes'")
    answer = selected[0]
    mode: Literal["Create", "Join"] = "Create" if answer.get("Value") == "Create" else "Join"
    sql = _first(root, ".//SQL[@ID='SSO_DB_ID']")
    service = _first(root, ".//NTService[@ID='ENTSSO']")
    if sql is None or service is None:
        raise SimXmlError("the SQL ID='SSO_DB_ID' or NTService ID='ENTSSO' element is missing")
    server, database = _text(sql.find("Server")), _text(sql.find("Database"))
    user, domain = _text(service.find("UserName")), _text(service.find("Domain"))
    if not server or not database or not user:
        raise SimXmlError("the SSO database server/name or the service account is empty")
    account = user if "\\" in user else f"{domain}\\{user}" if domain else user
    filled = [where for where, element in _password_nodes(root) if _text(element)]
    if mode == "Join":
        return ConfigXml(mode, server, database, account, filled_passwords=filled)
    admin = _text(_first(answer, "NTCredential[@ID='SSOAdminGroup']/NTAccount"))
    affiliate = _text(_first(answer, "NTCredential[@ID='SSOAffiliateAdminGroup']/NTAccount"))
    backup = _text(_first(answer, "FILE[@ID='SSO_ID_BACKUP_SECRET_FILE']/Value"))
    reminder = _text(_first(answer, "Name[@ID='SSO_ID_BACKUP_SECRET_REMINDER']/Value"))
    return ConfigXml(
        mode,
        server,
        database,
        account,
        admin_group=admin or None,
        affiliate_admin_group=affiliate or None,
        backup_file=backup or None,
        reminder=reminder,
        filled_passwords=filled,
    )


def parse_update_xml(text: str) -> tuple[str | None, list[str]]:
    """An ``ssomanage -updatedb`` file: the ``<secretServer>`` value and every other element it holds."""
    root = _root(text)
    if root.tag != "sso":
        raise SimXmlError(f"the root element is <{root.tag}>, not <sso>")
    secret_server: str | None = None
    extras: list[str] = []
    for child in root:
        if not isinstance(child.tag, str):
            continue
        if child.tag != "globalInfo":
            extras.append(child.tag)
            continue
        for item in child:
            if not isinstance(item.tag, str):
                continue
            if item.tag == "secretServer":
                secret_server = _text(item)
            else:
                extras.append(item.tag)
    return secret_server, extras
