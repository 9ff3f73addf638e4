<#
.SYNOPSIS
    Removes a master secret backup file this stack wrote on a node, with the copies of it moved aside beside it,
    once the caller has escrowed it and read the escrowed copy back (idempotent).

.DESCRIPTION
    Seed: step 8 ("Enterprise SSO Secret Backup") writes the backup on the master secret server and leaves it
    there. "Master Secret Server" (learn.microsoft.com biztalk/core/master-secret-server) asks that the backup be
    stored "in a secure location"; this stack's secure location is the escrow (docs/security.md, issue 13 M4).
    The caller runs this only after the escrow holds the file's bytes and their SHA-256 was read back from it;
    restores copy from the escrow, never from this file, so nothing needs it on the node afterwards.

    Removes BackupFile, BackupFile.previous (Backup-MasterSecret's aside copy) and BackupFile.<id>.previous
    (New-MasterSecret's), whichever exist; a run that stopped half way leaves what the next run removes.
    Refuses a path that is not an absolute local path (X:\...), a folder, and a reparse point (Remove-Item,
    learn.microsoft.com powershell Microsoft.PowerShell.Management/Remove-Item: -Force removes hidden and
    read-only files). exists is true when any of those files exists.

    [INFERRED]
    - Deleting a file does not overwrite its clusters on disk; the same master secret stays in the node's
      registry (SSOSS), so an administrator of the node can read it either way (docs/security.md).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$Path
)

$ErrorActionPreference = 'Stop'

function Get-BackupCopies {
    param([string]$File)
    $found = @()
    $folder = Split-Path -Path $File -Parent
    $leaf = Split-Path -Path $File -Leaf
    if (-not (Test-Path -LiteralPath $folder -PathType Container)) {
        return ,$found
    }
    foreach ($item in @(Get-ChildItem -LiteralPath $folder -Force -File)) {
        $name = [string]$item.Name
        $aside = $name.StartsWith($leaf + '.', [System.StringComparison]::OrdinalIgnoreCase) -and $name.EndsWith('.previous', [System.StringComparison]::OrdinalIgnoreCase)
        if ($name -ieq $leaf -or $aside) {
            if (($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) -ne 0) {
                throw ('{0} is a reparse point (a link); it is not removed.' -f $item.FullName)
            }
            $found += [string]$item.FullName
        }
    }
    return ,$found
}

if ($Path -notmatch '^[A-Za-z]:\\[^\\]') {
    throw ('{0} is not an absolute local path (X:\folder\file); it is not removed.' -f $Path)
}
if (Test-Path -LiteralPath $Path -PathType Container) {
    throw ('{0} is a folder, not a master secret backup file; it is not removed.' -f $Path)
}

$copies = Get-BackupCopies -File $Path
$before = @{
    path = $Path
    exists = ($copies.Count -gt 0)
}
foreach ($copy in $copies) {
    Remove-Item -LiteralPath $copy -Force
}
$left = Get-BackupCopies -File $Path
if ($left.Count -gt 0) {
    throw ('{0} still exists after removing it.' -f ($left -join ', '))
}

@{
    changed = ($copies.Count -gt 0)
    before = $before
    after = @{
        path = $Path
        exists = $false
    }
}
