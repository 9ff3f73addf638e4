<#
.SYNOPSIS
    Generates a new master secret on the master secret server and writes its password-protected backup
    (ISSOConfigSS.GenerateSecret), without a prompt; idempotent for one rotation.

.DESCRIPTION
    Seed: none of its steps (the seed builds and restores a secret, it never replaces one); after rotation the
    other nodes get the new secret through the seed's restore steps 1-7 (Restore-MasterSecret). Issue 17,
    docs/rotation.md. "How to Generate the Master Secret" (MicrosoftDocs/biztalk-docs) does this with
    `ssoconfig -generateSecret <backup file>`, which prompts for the password and is never used here. The same
    operation is ISSOConfigSS.GenerateSecret(backupFile, filePassword, filePasswordReminder) on SSOConfigOM in
    Microsoft.EnterpriseSingleSignOn.Interop.dll ("ISSOConfigSS.GenerateSecret Method", learn.microsoft.com
    biztalk/core/technical-reference/issoconfigss-generatesecret-method; the interop also has BackupSecret and
    RestoreSecret, which Backup-/Restore-MasterSecret call the same way).
    "Master Secret Server" (learn.microsoft.com biztalk/core/master-secret-server): after a new secret is
    generated the master secret server keeps the old and the new one and re-encrypts every stored credential.
    Microsoft documents no signal that re-encryption has finished; the caller waits (bounded) for the SSO
    database to report the new MSID before any role moves [INFERRED], and never moves the role otherwise.

    ExpectedMsid is the current master secret the stack recorded. When the node's current master secret
    (Get-CurrentMsid) is still ExpectedMsid, a new one is generated. When it already differs, an earlier,
    interrupted run generated it (the caller checked every precondition, ESSO-100, before the first call):
    nothing is generated again; the current secret is backed up afresh (BackupSecret) so the caller can escrow
    it. An existing BackupFile is moved aside and put back if the call fails.

    Runs on the node where the clustered ENTSSO resource is Online (ESSO-029), as Backup-MasterSecret. The
    password arrives as a SecureString and is plaintext only in memory (Use-PlainSecret: ZeroFreeBSTR in finally).

    [INFERRED]
    - The new secret becomes the most recently written SSOSS subkey (Get-CurrentMsid).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$BackupFile,
    [Parameter(Mandatory)] [System.Security.SecureString]$BackupPassword,
    [Parameter(Mandatory)] [AllowEmptyString()] [string]$Reminder,
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$ExpectedMsid
)

$ErrorActionPreference = 'Stop'

#esso:include EssoRegistry, EssoInterop, PlainSecret, SecretBackup, MasterSecret, FileHash, Cluster

$folder = Split-Path -Path $BackupFile -Parent
if (-not (Test-Path -LiteralPath $folder -PathType Container)) {
    throw ('The backup folder {0} does not exist on {1}.' -f $folder, $env:COMPUTERNAME)
}
$current = Get-CurrentMsid
if ($null -eq $current) {
    throw ('ESSO-025 {0} holds no master secret (HKLM\SOFTWARE\Microsoft\ENTSSO\SSOSS is empty): generate on the master secret server.' -f $env:COMPUTERNAME)
}
foreach ($resource in @(Get-EntSsoClusterResource)) {
    if ([string]$resource.OwnerNode.Name -ne $env:COMPUTERNAME -or [string]$resource.State -ne 'Online') {
        throw ('ESSO-029 The ENTSSO cluster resource {0} is {1} on {2}, not online on {3}; rotate on the node that runs it.' -f $resource.Name, $resource.State, $resource.OwnerNode.Name, $env:COMPUTERNAME)
    }
}

$generate = ([string]$current).ToLowerInvariant() -eq $ExpectedMsid.ToLowerInvariant()
$method = if ($generate) { 'GenerateSecret' } else { 'BackupSecret' }
$aside = ''
if (Test-Path -LiteralPath $BackupFile -PathType Leaf) {
    $aside = '{0}.{1}.previous' -f $BackupFile, [guid]::NewGuid().ToString('N')
    Move-Item -LiteralPath $BackupFile -Destination $aside
}
Invoke-SsoSecretMethod -Method $method -File $BackupFile -Password $BackupPassword -Reminder $Reminder -Previous $aside
if (-not (Test-Path -LiteralPath $BackupFile -PathType Leaf)) {
    throw ('{0} reported success but {1} does not exist.' -f $method, $BackupFile)
}
$after = [string](Get-CurrentMsid)
if ($after.ToLowerInvariant() -eq $ExpectedMsid.ToLowerInvariant()) {
    throw ('GenerateSecret reported success but the current master secret on {0} is still {1}.' -f $env:COMPUTERNAME, $ExpectedMsid)
}
$state = @{
    msid = $after
    previousMsid = $ExpectedMsid
    file = $BackupFile
    sha256 = Get-Sha256 -Path $BackupFile
}
@{
    changed = $generate
    before = $null
    after = $state
}
