<#
.SYNOPSIS
    Backs up the master secret to a password-protected file through ISSOConfigSS.BackupSecret (idempotent).

.DESCRIPTION
    Seed: step 8 ("Enterprise SSO Secret Backup") and restore step 4 (the backup file that is copied to the
    other nodes); the escrow keeps the file this script writes.

    Reads whether BackupFile exists (its SHA-256 and the node's current master secret id). An existing file is
    kept unless Overwrite is true. Otherwise backs the secret up with
    ISSOConfigSS.BackupSecret(file, password, reminder) from Microsoft.EnterpriseSingleSignOn.Interop.dll (as
    skastberg/biztalkps SSOAdminOMWrapper.psm1 calls it; `ssoconfig -backupSecret` prompts and is never used).
    The password arrives as a SecureString and is plaintext only in memory (Use-PlainSecret: ZeroFreeBSTR in finally). When an
    existing file is replaced it is first moved aside (to BackupFile.previous, one fixed name) and put back if
    the backup fails; a run that stopped half way leaves that file where the next run finds it: put back when
    BackupFile is missing, removed when BackupFile exists (issue 14: no copy of a backup outlives a later run).
    (about_Try_Catch_Finally, learn.microsoft.com: a finally does not run when the host process is ended.)

    Runs on the master secret server (the node holding the secret); once ENTSSO is clustered, only on the node
    where its cluster resource is Online (ESSO-029), as Restore-MasterSecret requires. The caller must be a
    Windows administrator and an SSO Administrator.
    When an existing SSO system is adopted (existingSystem.masterSecretServer, docs/adopt.md) it runs on the
    current, standalone master secret server, where ENTSSO is not clustered: "How to Move the Master Secret Server"
    (MicrosoftDocs/biztalk-docs biztalk/core/how-to-move-the-master-secret-server.md), "back up the existing
    master secret", then "copy the existing master secret backup file to ... each cluster node".

    [INFERRED]
    - msid is the node's current master secret (the most recently written SSOSS subkey).
    - Every backup is encrypted afresh, so Overwrite changes the file's SHA-256 on every run.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$BackupFile,
    [Parameter(Mandatory)] [System.Security.SecureString]$BackupPassword,
    [Parameter(Mandatory)] [AllowEmptyString()] [string]$Reminder,
    [Parameter(Mandatory)] [bool]$Overwrite
)

$ErrorActionPreference = 'Stop'

#esso:include EssoRegistry, EssoInterop, PlainSecret, SecretBackup, MasterSecret, FileHash, Cluster

function Get-BackupState {
    if (-not (Test-Path -LiteralPath $BackupFile -PathType Leaf)) {
        return $null
    }
    $currentMsid = Get-CurrentMsid
    if ($null -eq $currentMsid) {
        $currentMsid = ''
    }
    @{
        file = $BackupFile
        sha256 = Get-Sha256 -Path $BackupFile
        msid = $currentMsid
    }
}

$folder = Split-Path -Path $BackupFile -Parent
if (-not (Test-Path -LiteralPath $folder -PathType Container)) {
    throw ('The backup folder {0} does not exist on {1}.' -f $folder, $env:COMPUTERNAME)
}
if ($null -eq (Get-CurrentMsid)) {
    throw ('ESSO-025 {0} holds no master secret (HKLM\SOFTWARE\Microsoft\ENTSSO\SSOSS is empty): back up on the master secret server.' -f $env:COMPUTERNAME)
}

foreach ($resource in @(Get-EntSsoClusterResource)) {
    # BackupSecret runs on the master secret server (how-to-back-up-the-master-secret: "You must log on to the
    # master secret server"); once clustered that is the owner of the online ENTSSO resource (UseNetworkName),
    # as Restore-MasterSecret requires too (issue 9 A10).
    if ([string]$resource.OwnerNode.Name -ne $env:COMPUTERNAME -or [string]$resource.State -ne 'Online') {
        throw ('ESSO-029 The ENTSSO cluster resource {0} is {1} on {2}, not online on {3}; back the master secret up on the node that runs it.' -f $resource.Name, $resource.State, $resource.OwnerNode.Name, $env:COMPUTERNAME)
    }
}

# The previous file is moved aside under one fixed name, so a run that stopped half way (issue 14) leaves it
# where the next run looks: put back when the backup file is missing, removed when a backup file exists.
$aside = '{0}.previous' -f $BackupFile
if (Test-Path -LiteralPath $aside -PathType Leaf) {
    if (Test-Path -LiteralPath $BackupFile -PathType Leaf) {
        Remove-Item -LiteralPath $aside -Force
    }
    else {
        Move-Item -LiteralPath $aside -Destination $BackupFile
    }
}

$before = Get-BackupState
$changed = $false
if ($null -ne $before -and -not $Overwrite) {
    $after = $before
}
else {
    if ($null -ne $before) {
        Move-Item -LiteralPath $BackupFile -Destination $aside
    }
    Invoke-SsoSecretMethod -Method 'BackupSecret' -File $BackupFile -Password $BackupPassword -Reminder $Reminder -Previous $aside
    $changed = $true
    $after = Get-BackupState
    if ($null -eq $after) {
        throw ('BackupSecret reported success but {0} does not exist.' -f $BackupFile)
    }
}

@{
    changed = $changed
    before = $before
    after = $after
}
