# ProtectedPath: per-run working folders under %windir%\Temp with an Administrators-only ACL (SYSTEM and
# BUILTIN\Administrators full control, inheritance off), created with the ACL in place, and the check that a
# path lies inside such a folder with no reparse point on the way.
#
# Why one place: the answer files (Install, Join), the ssomanage input (Set-SecretServerName) and the copied
# master secret backup (New-ProtectedTempDir, Write-FileChunk, Restore-MasterSecret, Remove-ProtectedPath) carry
# secrets; docs/design.md "Secrets" needs one definition of "protected" that every script enforces alike, and one
# removal (Remove-ProtectedItem) that fails loudly when the copy is still there.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function New-InheritedAllowRule {
    # An Allow rule for one SID that files and subfolders inherit (ContainerInherit, ObjectInherit).
    param(
        [string]$Sid,
        [System.Security.AccessControl.FileSystemRights]$Rights
    )
    $identity = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList $Sid
    New-Object -TypeName System.Security.AccessControl.FileSystemAccessRule -ArgumentList @(
        $identity,
        $Rights,
        [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit',
        [System.Security.AccessControl.PropagationFlags]::None,
        [System.Security.AccessControl.AccessControlType]::Allow
    )
}

function New-AdminOnlyDirectorySecurity {
    # SYSTEM and BUILTIN\Administrators full control, inheritance from the parent disabled; with ReaderSid, that one
    # account may also read (the ENTSSO service account, for the backup a restore reads; issue 9 A12).
    param(
        [string]$ReaderSid
    )
    $security = New-Object -TypeName System.Security.AccessControl.DirectorySecurity
    $security.SetAccessRuleProtection($true, $false)
    foreach ($sid in @('S-1-5-18', 'S-1-5-32-544')) {
        $security.AddAccessRule((New-InheritedAllowRule -Sid $sid -Rights ([System.Security.AccessControl.FileSystemRights]::FullControl)))
    }
    if (-not [string]::IsNullOrEmpty($ReaderSid)) {
        $security.AddAccessRule((New-InheritedAllowRule -Sid $ReaderSid -Rights ([System.Security.AccessControl.FileSystemRights]::ReadAndExecute)))
    }
    return $security
}

function Test-AdminOnlyAcl {
    # True when the path's DACL is protected and allows no one but SYSTEM and BUILTIN\Administrators, and, when
    # ReaderSid is given, that one account to read (no write, no other account).
    param(
        [string]$Path,
        [string]$ReaderSid
    )
    $acl = Get-Acl -LiteralPath $Path
    if (-not $acl.AreAccessRulesProtected) {
        return $false
    }
    $readOnly = [System.Security.AccessControl.FileSystemRights]'ReadAndExecute, Synchronize'
    $rules = @($acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier]))
    foreach ($rule in $rules) {
        $sid = $rule.IdentityReference.Value
        $allowed = $rule.AccessControlType -eq [System.Security.AccessControl.AccessControlType]::Allow
        $reads = (-not [string]::IsNullOrEmpty($ReaderSid)) -and $sid -eq $ReaderSid -and (($rule.FileSystemRights -band (-bnot $readOnly)) -eq 0)
        if ($allowed -and $sid -ne 'S-1-5-18' -and $sid -ne 'S-1-5-32-544' -and -not $reads) {
            return $false
        }
    }
    return ($rules.Count -gt 0)
}

function Get-ProtectedFolderReader {
    # The one account a protected folder lets read besides SYSTEM and Administrators (its read-only Allow ACE),
    # or $null; Resolve-ProtectedPath accepts such a folder as protected.
    param(
        [string]$Path
    )
    $rules = @((Get-Acl -LiteralPath $Path).GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier]))
    foreach ($rule in $rules) {
        $sid = $rule.IdentityReference.Value
        if ($sid -ne 'S-1-5-18' -and $sid -ne 'S-1-5-32-544') {
            return $sid
        }
    }
    return $null
}

function New-ProtectedDirectory {
    # Creates a fresh directory with the Administrators-only ACL applied at creation (no window in which it
    # inherits the parent's ACL). Refuses an existing path: a pre-created folder may belong to someone else.
    param(
        [string]$Path
    )
    if (Test-Path -LiteralPath $Path) {
        throw ('Refusing to reuse {0}: a protected working folder must be new.' -f $Path)
    }
    $null = [System.IO.Directory]::CreateDirectory($Path, (New-AdminOnlyDirectorySecurity))
    if (-not (Test-AdminOnlyAcl -Path $Path)) {
        throw ('The ACL of {0} is not Administrators-only after creation.' -f $Path)
    }
}

function Resolve-ProtectedPath {
    # The full path of Path, which must lie in (or be) a per-run folder %windir%\Temp\esso-<id> with an
    # Administrators-only ACL and no reparse point on the way: the file transfer never writes or removes
    # anything else.
    param(
        [string]$Path
    )
    $root = [System.IO.Path]::GetFullPath((Join-Path -Path $env:windir -ChildPath 'Temp')).TrimEnd('\')
    $full = [System.IO.Path]::GetFullPath($Path).TrimEnd('\')
    $prefix = $root + '\esso-'
    if (-not $full.StartsWith($prefix, [System.StringComparison]::OrdinalIgnoreCase) -or $full.Length -eq $prefix.Length) {
        throw ('Refusing {0}: only paths under {1}<id> are handled by the file transfer.' -f $Path, $prefix)
    }
    $parts = $full.Substring($root.Length + 1).Split('\')
    $current = $root
    foreach ($part in $parts) {
        $current = Join-Path -Path $current -ChildPath $part
        if (Test-Path -LiteralPath $current) {
            $item = Get-Item -LiteralPath $current -Force
            if (($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) -ne 0) {
                throw ('Refusing {0}: {1} is a reparse point.' -f $Path, $current)
            }
        }
    }
    $top = Join-Path -Path $root -ChildPath $parts[0]
    if ((Test-Path -LiteralPath $top -PathType Container) -and -not (Test-AdminOnlyAcl -Path $top -ReaderSid (Get-ProtectedFolderReader -Path $top))) {
        throw ('Refusing {0}: {1} does not have the Administrators-only ACL.' -f $Path, $top)
    }
    return $full
}

function Remove-ProtectedItem {
    # Removes a path Resolve-ProtectedPath returned, with everything in it; true when there was something to
    # remove. Throws when it is still there afterwards: a copy of a secret must never outlive the step that made it.
    param(
        [string]$Path
    )
    if (-not (Test-Path -LiteralPath $Path)) {
        return $false
    }
    Remove-Item -LiteralPath $Path -Recurse -Force
    if (Test-Path -LiteralPath $Path) {
        throw ('{0} still exists after removing it.' -f $Path)
    }
    return $true
}
