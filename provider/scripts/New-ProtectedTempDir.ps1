<#
.SYNOPSIS
    Ensures the per-run working folder %windir%\Temp\esso-<RunId> exists with an Administrators-only ACL.

.DESCRIPTION
    Seed: "To restore the master secret on the second cluster node", step 4 (copy the master secret backup to the
    node): the backup is written here in chunks (Write-FileChunk.ps1), restored from here, and removed with
    Remove-ProtectedPath.ps1. docs/design.md "Secrets": files on a node live under an Administrators-only ACL.

    Reads whether the folder exists, its owner and its ACL. Creates it with the ACL applied at creation (SYSTEM
    and BUILTIN\Administrators full control, inheritance disabled); re-applies that ACL to an existing folder
    whose ACL differs. Refuses a RunId that is not a plain name, a reparse point, and an existing folder owned by
    anyone but SYSTEM, Administrators or the caller (someone else could change its ACL back).

    Reader (DOMAIN\user, or '' for none) may also read the folder: a restore passes the ENTSSO service account,
    so the backup can be read whether ISSOConfigSS.RestoreSecret reads it in the caller's process or in ENTSSO
    (undocumented; review ps_fidelity F12). The folder stays under %windir%\Temp rather than the ESSO folder the
    seed names (restore step 4): there the file transfer's path checks apply unchanged, and the folder and the
    copy are removed after the restore (Restore-MasterSecret.ps1 -RemoveCopy in its finally; Remove-ProtectedPath.ps1
    sweeps what a failed run left). Which folder RestoreSecret needs could not be decided from documentation.

    FileName (a plain name, or '' for none): the file is written into the folder in the same call from DataBase64
    (created or replaced; it inherits the folder's ACL), and its SHA-256 (Get-FileHash) must equal ExpectedSha256,
    else it is deleted and the script fails with ESSO-022, as Write-FileChunk.ps1's final chunk does. The restore
    sends its backup copy (seed step 4, a few KB) this way: one call instead of this script and then
    Write-FileChunk.ps1 (issue 15: one round trip less per restored node); larger files still go in chunks.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$')]
    [string]$RunId,

    [Parameter(Mandatory = $true)]
    [AllowEmptyString()]
    [string]$Reader,

    [Parameter(Mandatory = $true)]
    [AllowEmptyString()]
    [ValidatePattern('^$|^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$')]
    [string]$FileName,

    [Parameter(Mandatory = $true)]
    [AllowEmptyString()]
    [string]$DataBase64,

    [Parameter(Mandatory = $true)]
    [AllowEmptyString()]
    [string]$ExpectedSha256
)

$ErrorActionPreference = 'Stop'

#esso:include ProtectedPath, LogonRight, FileHash

if ($RunId.Contains('..')) {
    throw ('RunId {0} must not contain "..".' -f $RunId)
}
$path = Join-Path -Path $env:windir -ChildPath ('Temp\esso-{0}' -f $RunId)
$readerSid = $null
if ($Reader -ne '') {
    $readerSid = Resolve-AccountSid -Name $Reader
    if ($null -eq $readerSid) {
        throw ('ESSO-003 The account {0} does not resolve to a SID on {1}.' -f $Reader, $env:COMPUTERNAME)
    }
}

$before = @{
    path = $path
    exists = [bool](Test-Path -LiteralPath $path -PathType Container)
}
$changed = $false
if ($before['exists']) {
    $item = Get-Item -LiteralPath $path -Force
    if (($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) -ne 0) {
        throw ('Refusing {0}: it is a reparse point.' -f $path)
    }
    $owner = (Get-Acl -LiteralPath $path).GetOwner([System.Security.Principal.SecurityIdentifier]).Value
    $me = [System.Security.Principal.WindowsIdentity]::GetCurrent().User.Value
    if (@('S-1-5-18', 'S-1-5-32-544', $me) -notcontains $owner) {
        throw ('Refusing {0}: it is owned by {1}, not by SYSTEM, Administrators or the caller.' -f $path, $owner)
    }
    if (-not (Test-AdminOnlyAcl -Path $path -ReaderSid $readerSid) -or (Get-ProtectedFolderReader -Path $path) -ne $readerSid) {
        $directory = New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $path
        $directory.SetAccessControl((New-AdminOnlyDirectorySecurity -ReaderSid $readerSid))
        $changed = $true
    }
}
else {
    $null = [System.IO.Directory]::CreateDirectory($path, (New-AdminOnlyDirectorySecurity -ReaderSid $readerSid))
    $changed = $true
}
if (-not (Test-AdminOnlyAcl -Path $path -ReaderSid $readerSid)) {
    throw ('The ACL of {0} is not Administrators-only.' -f $path)
}
if ($FileName -ne '') {
    if ($FileName.Contains('..')) {
        throw ('FileName {0} must not contain "..".' -f $FileName)
    }
    $file = Join-Path -Path $path -ChildPath $FileName
    [System.IO.File]::WriteAllBytes($file, [Convert]::FromBase64String($DataBase64))
    $sha256 = Get-Sha256 -Path $file
    if ($sha256 -ne $ExpectedSha256.ToLowerInvariant()) {
        Remove-Item -LiteralPath $file -Force
        throw ('ESSO-022 {0} has SHA-256 {1} after writing, not the expected {2}; the file was deleted.' -f $file, $sha256, $ExpectedSha256)
    }
    $changed = $true
}

@{
    changed = $changed
    before = $before
    after = @{
        path = $path
        exists = $true
    }
}
