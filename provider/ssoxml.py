r"""The XML files Enterprise SSO is configured with: Configuration.exe silent XML and the ssomanage update file.

Why here and with lxml: the values (server, database, account, group names, paths) come from stack
configuration and may hold any character; building a tree and serialising it escapes them, where
string templates would not. Nothing here ever holds a password: every password node is written
*present and empty*, and ``Install-SsoSystem.ps1``/``Join-SsoSystem.ps1`` fill them on the node from
SecureString parameters (docs/design.md "Secrets").

Element names, IDs, GUIDs and attributes come from the official sample of the SSO feature in
"Working with the configuration framework" (``MicrosoftDocs/biztalk-docs
biztalk/install-and-config-guides/working-with-the-configuration-framework.md``; reference/biztalk-esso.md
§2.3/§2.4): ``Feature Name="SSOServer,Engine"``, ``Question ID="IsSecretServer"`` with the answers
``Create``/``Join``, ``NTCredential ID="SSOAdminGroup"``/``"SSOAffiliateAdminGroup"``, ``FILE
ID="SSO_ID_BACKUP_SECRET_FILE"``, ``Name ID="SSO_ID_BACKUP_SECRET_PASSWORD"``/``_CONFIRM``/``_REMINDER``,
``NTService ID="ENTSSO"`` and ``SQL ID="SSO_DB_ID"``.

[INFERRED] For Join, the unselected Create answer keeps its children with empty values (as an export
of the wizard would); only the answer carrying ``Selected="Yes"`` is applied. An SSO-only file carries
no ``WMI`` (BizTalk Group) feature.

The SSO groups are written ``DOMAIN\group`` (issue 9 A5): Microsoft's ``globalInfo`` sample writes
``<ssoAdminAccount>Domain\Accountname</ssoAdminAccount>`` (biztalk-docs how-to-update-the-sso-database.md) and
BizTalkServerDsc's real 2020 template prefixes the domain to the ``NTAccount`` text; an unqualified name is looked
up on the local machine first and may bind a local group of that name. ``build_create_xml`` refuses a bare name.

``<InstalledFeature>`` (issue 9 A8): every real export ends with the machine's installed features (the official
sample; BizTalkServerDsc ``Examples/Scenario_OneMachine/.../Configuration.xml``; skastberg/biztalkps
``ScriptedInstallWhitepaperExamples/Config/Create-2020DevGroup.xml``), so the file carries the two the seed installs
(install step 1: "Enterprise Single Sign-On Administration Module" = ``SSOAdmin`` and "Master Secret Server" =
``SSOServer``). Whether ``Configuration.exe /S`` needs the list at all is not documented: no source decides it;
the list follows the exports rather than leave an SSO-only file without public precedent.

The update file for ``ssomanage -updatedb`` holds only ``<secretServer>`` (design rule 6: from a node that
is not the master secret server, a file with any other element makes ``-updatedb`` fail).
"""

from __future__ import annotations

from typing import Literal

from lxml import etree
from pydantic import BaseModel, ConfigDict

from provider.config.names import split_account

FEATURE_NAME = "SSOServer,Engine"
QUESTION_ID = "IsSecretServer"
CREATE_GUID = "{FB7268BE-82D4-4cad-8CFF-6930303DA7E2}"
JOIN_GUID = "{B9432756-1620-4bec-8CD9-E6D0B7805AA5}"
ADMIN_GROUP_ID = "SSOAdminGroup"
AFFILIATE_ADMIN_GROUP_ID = "SSOAffiliateAdminGroup"
BACKUP_FILE_ID = "SSO_ID_BACKUP_SECRET_FILE"
BACKUP_PASSWORD_ID = "SSO_ID_BACKUP_SECRET_PASSWORD"  # noqa: S105 (an element ID, not a password)
BACKUP_PASSWORD_CONFIRM_ID = "SSO_ID_BACKUP_SECRET_PASSWORD_CONFIRM"  # noqa: S105 (an element ID)
BACKUP_REMINDER_ID = "SSO_ID_BACKUP_SECRET_REMINDER"
SERVICE_ID = "ENTSSO"
SQL_ID = "SSO_DB_ID"

# The features the seed installs on every node (install step 1), listed as an export lists them.
INSTALLED_FEATURES = ("SSOAdmin", "SSOServer")

