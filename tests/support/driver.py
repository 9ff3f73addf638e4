"""Simulator test machinery: the Configuration.exe / ssomanage XML, and a driver that runs the seed's
procedure script by script through ``SimulatorRemote.run`` (no providers involved).

Why a private XML builder: ``provider.ssoxml`` is the product's producer; the simulator tests build the
shape of reference/biztalk-esso.md §2.3 themselves, so both sides are checked against the sample.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import SecretStr

from provider import contracts
from provider.remote.simulator import Simulator, SimulatorRemote, demo_world

SQL = "SQL01"
DB = "SSODB"
NETNAME = "BIZTALKSSO"
ROLE = "SSO"
RESOURCE = "Enterprise Single Sign-On Service"
NETNAME_RESOURCE = "SSO-NetName"
SERVICE = "CONTOSO\\svc-entsso"
CONFIGURER = "CONTOSO\\esso-config"
ADMIN = "SSO Administrators"
AFFILIATE = "SSO Affiliate Administrators"
QUALIFIED_ADMIN = "CONTOSO\\SSO Administrators"
BACKUP_FILE = "C:\\Program Files\\Common Files\\Enterprise Single Sign-On\\SSOSecret.bak"
SERVICE_PW = "Svc-Pw-4c1f!x"
BACKUP_PW = "Bak-Pw-77aa#y"

_IDS = {
    "password": "SSO_ID_BACKUP_SECRET_PASSWORD",
    "confirm": "SSO_ID_BACKUP_SECRET_PASSWORD_CONFIRM",
    "reminder": "SSO_ID_BACKUP_SECRET_REMINDER",
}
_NTACCOUNT = {"ScopeType": "105", "UpLevelFlags": "672", "DownLevelFlags": "2147516422"}


def sso_xml(
    mode: str,
    *,
    server: str = SQL,
    database: str = DB,
    account: str = SERVICE,
    admin: str = QUALIFIED_ADMIN,
    affiliate: str = "CONTOSO\\" + AFFILIATE,
    backup_file: str = BACKUP_FILE,
    reminder: str = "",
    filled: dict[str, str] | None = None,
) -> str:
    """The SSO feature of a Configuration.exe silent file; ``filled`` puts text in password nodes (to test refusal)."""
    filled = filled or {}
    root = etree.Element("Configuration")
    feature = etree.SubElement(root, "Feature", Name="SSOServer,Engine", DisplayName="Enterprise Single Sign-On")
    question = etree.SubElement(feature, "Question", ID="IsSecretServer", Answers="Create,Join", Default="Create")
    create = etree.SubElement(question, "Answer", Value="Create", GUID="{FB7268BE-82D4-4cad-8CFF-6930303DA7E2}")
    for ident, group in (("SSOAdminGroup", admin), ("SSOAffiliateAdminGroup", affiliate)):
        credential = etree.SubElement(create, "NTCredential", ID=ident)
        etree.SubElement(credential, "NTAccount", attrib=_NTACCOUNT).text = group if mode == "Create" else None
    backup = etree.SubElement(create, "FILE", ID="SSO_ID_BACKUP_SECRET_FILE")
    etree.SubElement(backup, "Value").text = backup_file if mode == "Create" else None
    for key, ident in _IDS.items():
        name = etree.SubElement(create, "Name", ID=ident)
        etree.SubElement(name, "Value").text = reminder if key == "reminder" else filled.get(key)
    join = etree.SubElement(question, "Answer", Value="Join", GUID="{B9432756-1620-4bec-8CD9-E6D0B7805AA5}")
    (create if mode == "Create" else join).set("Selected", "Yes")
    service = etree.SubElement(feature, "NTService", ID="ENTSSO")
    domain, user = account.split("\\", 1)
    etree.SubElement(service, "UserName").text = user
    etree.SubElement(service, "Domain").text = domain
    etree.SubElement(service, "Password").text = filled.get("service")
    sql = etree.SubElement(feature, "SQL", ID="SSO_DB_ID")
    etree.SubElement(sql, "Server").text = server
    etree.SubElement(sql, "Database").text = database
    etree.SubElement(sql, "WindowsSecurity", Editable="no").text = "yes"
    etree.SubElement(sql, "UserName")
    etree.SubElement(sql, "Password").text = filled.get("sql")
    return etree.tostring(root, encoding="unicode")


def update_xml(name: str, extras: Sequence[tuple[str, str]] = ()) -> str:
    """The ``ssomanage -updatedb`` file: ``<sso><globalInfo><secretServer>``, plus optional other elements."""
    root = etree.Element("sso")
    info = etree.SubElement(root, "globalInfo")
    for tag, text in extras:
        etree.SubElement(info, tag).text = text
    etree.SubElement(info, "secretServer").text = name
    return etree.tostring(root, encoding="unicode")


class Driver:
    """The seed procedure as single script calls, so each test can stop, break or repeat any step.

    Tests reach the names and XML builders through the fixture (``d.NETNAME``, ``d.sso_xml(...)``), so no
    test module imports this conftest.
    """

    SQL, DB, NETNAME, ROLE, RESOURCE, NETNAME_RESOURCE = SQL, DB, NETNAME, ROLE, RESOURCE, NETNAME_RESOURCE
    SERVICE, CONFIGURER, ADMIN, AFFILIATE, QUALIFIED_ADMIN = SERVICE, CONFIGURER, ADMIN, AFFILIATE, QUALIFIED_ADMIN
    BACKUP_FILE, SERVICE_PW, BACKUP_PW = BACKUP_FILE, SERVICE_PW, BACKUP_PW
    sso_xml = staticmethod(sso_xml)
    update_xml = staticmethod(update_xml)

    def __init__(self, tmp_path: Path, nodes: Sequence[str] = ("SSO01", "SSO02"), **remote_kw: Any) -> None:
        self.state = tmp_path / "world.json"
        self.sim = Simulator(self.state)
        self.sim.seed(demo_world(nodes=list(nodes)))
        self.nodes = list(nodes)
        self.remote = SimulatorRemote(self.state, **remote_kw)

    @property
    def home(self) -> str:
        return self.nodes[0]

    def run(self, node: str, script: contracts.Script[Any, Any], params: contracts.Params) -> Any:
        return self.remote.run(node, script, params)

    # ---- facts -------------------------------------------------------------------------------
    def facts(self, node: str) -> contracts.NodeFacts:
        params = contracts.GetNodeFactsParams(service_account=SERVICE, admin_group=QUALIFIED_ADMIN)
        result: contracts.NodeFacts = self.run(node, contracts.GET_NODE_FACTS, params)
        return result

    def cluster(self, via: str | None = None) -> contracts.ClusterFacts:
        params = contracts.GetClusterFactsParams(role_name=ROLE)
        result: contracts.ClusterFacts = self.run(via or self.home, contracts.GET_CLUSTER_FACTS, params)
        return result

    def database(self, via: str | None = None) -> contracts.SsoDatabaseFacts:
        params = contracts.SsoDatabaseParams(server=SQL, database=DB)
        result: contracts.SsoDatabaseFacts = self.run(via or self.home, contracts.GET_SSO_DATABASE_FACTS, params)
        return result

    # ---- install steps 2-4 -------------------------------------------------------------------
    def groups(self, admin: str = ADMIN) -> Any:
        members = [SERVICE.split("\\")[1], CONFIGURER.split("\\")[1]]
        params = contracts.DomainGroupsParams(admin_group=admin, affiliate_admin_group=AFFILIATE, members=members)
        return self.run(self.home, contracts.SET_SSO_DOMAIN_GROUPS, params)

    def grant(self, node: str) -> Any:
        return self.run(node, contracts.GRANT_SERVICE_LOGON_RIGHT, contracts.AccountParams(account=SERVICE))

    def prepare(self) -> None:
        """Seed install steps 2-4, then a new logon session everywhere (rule 13)."""
        self.groups()
        for node in self.nodes:
            self.grant(node)
            self.remote.renew_logon(node)

    # ---- configuration (steps 5-19) ----------------------------------------------------------
    def install(self, node: str | None = None, *, backup_pw: str = BACKUP_PW, **xml: Any) -> contracts.InstallSsoResult:
        params = contracts.InstallSsoParams(
            config_xml=sso_xml("Create", **xml),
            server=xml.get("server", SQL),
            database=xml.get("database", DB),
            service_account_password=SecretStr(SERVICE_PW),
            backup_password=SecretStr(backup_pw),
        )
        result: contracts.InstallSsoResult = self.run(node or self.home, contracts.INSTALL_SSO_SYSTEM, params)
        return result

    def join(self, node: str, **xml: Any) -> Any:
        params = contracts.JoinSsoParams(
            config_xml=sso_xml("Join", **xml),
            server=xml.get("server", SQL),
            database=xml.get("database", DB),
            service_account_password=SecretStr(SERVICE_PW),
        )
        return self.run(node, contracts.JOIN_SSO_SYSTEM, params)

    def backup(self, node: str | None = None, *, password: str = BACKUP_PW, overwrite: bool = False) -> Any:
        params = contracts.BackupParams(
            backup_file=BACKUP_FILE, backup_password=SecretStr(password), reminder="", overwrite=overwrite
        )
        return self.run(node or self.home, contracts.BACKUP_MASTER_SECRET, params)

    def restart_service(self, node: str) -> Any:
        return self.run(node, contracts.RESTART_ENTSSO_SERVICE, contracts.NoParams())

    def rename(self, node: str | None = None, name: str = NETNAME, xml: str | None = None) -> Any:
        params = contracts.SecretServerParams(
            secret_server=name, update_xml=xml if xml is not None else update_xml(name)
        )
        return self.run(node or self.home, contracts.SET_SECRET_SERVER_NAME, params)

    # ---- the clustered resource ----------------------------------------------------------------
    def cluster_service(
        self, via: str | None = None, netname: str = NETNAME_RESOURCE
    ) -> contracts.ClusteredServiceResult:
        params = contracts.ClusteredServiceParams(
            role_name=ROLE, resource_name=RESOURCE, network_name_resource=netname, service_account=SERVICE
        )
        result: contracts.ClusteredServiceResult = self.run(
            via or self.home, contracts.SET_CLUSTERED_SSO_SERVICE, params
        )
        return result

    def owners(self, owners: Sequence[str] | None = None) -> Any:
        params = contracts.PossibleOwnersParams(resource_name=RESOURCE, owners=list(owners or self.nodes))
        return self.run(self.home, contracts.SET_SSO_POSSIBLE_OWNERS, params)

    def start_mode(self, node: str) -> Any:
        return self.run(node, contracts.SET_ENTSSO_START_MODE, contracts.StartModeParams(start_mode="Manual"))

    def move(self, node: str) -> Any:
        return self.run(node, contracts.MOVE_SSO_ROLE, contracts.MoveRoleParams(role_name=ROLE, node=node))

    def cycle(self, node: str) -> Any:
        return self.run(node, contracts.RESTART_SSO_CLUSTER_RESOURCE, contracts.ResourceParams(resource_name=RESOURCE))

    # ---- restore -----------------------------------------------------------------------------
    def restore(self, node: str, data: bytes, *, password: str = BACKUP_PW, msid: str | None = None) -> Any:
        """Copy the backup to a protected folder on the node, restore from it, remove the folder."""
        expected = msid or self.database().msid
        assert expected
        made = self.run(
            node, contracts.NEW_PROTECTED_TEMP_DIR, contracts.TempDirParams(run_id=uuid.uuid4().hex, reader=SERVICE)
        )
        folder = made.after.path
        try:
            path = f"{folder}\\SSOSecret.bak"
            self.remote.send_file(node, path, data)
            params = contracts.RestoreParams(
                backup_file=path, backup_password=SecretStr(password), expected_msid=expected
            )
            return self.run(node, contracts.RESTORE_MASTER_SECRET, params)
        finally:
            self.run(node, contracts.REMOVE_PROTECTED_PATH, contracts.PathParams(path=folder))

    # ---- whole sections ----------------------------------------------------------------------
    def configure(self) -> bytes:
        """Install/configure on every node, rename, cluster ENTSSO; returns the fetched backup file."""
        self.prepare()
        self.install()
        self.backup()
        data = self.remote.fetch_file(self.home, BACKUP_FILE)
        for node in self.nodes[1:]:
            self.join(node)
        self.restart_service(self.home)
        self.rename()
        self.cluster_service()
        self.owners()
        for node in self.nodes:
            self.start_mode(node)
        return data

    def failover(self, visit: Sequence[str]) -> None:
        """Seed restore step 7: move to each node, check it serves, and come home."""
        for node in [*visit, self.home]:
            self.move(node)
            status = self.facts(node).secret_server_status
            assert (status.flags, status.running, status.clustered) == (0x22, True, True), (node, status)

    def full(self) -> bytes:
        data = self.configure()
        for k, node in enumerate(self.nodes[1:], start=1):
            self.move(node)
            self.cycle(node)
            self.restore(node, data)
            self.failover(self.nodes[: k + 1])
        return data
