"""Read a silent-configuration file back into ``SsoConfigXml``, and the update file into its server name.

Why apart: the parser checks what a file carries (no secret, one of each element); it changes with those
checks, not with how the files are built.
"""

from __future__ import annotations

from lxml import etree

from provider.ssoxml.model import (
    ADMIN_GROUP_ID,
    AFFILIATE_ADMIN_GROUP_ID,
    BACKUP_FILE_ID,
    BACKUP_REMINDER_ID,
    FEATURE_NAME,
    PASSWORD_XPATHS,
    QUESTION_ID,
    SERVICE_ID,
    SQL_ID,
    SsoConfigXml,
    SsoXmlError,
)

# ------------------------------------------------------------------------------------------- parse


def _parse(text: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise SsoXmlError(f"not well-formed XML: {exc}") from exc
    doctype: str = getattr(root.getroottree().docinfo, "doctype", "") or ""
    if doctype or "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise SsoXmlError("a DOCTYPE is not allowed")
    return root


def _one(parent: etree._Element, xpath: str, what: str) -> etree._Element:
    found = parent.xpath(xpath)
    if not isinstance(found, list) or len(found) != 1 or not isinstance(found[0], etree._Element):
        count = len(found) if isinstance(found, list) else 0
        raise SsoXmlError(f"expected exactly one {what}, found {count}")
    return found[0]


def _text_of(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    text = element.text
    return text if text is not None and text.strip() else None


def _optional(parent: etree._Element, xpath: str) -> str | None:
    found = parent.xpath(xpath)
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return _text_of(found[0])
    return None


def _is_empty(element: etree._Element) -> bool:
    return len(element) == 0 and (element.text is None or not element.text.strip())


def parse_sso_xml(text: str) -> SsoConfigXml:
    """Read back a Configuration.exe SSO file: mode, database, account, groups, backup file, password state."""
    root = _parse(text)
    if root.tag != "Configuration":
        raise SsoXmlError(f"root element must be <Configuration>, got <{root.tag}>")
    feature = _one(root, f"Feature[@Name='{FEATURE_NAME}']", f"<Feature Name='{FEATURE_NAME}'>")
    question = _one(feature, f"Question[@ID='{QUESTION_ID}']", f"<Question ID='{QUESTION_ID}'>")
    selected = _one(question, "Answer[@Selected='Yes']", "selected <Answer>")
    mode = selected.get("Value")
    if mode not in ("Create", "Join"):
        raise SsoXmlError(f"selected answer must be Create or Join, got {mode!r}")
    service = _one(feature, f"NTService[@ID='{SERVICE_ID}']", f"<NTService ID='{SERVICE_ID}'>")
    sql = _one(feature, f"SQL[@ID='{SQL_ID}']", f"<SQL ID='{SQL_ID}'>")
    server = _text_of(_one(sql, "Server", "<Server>"))
    database = _text_of(_one(sql, "Database", "<Database>"))
    user = _text_of(_one(service, "UserName", "<UserName>"))
    domain = _text_of(_one(service, "Domain", "<Domain>"))
    if not server or not database or not user or not domain:
        raise SsoXmlError("server, database, service account user and domain must all be set")

    passwords_empty = True
    for xpath in PASSWORD_XPATHS:
        found = feature.xpath(xpath)
        if not isinstance(found, list) or len(found) != 1 or not isinstance(found[0], etree._Element):
            passwords_empty = False  # missing or duplicated: the script could not fill it safely
        elif not _is_empty(found[0]):
            passwords_empty = False

    create = f"Question[@ID='{QUESTION_ID}']/Answer[@Value='Create']"
    return SsoConfigXml(
        mode="Create" if mode == "Create" else "Join",
        server=server,
        database=database,
        account_user=user,
        account_domain=domain,
        admin_group=_optional(feature, f"{create}/NTCredential[@ID='{ADMIN_GROUP_ID}']/NTAccount"),
        affiliate_admin_group=_optional(feature, f"{create}/NTCredential[@ID='{AFFILIATE_ADMIN_GROUP_ID}']/NTAccount"),
        backup_file=_optional(feature, f"{create}/FILE[@ID='{BACKUP_FILE_ID}']/Value"),
        reminder=_optional(feature, f"{create}/Name[@ID='{BACKUP_REMINDER_ID}']/Value"),
        passwords_empty=passwords_empty,
    )


def parse_update_xml(text: str) -> str:
    """The secret server name of an ``ssomanage -updatedb`` file; refuses anything but ``<secretServer>``."""
    root = _parse(text)

    def plain(element: etree._Element, tag: str) -> None:
        if not isinstance(element.tag, str) or element.tag != tag:
            raise SsoXmlError(f"expected <{tag}>, got {element.tag!r}")
        if element.attrib:
            raise SsoXmlError(f"<{tag}> must have no attributes")
        if element.tail is not None and element.tail.strip():
            raise SsoXmlError(f"text after <{tag}> is not allowed")

    def only_child(element: etree._Element, tag: str, why: str) -> etree._Element:
        """The one child of ``<tag>``, which holds no text of its own; ``why`` when it holds more or none."""
        if element.text is not None and element.text.strip():
            raise SsoXmlError(f"text inside <{tag}> is not allowed")
        if len(element) != 1:
            raise SsoXmlError(why)
        return element[0]

    plain(root, "sso")
    if root.getprevious() is not None or root.getnext() is not None:
        raise SsoXmlError("nothing but <sso> is allowed at the top level")
    info = only_child(root, "sso", "<sso> must hold exactly one child, <globalInfo>")
    plain(info, "globalInfo")
    secret_server = only_child(info, "globalInfo", "<globalInfo> must hold only <secretServer> (design rule 6)")
    plain(secret_server, "secretServer")
    if len(secret_server):
        raise SsoXmlError("<secretServer> must hold only text")
    name = (secret_server.text or "").strip()
    if not name:
        raise SsoXmlError("<secretServer> must not be empty")
    return name
