"""The element IDs of Configuration.exe's silent XML, and the model a parsed file yields.

Why apart: the builder and the parser (and the simulator's reader) must agree on these names; one copy.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

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