# The account flags of the official sample's SSO groups (keep what an export produces).
_NTACCOUNT_ATTRS = {"ScopeType": "105", "UpLevelFlags": "672", "DownLevelFlags": "2147516422"}

# Every node that carries a password, as XPath relative to the SSO <Feature>.
PASSWORD_XPATHS = (
    f"Question[@ID='{QUESTION_ID}']/Answer[@Value='Create']/Name[@ID='{BACKUP_PASSWORD_ID}']/Value",
    f"Question[@ID='{QUESTION_ID}']/Answer[@Value='Create']/Name[@ID='{BACKUP_PASSWORD_CONFIRM_ID}']/Value",
    f"NTService[@ID='{SERVICE_ID}']/Password",
    f"SQL[@ID='{SQL_ID}']/Password",
)


class SsoXmlError(ValueError):
    """The XML is not a configuration file this project writes or accepts."""


class SsoConfigXml(BaseModel):
    """What a Configuration.exe SSO file says, without any password."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["Create", "Join"]
    server: str
    database: str
    account_user: str
    account_domain: str
    admin_group: str | None = None
    affiliate_admin_group: str | None = None
    backup_file: str | None = None
    reminder: str | None = None
    passwords_empty: bool  # every password node is present and empty

    @property
    def service_account(self) -> str:
        return f"{self.account_domain}\\{self.account_user}"


# ------------------------------------------------------------------------------------------- build


def _split_account(service_account: str) -> tuple[str, str]:
    domain, user = split_account(service_account)
    if not domain or not user or "\\" in user:
        raise SsoXmlError(f"service account must be DOMAIN\\user, got {service_account!r}")
    return domain, user


def _require(value: str, what: str) -> str:
    if not value or not value.strip():
        raise SsoXmlError(f"{what} must not be empty")
    return value


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _require_qualified(group: str, what: str) -> None:
    """DOMAIN\\group, as Microsoft's samples write SSO groups: a bare name may bind a local group of that name."""
    domain, _, name = group.partition("\\")
    if not domain.strip() or not name.strip():
        raise SsoXmlError(f"{what} must be written DOMAIN\\group, not {group!r}")


def _name_value(parent: etree._Element, name_id: str, display: str, description: str, hidden: str) -> None:
    name = _sub(parent, "Name", ID=name_id, DisplayName=display, Description=description, Hidden=hidden)
    _sub(name, "Value")


def _build(
    *,
    mode: Literal["Create", "Join"],
    server: str,
    database: str,
    service_account: str,
    admin_group: str = "",
    affiliate_admin_group: str = "",
    backup_file: str = "",
    reminder: str = "",
) -> str:
    domain, user = _split_account(service_account)
    _require(server, "SQL server")
    _require(database, "SSO database")
    root = etree.Element("Configuration")
    feature = _sub(
        root,
        "Feature",
        Name=FEATURE_NAME,
        DisplayName="Enterprise Single Sign-On",
        Version="1.0",
        Description="Enterprise Single Sign-On configuration",
        ConfigByDefault="true",
    )
    question = _sub(
        feature,
        "Question",
        ID=QUESTION_ID,
        Text="&Create a new SSO system;&Join an existing SSO system",
        Answers="Create,Join",
        Default="Create",
    )
    create = _sub(question, "Answer", Value="Create", GUID=CREATE_GUID)
    admin = _sub(
        create,
        "NTCredential",
        ID=ADMIN_GROUP_ID,
        DisplayName="SSO Administrator(s)",
        Description="This is the Administrator of the Enterprise Single Sign-On (SSO) system.",
    )
    _sub(admin, "NTAccount", admin_group, **_NTACCOUNT_ATTRS)
    affiliate = _sub(
        create,
        "NTCredential",
        ID=AFFILIATE_ADMIN_GROUP_ID,
        DisplayName="SSO Affiliate Administrator(s)",
        Description="The SSO Affiliate Administrator must be able to create Affiliate Applications.",
    )
    _sub(affiliate, "NTAccount", affiliate_admin_group, **_NTACCOUNT_ATTRS)
    backup = _sub(
        create,
        "FILE",
        ID=BACKUP_FILE_ID,
        DisplayName="&Backup file location:",
        Filter="Backup files (*.bak)|*.bak|All files (*.*)|*.*",
        DefaultExtension="bak",
        Title="",
        Description="Location where the master secret will be backed up",
        OpenFile="true",
    )
    _sub(backup, "Value", backup_file)
    _name_value(
        create,
        BACKUP_PASSWORD_ID,
        "&Secret backup password:",
        "Enter a password used to protect the secret backup file",
        "true",
    )
    _name_value(create, BACKUP_PASSWORD_CONFIRM_ID, "&Confirm password:", "Confirm the secret backup password", "true")
    reminder_name = _sub(
        create,
        "Name",
        ID=BACKUP_REMINDER_ID,
        DisplayName="Password &reminder:",
        Description="Enter a phrase to help you remember the secret backup file password",
        Hidden="false",
    )
    _sub(reminder_name, "Value", reminder)
    join = _sub(question, "Answer", Value="Join", GUID=JOIN_GUID)
    (create if mode == "Create" else join).set("Selected", "Yes")

    service = _sub(
        feature,
        "NTService",
        ID=SERVICE_ID,
        DisplayName="Enterprise Single Sign-On Service",
        Description=(
            "Specify the name of the account under which the Single Sign-On (SSO) service should run. "
            "This account must be a member of the SSO Administrator(s) group."
        ),
    )
    _sub(service, "UserName", user)
    _sub(service, "Domain", domain)
    _sub(service, "Password")
    sql = _sub(
        feature,
        "SQL",
        ID=SQL_ID,
        DisplayName="SSO Database",
        Description="Specify the name of the SQL Server and Database that will be used as the credential store.",
    )
    _sub(sql, "Server", server)
    _sub(sql, "Database", database)
    _sub(sql, "WindowsSecurity", "yes", Editable="no")
    _sub(sql, "UserName")
    _sub(sql, "Password")
    for installed in INSTALLED_FEATURES:
        _sub(root, "InstalledFeature", installed)
    return etree.tostring(root, encoding="unicode", pretty_print=True)


