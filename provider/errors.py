"""Stable error identities (``ESSO-NNN``) shared by the spec, the transports, the simulator and the providers.

Why a catalogue: a platform engineer greps a failed ``pulumi up`` for the ID and finds the fix in the
error table in docs/reference.md. Each entry carries the advice of Microsoft's "How to Cluster the Master
Secret Server" (the clustering procedure), so the message names the remedy, not
only the symptom. Messages never contain secret values: callers pass names, never passwords.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorInfo:
    """One catalogue entry: what went wrong and what a person should do about it."""

    code: str
    title: str
    fix: str


# The catalogue. IDs are a contract: never renumber, only append.
CATALOGUE: dict[str, ErrorInfo] = {
    e.code: e
    for e in (
        ErrorInfo(
            "ESSO-001",
            "Network Load Balancing is present on the node",
            "Microsoft's clustering procedure cautions: the master secret server cannot be installed on an NLB "
            "cluster. Remove the NLB feature (Uninstall-WindowsFeature NLB) or choose another node.",
        ),
        ErrorInfo(
            "ESSO-002",
            "SSO group is not a domain global security group",
            "Clustering procedure, step 2: create 'SSO Administrators' and 'SSO Affiliate Administrators' as domain "
            "global security groups (New-ADGroup -GroupScope Global -GroupCategory Security).",
        ),
        ErrorInfo(
            "ESSO-003",
            "ENTSSO service account lacks SSO Administrators membership or 'Log on as a service'",
            "Clustering procedure, step 3: the service account must be in SSO Administrators and hold "
            "SeServiceLogonRight on every node; configuration fails otherwise.",
        ),
        ErrorInfo(
            "ESSO-004",
            "The configuring account's logon token does not carry SSO Administrators",
            "Clustering procedure, step 4: add the configuring account to SSO Administrators, then open a new logon "
            "session (a token issued before the membership was added does not carry it). With Kerberos, get a new "
            "ticket first (kdestroy, then kinit -f; on Windows klist purge): the group travels in the TGT.",
        ),
        ErrorInfo(
            "ESSO-005",
            "The node is already configured for a different SSO system",
            "Unconfigure Enterprise SSO on that node (not Configuration.exe /U, which removes every "
            "BizTalk feature) or point the stack at the SSO database the node already uses.",
        ),
        ErrorInfo(
            "ESSO-006",
            "Join refused: different SSO database or service account than the system's creator",
            "Clustering procedure, step 15: join with the same SSO database and the same domain service account that "
            "created the system; the registry copy of the secret is bound to that account.",
        ),
        ErrorInfo(
            "ESSO-007",
            "The secret server name is not the Network Name of the role that holds ENTSSO",
            "Set cluster.networkName to the 'Name' of the role's Network Name resource; "
            "ssomanage -updatedb accepts a file holding only <secretServer>.",
        ),
        ErrorInfo(
            "ESSO-008",
            "No clustered MSDTC, or its CID is not unique",
            "Create a clustered Distributed Transaction Coordinator first (the clustering procedure: 'Improving Fault "
            "Tolerance in BizTalk Server'); if the CID is duplicated run msdtc -uninstall/-install.",
        ),
        ErrorInfo(
            "ESSO-009",
            "The cluster role lacks an IP Address or a Network Name resource",
            "Clustering procedure, step 5: use a role with an IP Address and a Network Name resource (see 'How to "
            "Create a Cluster Group with a Disk, IP Address, and Name Resource').",
        ),
        ErrorInfo(
            "ESSO-010",
            "Clustered ENTSSO without UseNetworkName=1 or without the Name dependency (0x800706D9)",
            "Clustering procedure (IMPORTANT): select 'Use Network Name for computer name' and add the dependency on "
            "the Name: resource, or SSO clients fail with 0x800706D9 (no endpoints available).",
        ),
        ErrorInfo(
            "ESSO-011",
            "Restore attempted without the role on the node and an ENTSSO offline/online cycle there",
            "Clustering procedure, restore steps 1-3: bring the role online, move it to the node, take ENTSSO offline "
            "and online, then restore.",
        ),
        ErrorInfo(
            "ESSO-012",
            "The master secret backup file or its password does not match",
            "Use the backup taken when the SSO system was created and its password; verify the escrowed SHA-256.",
        ),
        ErrorInfo(
            "ESSO-013",
            "Failover verification failed",
            "Clustering procedure, restore step 7: the ENTSSO resource must be Online on the node, the node must hold "
            "the database's current master secret (SSOSS) and report itself the clustered secret "
            "server. Restore the secret on that node.",
        ),
        ErrorInfo(
            "ESSO-014",
            "ENTSSO is a cluster resource: it must not be cycled with the service controller",
            "Use Stop-ClusterResource/Start-ClusterResource; the local service controller fights the cluster.",
        ),
        ErrorInfo(
            "ESSO-015",
            "This step needs a second hop (SQL Server or a domain controller) the transport does not declare",
            "Set transport.secondHop to 'credssp' (auth credssp) or 'kerberos-delegation' (auth "
            "kerberos with delegation); without it the step runs as ANONYMOUS and fails.",
        ),
        ErrorInfo(
            "ESSO-016",
            "Enterprise SSO is not installed, or not at the same version on every node",
            "Clustering procedure, install step 1: install the ESSO Administration Module and Master Secret Server "
            "at the same version on every node; do not run BizTalk Configuration.",
        ),
        ErrorInfo(
            "ESSO-017",
            "A configured node is not a member of the failover cluster, or is not Up",
            "Add the node to the cluster (Add-ClusterNode) or resume it before running up.",
        ),
        ErrorInfo(
            "ESSO-018",
            "'Log on as a service' is granted only by a Group Policy that would revert a local grant",
            "Add the service account to the GPO that sets 'Log on as a service' on the nodes.",
        ),
        ErrorInfo(
            "ESSO-019",
            "This change moves the role or cycles ENTSSO and the stack does not allow disruption",
            "Set allowDisruption: true for this run (during a maintenance window) and run up again.",
        ),
        ErrorInfo(
            "ESSO-020",
            "The SSO system would be replaced but it is protected",
            "A new SSO database means a new SSO system. Set policy.protectSsoSystem: false and "
            "allowDisruption: true, run up, and keep the old database and escrow until verified.",
        ),
        ErrorInfo(
            "ESSO-021",
            "The node is unreachable and still a cluster member",
            "Evict the node from the cluster (Remove-ClusterNode) and run up again, or bring it back.",
        ),
        ErrorInfo(
            "ESSO-022",
            "The escrowed master secret backup failed its integrity check",
            "The stored object does not match its recorded SHA-256: restore a previous version from "
            "the escrow; nothing was restored.",
        ),
        ErrorInfo(
            "ESSO-023",
            "The escrow location is not allowed",
            "A local escrow needs an explicit persistent path (escrow.path) outside temporary "
            "folders; use escrow.kind: s3 for shared environments.",
        ),
        ErrorInfo(
            "ESSO-024",
            "The S3 escrow bucket is unsafe (no versioning or public access not fully blocked)",
            "Enable bucket versioning and set all four PublicAccessBlock flags to true.",
        ),
        ErrorInfo(
            "ESSO-025",
            "No master secret backup is available to restore",
            "Run up with the first node reachable (it backs the secret up), or restore the escrow.",
        ),
        ErrorInfo(
            "ESSO-026",
            "The node does not report itself the running, clustered secret server",
            "Check the ENTSSO resource's UseNetworkName and the secret server name, then cycle it.",
        ),
        ErrorInfo(
            "ESSO-027",
            "Configuration.exe did not finish in time; its process tree was killed",
            "Read the log the message names (kept, secrets masked, in an Administrators-only folder under "
            "%windir%\\Temp), fix what it shows (often a dialog or an unreachable SQL Server), then run up "
            "again: the step is idempotent.",
        ),
        ErrorInfo(
            "ESSO-028",
            "The ActiveDirectory PowerShell module is not installed on the node",
            "Run Install-WindowsFeature RSAT-AD-PowerShell on the first node (the SSO groups are read and "
            "created from there); a domain controller must run Active Directory Web Services (TCP 9389).",
        ),
        ErrorInfo(
            "ESSO-029",
            "The master secret backup ran on a node where the clustered ENTSSO is not online",
            "Back up on the node that owns the role (the master secret server); run up again, it picks that node.",
        ),
        ErrorInfo(
            "ESSO-030",
            "WinRM authentication failed",
            "Check transport.auth and the configuring account's password (winrmPassword).",
        ),
        ErrorInfo(
            "ESSO-031",
            "The node is unreachable over WinRM",
            "Check the node's address and port, the firewall, and that WinRM listens (winrm quickconfig).",
        ),
        ErrorInfo(
            "ESSO-032",
            "TLS certificate verification failed",
            "Set transport.caBundle to the CA bundle that signed the node's WinRM certificate.",
        ),
        ErrorInfo(
            "ESSO-033",
            "The WinRM operation timed out",
            "Raise transport.readTimeout/operationTimeout, or check the node's load.",
        ),
        ErrorInfo(
            "ESSO-034",
            "WinRM returned a fault",
            "Read the fault code and reason; check the WinRM service and its quotas (MaxEnvelopeSize).",
        ),
        ErrorInfo(
            "ESSO-035",
            "The remote PowerShell script raised a terminating error",
            "Read the message, category and target; fix the node's state and run up again.",
        ),
        ErrorInfo(
            "ESSO-036",
            "The remote PowerShell script reported non-terminating errors",
            "Read each error; the step did not complete cleanly.",
        ),
        ErrorInfo(
            "ESSO-037",
            "The remote script's result does not match its contract",
            "The script and the provider disagree (a version mismatch); report it with the script name.",
        ),
        ErrorInfo(
            "ESSO-040",
            "The stack configuration is invalid",
            "Fix the named key as the message says; run python -m provider.spec check on the stack file.",
        ),
        ErrorInfo(
            "ESSO-041",
            "Injected simulator fault",
            "A test asked the simulator to fail this script on this node.",
        ),
        ErrorInfo(
            "ESSO-060",
            "The script did not finish within its deadline and may still be running on the node",
            "Do not run up again yet: on the node, check the script's process (Configuration.exe, ssomanage, a "
            "cluster role move) in Task Manager or Get-Process, and the Application and FailoverClustering event "
            "logs; when it has ended, run up again (it reads the state first). A slow but healthy step needs a "
            "longer deadline.",
        ),
        ErrorInfo(
            "ESSO-061",
            "The WinRM endpoint denied access to the configuring account",
            "The account authenticated but may not use the endpoint: add it to the node's Administrators or Remote "
            "Management Users group, check the endpoint's ACL (Get-PSSessionConfiguration, Set-PSSessionConfiguration "
            "-ShowSecurityDescriptorUI) or JEA role, and LocalAccountTokenFilterPolicy for a local account.",
        ),
        ErrorInfo(
            "ESSO-070",
            "A script was to run on a host that is not one of the configured nodes",
            "Nothing was sent to that host. A node's reply named it (a cluster member, or the role's owner): add it "
            "to cluster.nodes if it should serve the master secret, or move the role to a configured node; if you "
            "do not know the host, treat the node that reported it as compromised.",
        ),
        ErrorInfo(
            "ESSO-080",
            "A file read from a node is larger than allowed, or its chunks are not what was asked for",
            "Nothing was kept. A master secret backup is a few KB: check the file on the node (it may not be "
            "the backup) and the node itself; a node that answers more than it was asked may be compromised.",
        ),
        ErrorInfo(
            "ESSO-081",
            "A node's script result is larger, or nested deeper, than any result of this tool",
            "Nothing of it was used. Check that the node runs this tool's scripts unmodified (a version "
            "mismatch or a compromised node); the limit is Remote.max_result_chars.",
        ),
        ErrorInfo(
            "ESSO-090",
            "The stack and the SSO database disagree on whether the SSO system exists",
            "existingSystem is set but the database does not exist: correct database.server/database.name, or remove "
            "existingSystem to create a new system. Or the database exists and existingSystem is not set: set "
            "existingSystem.masterSecretServer (or existingSystem.backupFile) to adopt it (docs/adopt.md).",
        ),
        ErrorInfo(
            "ESSO-091",
            "The stack names other SSO groups or another service account than the existing SSO system uses",
            "A node joins an existing system only with its service account and groups (Join an existing SSO system): "
            "set sso.serviceAccount, sso.adminGroup and sso.affiliateAdminGroup to the values the message reports.",
        ),
        ErrorInfo(
            "ESSO-092",
            "The current master secret server cannot give the existing master secret",
            "existingSystem.masterSecretServer must be reachable over WinRM with the stack's transport and account, "
            "configured for this SSO database, named by it as the secret server, and hold its master secret: "
            "correct the name, make WinRM reach it, or, if that server is gone, give existingSystem.backupFile.",
        ),
        ErrorInfo(
            "ESSO-093",
            "The provided master secret backup cannot be used",
            "existingSystem.backupFile must exist on the machine that runs Pulumi and hold the master secret whose "
            "MSID the SSO database uses, and backupPassword must be its password: take a new backup on a server "
            "that holds the secret (ssoconfig -backupSecret) or give the right file and password.",
        ),
        ErrorInfo(
            "ESSO-100",
            "A master secret rotation was refused before anything changed",
            "Every node must be reachable and hold the current master secret, the clustered ENTSSO must be online "
            "and the escrow writable: fix what the message names (run up without changing "
            "sso.masterSecretRotation to restore a node first) and run up again.",
        ),
        ErrorInfo(
            "ESSO-101",
            "Stored credentials were not re-encrypted under the new master secret in time",
            "The new secret is generated and escrowed; nothing moved the role. Wait for the master secret server to "
            "finish (the SSO database then reports the new MSID) and run up again: it continues the rotation.",
        ),
    )
}


class EssoError(Exception):
    """An error a person can act on: the ID, the node, the step, what happened and the fix."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        node: str | None = None,
        step: str | None = None,
    ) -> None:
        info = CATALOGUE[code]
        self.code = code
        self.detail = detail
        self.node = node
        self.step = step
        self.fix = info.fix
        where = ", ".join(p for p in (f"node {node}" if node else "", f"step {step}" if step else "") if p)
        prefix = f"{code} {info.title}" + (f" ({where})" if where else "")
        super().__init__(f"{prefix}: {detail} Fix: {info.fix}")


