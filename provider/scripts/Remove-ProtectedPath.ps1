<#
.SYNOPSIS
    Removes a per-run folder %windir%\Temp\esso-<id> or a file in it (idempotent).

.DESCRIPTION
    Seed: "To restore the master secret on the second cluster node", step 4: the copied backup does not outlive
    the restore. docs/design.md "Secrets": nothing that carries a secret is left on a node.

    Reads whether Path exists; removes it (recursively for a folder) when it does. Only paths inside or equal to
    a per-run folder (New-ProtectedTempDir.ps1, Administrators-only ACL, no reparse points) are accepted.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$Path
)

$ErrorActionPreference = 'Stop'

#esso:include ProtectedPath

$full = Resolve-ProtectedPath -Path $Path
$before = @{
    path = $full
    exists = [bool](Test-Path -LiteralPath $full)
}
$changed = Remove-ProtectedItem -Path $full
$after = @{
    path = $full
    exists = $false
}

@{
    changed = $changed
    before = $before
    after = $after
}
