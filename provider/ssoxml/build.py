"""Build the silent-configuration files: create, join, and the ``ssomanage -updatedb`` update file.

Why apart: what the files say changes with the seed's procedure; how they are read back does not.
"""

from __future__ import annotations

from typing import Literal

from lxml import etree

from provider.config.names import split_account
from provider.ssoxml.model import (
    _NTACCOUNT_ATTRS,
    ADMIN_GROUP_ID,
    AFFILIATE_ADMIN_GROUP_ID,
    BACKUP_FILE_ID,
    BACKUP_PASSWORD_CONFIRM_ID,
    BACKUP_PASSWORD_ID,
    BACKUP_REMINDER_ID,
    CREATE_GUID,
    FEATURE_NAME,
    INSTALLED_FEATURES,
    JOIN_GUID,
    QUESTION_ID,
    SERVICE_ID,
    SQL_ID,
    SsoXmlError,
)

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


def _nt_credential(parent: etree._Element, credential_id: str, display: str, description: str, group: str) -> None:
    """One SSO group: an ``<NTCredential>`` holding the group (DOMAIN\\group) as its ``<NTAccount>``."""
    credential = _sub(parent, "NTCredential", ID=credential_id, DisplayName=display, Description=description)
    _sub(credential, "NTAccount", group, **_NTACCOUNT_ATTRS)


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
    _nt_credential(
        create,
        ADMIN_GROUP_ID,
        "SSO Administrator(s)",
        "This is the Administrator of the Enterprise Single Sign-On (SSO) system.",
        admin_group,
    )
    _nt_credential(
        create,
        AFFILIATE_ADMIN_GROUP_ID,
        "SSO Affiliate Administrator(s)",
        "The SSO Affiliate Administrator must be able to create Affiliate Applications.",
        affiliate_admin_group,
    )
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
