<#
.SYNOPSIS
    Creates a new SSO system on the first node with Configuration.exe in silent mode (idempotent).

.DESCRIPTION
    Seed: steps 5-12 (Custom Configuration; Enterprise SSO: "Create a new SSO system" with the data store, the
    service account and the domain SSO groups; Enterprise SSO Secret Backup).

    Reads HKLM\SOFTWARE\Microsoft\ENTSSO\SQL (both registry views). When the node is already configured for
    Server/Database nothing changes (adopting a converged node); when it is configured for another SSO system
    the script refuses (ESSO-005, design rule 4). A node with NLB is refused (ESSO-001, rule 1).

    Changes: fills the empty password nodes of ConfigXml (NTService ENTSSO Password; SSO_ID_BACKUP_SECRET_PASSWORD
    and _CONFIRM) from the SecureString parameters, converted to plaintext only in memory (Use-PlainSecret:
    SecureStringToBSTR, ZeroFreeBSTR in finally); writes the XML into the folder %windir%\Temp\esso-config-create
    (one fixed name per step, so a folder an interrupted run left is emptied and removed by the next run first;
    issue 14) with an Administrators-only ACL; runs Configuration.exe /S <xml> /L <log> /noprogressbar in its
    folder, waiting at most TimeoutMinutes (then its process tree is killed, the log kept, ESSO-027); judges success
    by the exit code and the ENTSSO\SQL values read afterwards (the log only feeds the message); empties
    and removes the folder in a finally. Never Configuration.exe /U.

    After the run the database must name the SSO Administrators group the file named (gi_SSOAdminGroup, ESSO-002).

    Returns the new master secret id (the SSOSS GUID subkey the run created) and the backup file path that
    Configuration.exe wrote (SSO_ID_BACKUP_SECRET_FILE).

    [INFERRED]
    - Configuration.exe is found through BTSINSTALLPATH or HKLM\SOFTWARE\Microsoft\BizTalk Server\3.0 InstallPath.
    - On an already configured node msid is the most recently written SSOSS subkey; an empty SSOSS there is
      refused (ESSO-025): a run that stopped before the secret existed is not adopted. A missing backup file
      there is not written again: the caller removes the file once escrowed (issue 13 M4) and backs the secret
      up with Backup-MasterSecret when its escrow lacks it (issue 14: a run stopped before the backup).
    - The SSO database must not exist yet (Create also creates it): checked here before Configuration.exe runs
      (sys.databases), as the simulator does.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$ConfigXml,
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$Server,
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$Database,
    [Parameter(Mandatory)] [System.Security.SecureString]$ServiceAccountPassword,
    [Parameter(Mandatory)] [System.Security.SecureString]$BackupPassword,
    [Parameter(Mandatory)] [ValidateRange(1, 1440)] [int]$TimeoutMinutes
)

$ErrorActionPreference = 'Stop'

#esso:include EssoRegistry, EssoInterop, PlainSecret, MasterSecret, Nlb, ProtectedPath, SafeXml, ConfigurationExe, SsoDatabase

$feature = "/Configuration/Feature[@Name='SSOServer,Engine']"
$servicePasswordXPath = $feature + "/NTService[@ID='ENTSSO']/Password"
$backupPasswordXPath = $feature + "/Question[@ID='IsSecretServer']/Answer[@Value='Create']/Name[@ID='SSO_ID_BACKUP_SECRET_PASSWORD']/Value"
$backupConfirmXPath = $feature + "/Question[@ID='IsSecretServer']/Answer[@Value='Create']/Name[@ID='SSO_ID_BACKUP_SECRET_PASSWORD_CONFIRM']/Value"
$sqlPasswordXPath = $feature + "/SQL[@ID='SSO_DB_ID']/Password"
$backupFileXPath = $feature + "/Question[@ID='IsSecretServer']/Answer[@Value='Create']/FILE[@ID='SSO_ID_BACKUP_SECRET_FILE']/Value"