def error_table_markdown() -> str:
    """The README's error table, generated so the catalogue and the docs cannot drift apart."""
    rows = ["| ID | What went wrong | What to do |", "|---|---|---|"]
    rows += [f"| {e.code} | {e.title} | {e.fix} |" for e in CATALOGUE.values()]
    return "\n".join(rows)


# Windows and ESSO failures the clustering procedure gives advice for, recognised in a raw error text.
# The first match wins.
KNOWN_WINDOWS_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"0x800706D9|no more endpoints available from the endpoint mapper", re.I), "ESSO-010"),
    (re.compile(r"(MSDTC|Distributed Transaction Coordinator).{0,80}(not|unavailable|cannot|fail)", re.I), "ESSO-008"),
    (re.compile(r"Network Name.{0,80}(not found|missing|does not exist|cannot|no such)", re.I), "ESSO-009"),
    (re.compile(r"not (a )?member of (the )?.{0,40}SSO Administrators", re.I), "ESSO-004"),
    (re.compile(r"Log ?on as a service|SeServiceLogonRight|error 1069", re.I), "ESSO-003"),
)


def classify_windows_error(text: str) -> str | None:
    """The ESSO code whose advice fits a raw Windows/ESSO error text, or None."""
    for pattern, code in KNOWN_WINDOWS_ERRORS:
        if pattern.search(text):
            return code
    return None
