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

Where: ``model`` (element IDs, ``SsoConfigXml``), ``build`` (the three files), ``parse`` (reading them back).
"""

from __future__ import annotations

from provider.ssoxml.build import _split_account as _split_account
from provider.ssoxml.build import build_create_xml as build_create_xml
from provider.ssoxml.build import build_join_xml as build_join_xml
from provider.ssoxml.build import build_update_secret_server_xml as build_update_secret_server_xml
from provider.ssoxml.model import ADMIN_GROUP_ID as ADMIN_GROUP_ID
from provider.ssoxml.model import AFFILIATE_ADMIN_GROUP_ID as AFFILIATE_ADMIN_GROUP_ID
from provider.ssoxml.model import BACKUP_FILE_ID as BACKUP_FILE_ID
from provider.ssoxml.model import BACKUP_PASSWORD_CONFIRM_ID as BACKUP_PASSWORD_CONFIRM_ID
from provider.ssoxml.model import BACKUP_PASSWORD_ID as BACKUP_PASSWORD_ID
from provider.ssoxml.model import BACKUP_REMINDER_ID as BACKUP_REMINDER_ID
from provider.ssoxml.model import CREATE_GUID as CREATE_GUID
from provider.ssoxml.model import FEATURE_NAME as FEATURE_NAME
from provider.ssoxml.model import INSTALLED_FEATURES as INSTALLED_FEATURES
from provider.ssoxml.model import JOIN_GUID as JOIN_GUID
from provider.ssoxml.model import PASSWORD_XPATHS as PASSWORD_XPATHS
from provider.ssoxml.model import QUESTION_ID as QUESTION_ID
from provider.ssoxml.model import SERVICE_ID as SERVICE_ID
from provider.ssoxml.model import SQL_ID as SQL_ID
from provider.ssoxml.model import SsoConfigXml as SsoConfigXml
from provider.ssoxml.model import SsoXmlError as SsoXmlError
from provider.ssoxml.parse import parse_sso_xml as parse_sso_xml
from provider.ssoxml.parse import parse_update_xml as parse_update_xml
