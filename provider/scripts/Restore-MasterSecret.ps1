<#
.SYNOPSIS
    Restores the master secret on this node from the backup file through ISSOConfigSS.RestoreSecret (idempotent).

.DESCRIPTION
    Seed: "To restore the master secret on the second cluster node", steps 5-6 (`ssoconfig -restoresecret
    RestoreFile` on the node; the secret lands in HKLM\SOFTWARE\Microsoft\ENTSSO\SSOSS). The interactive ssoconfig
    prompts for the password, so the restore calls ISSOConfigSS.RestoreSecret(file, password) from
    Microsoft.EnterpriseSingleSignOn.Interop.dll instead (skastberg/biztalkps SSOAdminOMWrapper.psm1). The
    password arrives as a SecureString and is plaintext only in memory (Use-PlainSecret: ZeroFreeBSTR in finally).

    Reads the node's SSOSS GUID subkeys. When ExpectedMsid is among them nothing changes (design: keyed on "the
    node holds the database's MSID"). Refuses: NLB on the node (ESSO-001); a clustered ENTSSO resource that is
    not Online on this node (ESSO-011, rule 9: the role must be here and the resource cycled first; the provider
    sequences the cycle); a missing backup file (ESSO-025). After the restore ExpectedMsid must be present, else
    the backup or its password does not match (ESSO-012).

    RemoveCopy: the backup copy's per-run folder (New-ProtectedTempDir.ps1) is removed in a finally, whether
    the restore succeeded or not, so the copy never outlives the restore (seed step 4; docs/design.md
    "Secrets"). It folds the separate Remove-ProtectedPath.ps1 call into the restore (issue 15: one round trip
    less per node); that script stays the provider's sweep after a failed run. A folder that is not a per-run
    folder is refused before anything changes.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$BackupFile,
    [Parameter(Mandatory)] [System.Security.SecureString]$BackupPassword,
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$ExpectedMsid,
    [Parameter(Mandatory)] [bool]$RemoveCopy
)

$ErrorActionPreference = 'Stop'

#esso:include EssoRegistry, EssoInterop, PlainSecret, SecretBackup, MasterSecret, Nlb, Cluster, ProtectedPath

$copyFolder = $null
if ($RemoveCopy) {
    $copyFolder = Resolve-ProtectedPath -Path (Split-Path -Path $BackupFile -Parent)
}

$expected = [guid]::Empty
if (-not [guid]::TryParse($ExpectedMsid, [ref]$expected)) {
    throw ('ExpectedMsid {0} is not a GUID.' -f $ExpectedMsid)
}
$expectedText = $expected.ToString('D')

try {
    $before = @{
        msids = @(Get-SsossMsids)
    }
    $changed = $false
    if ($before['msids'] -contains $expectedText) {
        $after = $before
    }
    else {
        Assert-NoNlb
        foreach ($resource in @(Get-EntSsoClusterResource)) {
            if ([string]$resource.OwnerNode.Name -ne $env:COMPUTERNAME -or [string]$resource.State -ne 'Online') {
                throw ('ESSO-011 The ENTSSO cluster resource {0} is {1} on {2}; move the role here and cycle it offline/online before restoring.' -f $resource.Name, $resource.State, $resource.OwnerNode.Name)
            }
        }
        if (-not (Test-Path -LiteralPath $BackupFile -PathType Leaf)) {
            throw ('ESSO-025 The master secret backup {0} is not on {1}.' -f $BackupFile, $env:COMPUTERNAME)
        }

        # Loaded before the try, so that a missing installation stays ESSO-016 and is not reported as ESSO-012.
        Import-EssoInterop
        try {
            Invoke-SsoSecretMethod -Method 'RestoreSecret' -File $BackupFile -Password $BackupPassword
        }
        catch {
            throw ('ESSO-012 RestoreSecret failed on {0}: {1}' -f $env:COMPUTERNAME, $_.Exception.GetBaseException().Message)
        }
        $changed = $true
        $after = @{
            msids = @(Get-SsossMsids)
        }
        if ($after['msids'] -notcontains $expectedText) {
            throw ('ESSO-012 The backup restored on {0} does not hold the master secret {1} (the node holds {2}).' -f $env:COMPUTERNAME, $expectedText, ($after['msids'] -join ', '))
        }
    }
}
finally {
    if ($null -ne $copyFolder) {
        $null = Remove-ProtectedItem -Path $copyFolder
    }
}

@{
    changed = $changed
    before = $before
    after = $after
}