def build_create_xml(
    *,
    server: str,
    database: str,
    service_account: str,
    admin_group: str,
    affiliate_admin_group: str,
    backup_file: str,
    reminder: str,
) -> str:
    """Configuration.exe silent XML: "Create a new SSO system" (seed steps 5-12), password nodes empty."""
    _require(admin_group, "SSO Administrators group")
    _require(affiliate_admin_group, "SSO Affiliate Administrators group")
    _require_qualified(admin_group, "SSO Administrators group")
    _require_qualified(affiliate_admin_group, "SSO Affiliate Administrators group")
    _require(backup_file, "backup file")
    return _build(
        mode="Create",
        server=server,
        database=database,
        service_account=service_account,
        admin_group=admin_group,
        affiliate_admin_group=affiliate_admin_group,
        backup_file=backup_file,
        reminder=reminder,
    )


def build_join_xml(*, server: str, database: str, service_account: str) -> str:
    """Configuration.exe silent XML: "Join an existing SSO system" (seed steps 13-19), password nodes empty."""
    return _build(mode="Join", server=server, database=database, service_account=service_account)


def build_update_secret_server_xml(name: str) -> str:
    """The ``ssomanage -updatedb`` file: exactly ``<sso><globalInfo><secretServer>NAME</secretServer>...``."""
    _require(name, "secret server name")
    if name != name.strip():
        raise SsoXmlError("secret server name must not have leading or trailing whitespace")
    root = etree.Element("sso")
    info = etree.SubElement(root, "globalInfo")
    etree.SubElement(info, "secretServer").text = name
    return etree.tostring(root, encoding="unicode")


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

    plain(root, "sso")
    if root.getprevious() is not None or root.getnext() is not None:
        raise SsoXmlError("nothing but <sso> is allowed at the top level")
    if root.text is not None and root.text.strip():
        raise SsoXmlError("text inside <sso> is not allowed")
    if len(root) != 1:
        raise SsoXmlError("<sso> must hold exactly one child, <globalInfo>")
    info = root[0]
    plain(info, "globalInfo")
    if info.text is not None and info.text.strip():
        raise SsoXmlError("text inside <globalInfo> is not allowed")
    if len(info) != 1:
        raise SsoXmlError("<globalInfo> must hold only <secretServer> (design rule 6)")
    secret_server = info[0]
    plain(secret_server, "secretServer")
    if len(secret_server):
        raise SsoXmlError("<secretServer> must hold only text")
    name = (secret_server.text or "").strip()
    if not name:
        raise SsoXmlError("<secretServer> must not be empty")
    return name