$document = Read-XmlSafely -Text $ConfigXml
Assert-ConfigXml -Document $document -Mode 'Create' -Server $Server -Database $Database -PasswordXPaths @(
    $servicePasswordXPath,
    $backupPasswordXPath,
    $backupConfirmXPath,
    $sqlPasswordXPath
)
foreach ($groupId in @('SSOAdminGroup', 'SSOAffiliateAdminGroup')) {
    # Microsoft's samples write DOMAIN\group; a bare name is looked up on this machine first and may bind a local
    # group of that name (how-to-update-the-sso-database.md; review ps_fidelity F5).
    $account = $document.SelectSingleNode($feature + "/Question[@ID='IsSecretServer']/Answer[@Value='Create']/NTCredential[@ID='" + $groupId + "']/NTAccount")
    if ($null -eq $account -or $account.InnerText -notmatch '^[^\\]+\\[^\\]+$') {
        throw ('ESSO-002 ConfigXml must name the {0} as DOMAIN\group (a domain global security group).' -f $groupId)
    }
}
$backupFileNode = $document.SelectSingleNode($backupFileXPath)
if ($null -eq $backupFileNode -or $backupFileNode.InnerText.Trim() -eq '') {
    throw 'ConfigXml must name the master secret backup file (SSO_ID_BACKUP_SECRET_FILE).'
}
$backupFile = $backupFileNode.InnerText

# Before anything else: a working folder an interrupted run left is emptied and removed (issue 14).
$workDir = Get-ConfigurationWorkFolder -Step 'create'
$before = Get-SsoConfigStateFor -Server $Server -Database $Database
$changed = $false
if ($null -ne $before) {
    # Adopting a configured node: a Configuration.exe run that wrote ENTSSO\SQL but failed before the secret
    # and its backup existed (0x80070005 "Failed to generate and backup the master secret") must not pass for a
    # finished one (review ps_fidelity F16; issue 9 B).
    $after = $before
    $msid = Get-CurrentMsid
    if ($null -eq $msid) {
        throw ('ESSO-025 {0} is configured for {1}/{2} but holds no master secret (HKLM\SOFTWARE\Microsoft\ENTSSO\SSOSS is empty): an earlier Configuration.exe run stopped half way. Unconfigure Enterprise SSO on it and drop the new SSO database, then run up again.' -f $env:COMPUTERNAME, $Server, $Database)
    }
    # A missing backup file is not repaired here: once escrowed and read back the caller removes it (issue 13
    # M4), and when its escrow does not hold this system's backup (a run stopped before the backup was written,
    # issue 14) the caller takes one with Backup-MasterSecret.
}
else {
    $null = Get-EntSsoService
    Assert-NoNlb

    if (Test-SsoDatabaseExists -Server $Server -Database $Database) {
        # "Create a new SSO system" creates the database; an existing one belongs to a system this node must join
        # (seed steps 13-19) and restore, never re-create (issue 9 B; the simulator refuses it alike).
        throw ('The SSO database {0}/{1} already exists: join it and restore the master secret instead, or drop it if it is a leftover.' -f $Server, $Database)
    }
    $msidsBefore = @(Get-SsossMsids)
    Invoke-ConfigurationAnswerFile -Document $document -WorkDir $workDir -Step 'create' -TimeoutMinutes $TimeoutMinutes -XPaths @(
        $servicePasswordXPath,
        $backupPasswordXPath,
        $backupConfirmXPath
    ) -Passwords @($ServiceAccountPassword, $BackupPassword, $BackupPassword)
    $changed = $true

    $after = Get-ConfiguredSsoState -Server $Server -Database $Database
    $created = @(
        foreach ($id in @(Get-SsossMsids)) {
            if ($msidsBefore -notcontains $id) {
                $id
            }
        }
    )
    if ($created.Count -eq 1) {
        $msid = $created[0]
    }
    else {
        $msid = Get-CurrentMsid
    }
    if ($null -eq $msid) {
        throw ('Configuration.exe reported success but {0} holds no master secret (HKLM\SOFTWARE\Microsoft\ENTSSO\SSOSS).' -f $env:COMPUTERNAME)
    }
    if (-not (Test-Path -LiteralPath $backupFile -PathType Leaf)) {
        throw ('Configuration.exe reported success but wrote no master secret backup at {0}.' -f $backupFile)
    }
    # The SSO database must name the group the answer file named (DOMAIN\group), not a name resolved elsewhere
    # (review ps_fidelity F5: check gi_SSOAdminGroup after the run).
    $wantedGroup = $document.SelectSingleNode($feature + "/Question[@ID='IsSecretServer']/Answer[@Value='Create']/NTCredential[@ID='SSOAdminGroup']/NTAccount").InnerText
    $stored = Get-SsoDatabaseState -Server $Server -Database $Database
    if ([string]$stored['adminGroup'] -ne $wantedGroup) {
        throw ('ESSO-002 Configuration.exe configured {0}/{1} with the SSO Administrators group {2}, not {3}.' -f $Server, $Database, $stored['adminGroup'], $wantedGroup)
    }
}

@{
    changed = $changed
    before = $before
    after = $after
    msid = $msid
    backupFile = $backupFile
}
