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
    sweeps what a failed run left). Which folder RestoreSecret needs could not be decided from documentation. The
    folder is made by lib/RunFolder.ps1, which Write-FileChunk.ps1 -RunId shares.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$')] [string]$RunId,
    [Parameter(Mandatory)] [AllowEmptyString()] [string]$Reader
)

$ErrorActionPreference = 'Stop'

#esso:include ProtectedPath, LogonRight, RunFolder

$made = Initialize-ProtectedRunFolder -RunId $RunId -Reader $Reader

@{
    changed = [bool]$made['changed']
    before = @{
        path = [string]$made['path']
        exists = [bool]$made['existed']
    }
    after = @{
        path = [string]$made['path']
        exists = $true
    }
}
