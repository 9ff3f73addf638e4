<#
.SYNOPSIS
    Ensures the per-run working folder %windir%\Temp\esso-<RunId> exists with an Administrators-only ACL.

.DESCRIPTION
    Seed: "To restore the master secret on the second cluster node", step 4 (copy the master secret backup to the
    node): the backup is written here in chunks (Write-FileChunk.ps1), restored from here, and removed with
    Remove-ProtectedPath.ps1. DESIGN "Secrets": files on a node live under an Administrators-only ACL.

    Reads whether the folder exists, its owner and its ACL. Creates it with the ACL applied at creation (SYSTEM
    and BUILTIN\Administrators full control, inheritance disabled); re-applies that ACL to an existing folder
    whose ACL differs. Refuses a RunId that is not a plain name, a reparse point, and an existing folder owned by
    anyone but SYSTEM, Administrators or the caller (someone else could change its ACL back).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$')]
    [string]$RunId
)

$ErrorActionPreference = 'Stop'

#esso:include ProtectedPath

if ($RunId.Contains('..')) {
    throw ('RunId {0} must not contain "..".' -f $RunId)
}
$path = Join-Path -Path $env:windir -ChildPath ('Temp\esso-{0}' -f $RunId)

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
    if (-not (Test-AdminOnlyAcl -Path $path)) {
        $directory = New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $path
        $directory.SetAccessControl((New-AdminOnlyDirectorySecurity))
        $changed = $true
    }
}
else {
    New-ProtectedDirectory -Path $path
    $changed = $true
}
if (-not (Test-AdminOnlyAcl -Path $path)) {
    throw ('The ACL of {0} is not Administrators-only.' -f $path)
}

@{
    changed = $changed
    before = $before
    after = @{
        path = $path
        exists = $true
    }
}
