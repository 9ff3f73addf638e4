<#
.SYNOPSIS
    Joins this node to the existing SSO system with Configuration.exe in silent mode (idempotent).

.DESCRIPTION
    Seed: steps 13-19 (on the passive node, Custom Configuration; Enterprise SSO: "Join an existing SSO system"
    with the same SSO database and the same service account as the first node).

    Reads HKLM\SOFTWARE\Microsoft\ENTSSO\SQL (both registry views). When the node is already configured for
    Server/Database nothing changes; when it is configured for another SSO system the script refuses (ESSO-005,
    design rule 4). A node with NLB is refused (ESSO-001, rule 1): it could never hold the master secret.

    Changes: fills the empty NTService ENTSSO Password of ConfigXml from ServiceAccountPassword, converted to
    plaintext only in memory (Use-PlainSecret: SecureStringToBSTR, ZeroFreeBSTR in finally); writes the XML into the folder
    %windir%\Temp\esso-config-join (one fixed name, emptied and removed first when an interrupted run left it;
    issue 14) with an Administrators-only ACL; runs Configuration.exe /S <xml> /L <log>
    /noprogressbar in its folder, waiting at most TimeoutMinutes (then its process tree is killed, the log kept,
    ESSO-027); judges success by the exit code and the ENTSSO\SQL values read afterwards (the log only feeds the
    message); empties and removes the folder in a finally. Never Configuration.exe /U.

    On a node joining a system whose ENTSSO is already clustered (a replacement node), the local ENTSSO that
    Configuration.exe started is set Manual and stopped unless the cluster runs it here (0x800706D9).

    Before Configuration.exe runs, writes HKLM\SOFTWARE\esso-cluster value JoinedSystem = "Server/Database": the
    evidence that this tool configured the node, which a retry after a lost reply still finds (issue 14), so
    that deleting the join later unconfigures the node. Registry provider cmdlets: New-Item and
    New-ItemProperty -PropertyType String -Force (learn.microsoft.com, "Working with registry entries").

    Rule 5: the same database and the same service account as the creator (the registry copy of the secret is
    bound to that account); the provider checks the account (preflight.check_join_account, against the account
    ENTSSO runs as on the system's other nodes), this script that the database named in ConfigXml exists (ESSO-006).

    [INFERRED]
    - Configuration.exe is found through BTSINSTALLPATH or HKLM\SOFTWARE\Microsoft\BizTalk Server\3.0 InstallPath.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$ConfigXml,
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$Server,
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$Database,
    [Parameter(Mandatory)] [System.Security.SecureString]$ServiceAccountPassword,
    [Parameter(Mandatory)] [ValidateRange(1, 1440)] [int]$TimeoutMinutes
)

$ErrorActionPreference = 'Stop'

#esso:include EssoRegistry, EssoInterop, PlainSecret, Nlb, ProtectedPath, SafeXml, ConfigurationExe, SsoDatabase, Cluster

function Set-JoinMarker {
    # Written before the change, so that a join interrupted after Configuration.exe still reads as this tool's.
    param(
        [string]$Value
    )
    $markerKey = 'HKLM:\SOFTWARE\esso-cluster'
    if (-not (Test-Path -LiteralPath $markerKey)) {
        $null = New-Item -Path $markerKey -Force
    }
    $null = New-ItemProperty -LiteralPath $markerKey -Name 'JoinedSystem' -Value $Value -PropertyType String -Force
}

$feature = "/Configuration/Feature[@Name='SSOServer,Engine']"
$servicePasswordXPath = $feature + "/NTService[@ID='ENTSSO']/Password"
$sqlPasswordXPath = $feature + "/SQL[@ID='SSO_DB_ID']/Password"

$document = Read-XmlSafely -Text $ConfigXml
Assert-ConfigXml -Document $document -Mode 'Join' -Server $Server -Database $Database -PasswordXPaths @(
    $servicePasswordXPath,
    $sqlPasswordXPath
)

# Before anything else: a working folder an interrupted run left is emptied and removed (issue 14).
$workDir = Get-ConfigurationWorkFolder -Step 'join'
$before = Get-SsoConfigStateFor -Server $Server -Database $Database
$changed = $false
if ($null -ne $before) {
    $after = $before
}
else {
    $null = Get-EntSsoService
    Assert-NoNlb

    if (-not (Test-SsoDatabaseExists -Server $Server -Database $Database)) {
        throw ('ESSO-006 There is no SSO database {0}/{1} to join; create the SSO system first (Install-SsoSystem on the first node).' -f $Server, $Database)
    }
    Set-JoinMarker -Value ('{0}/{1}' -f $Server, $Database)
    Invoke-ConfigurationAnswerFile -Document $document -WorkDir $workDir -Step 'join' -TimeoutMinutes $TimeoutMinutes -XPaths @(
        $servicePasswordXPath
    ) -Passwords @($ServiceAccountPassword)
    $changed = $true

    $after = Get-ConfiguredSsoState -Server $Server -Database $Database
    # Configuration.exe leaves ENTSSO Automatic and running. Once ENTSSO is clustered, a local ENTSSO outside the
    # cluster's control keeps the clustered one from registering (0x800706D9, biztalk-esso.md section 8; review
    # F17): on a node that joins a clustered system the service is set Manual and stopped at once, not only by
    # the next Set-EntSsoStartMode.
    $clustered = @(Get-EntSsoClusterResource)
    $ownedHere = @($clustered | Where-Object { [string]$_.OwnerNode.Name -eq $env:COMPUTERNAME -and ([string]$_.State -eq 'Online' -or [string]$_.State -like '*Pending') })
    if ($clustered.Count -gt 0 -and $ownedHere.Count -eq 0) {
        Set-Service -Name 'ENTSSO' -StartupType Manual
        Stop-Service -Name 'ENTSSO' -Force
    }
}

@{
    changed = $changed
    before = $before
    after = $after
}
