<#
.SYNOPSIS
    Writes one base64 chunk of a file at Offset inside a protected per-run folder; checks the whole file's
    SHA-256 on the final chunk.

.DESCRIPTION
    Seed: "To restore the master secret on the second cluster node", step 4 (copy the master secret backup file to
    the node). The provider sends the escrowed backup in chunks small enough for a WinRM envelope.

    Changes: Offset 0 creates or truncates the file; any other Offset must equal the file's current length (no
    gaps, no overlaps) and appends there. On Final, the file's SHA-256 (Get-FileHash) must equal ExpectedSha256,
    else the file is deleted and the script fails with ESSO-022. Only paths inside %windir%\Temp\esso-<id>
    (New-ProtectedTempDir.ps1, Administrators-only ACL, no reparse points) are written. Returns the size and the
    SHA-256 of the whole file so far.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string]$Path,

    [Parameter(Mandatory = $true)]
    [AllowEmptyString()]
    [string]$DataBase64,

    [Parameter(Mandatory = $true)]
    [ValidateRange(0, 2147483647)]
    [int]$Offset,

    [Parameter(Mandatory = $true)]
    [bool]$Final,

    [Parameter(Mandatory = $true)]
    [AllowEmptyString()]
    [string]$ExpectedSha256
)

$ErrorActionPreference = 'Stop'

function New-AdminOnlyDirectorySecurity {
    # SYSTEM and BUILTIN\Administrators full control, inheritance from the parent disabled.
    $security = New-Object -TypeName System.Security.AccessControl.DirectorySecurity
    $security.SetAccessRuleProtection($true, $false)
    $inherit = [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit'
    foreach ($sid in @('S-1-5-18', 'S-1-5-32-544')) {
        $identity = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList $sid
        $rule = New-Object -TypeName System.Security.AccessControl.FileSystemAccessRule -ArgumentList @(
            $identity,
            [System.Security.AccessControl.FileSystemRights]::FullControl,
            $inherit,
            [System.Security.AccessControl.PropagationFlags]::None,
            [System.Security.AccessControl.AccessControlType]::Allow
        )
        $security.AddAccessRule($rule)
    }
    return $security
}

function Test-AdminOnlyAcl {
    # True when the path's DACL is protected and allows no one but SYSTEM and BUILTIN\Administrators.
    param(
        [string]$Path
    )
    $acl = Get-Acl -LiteralPath $Path
    if (-not $acl.AreAccessRulesProtected) {
        return $false
    }
    $rules = @($acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier]))
    foreach ($rule in $rules) {
        $sid = $rule.IdentityReference.Value
        $allowed = $rule.AccessControlType -eq [System.Security.AccessControl.AccessControlType]::Allow
        if ($allowed -and $sid -ne 'S-1-5-18' -and $sid -ne 'S-1-5-32-544') {
            return $false
        }
    }
    return ($rules.Count -gt 0)
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
    if ((Test-Path -LiteralPath $top -PathType Container) -and -not (Test-AdminOnlyAcl -Path $top)) {
        throw ('Refusing {0}: {1} does not have the Administrators-only ACL.' -f $Path, $top)
    }
    return $full
}
function Get-Sha256 {
    param(
        [string]$Path
    )
    return (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant()
}

$full = Resolve-ProtectedPath -Path $Path
$folder = Resolve-ProtectedPath -Path (Split-Path -Path $full -Parent)
if (-not (Test-Path -LiteralPath $folder -PathType Container)) {
    throw ('The folder {0} does not exist; create it with New-ProtectedTempDir first.' -f $folder)
}
$bytes = [Convert]::FromBase64String($DataBase64)

if ($Offset -eq 0) {
    $mode = [System.IO.FileMode]::Create
}
else {
    if (-not (Test-Path -LiteralPath $full -PathType Leaf)) {
        throw ('Chunk at offset {0} for {1}, which does not exist yet (the first chunk has offset 0).' -f $Offset, $full)
    }
    $length = (Get-Item -LiteralPath $full -Force).Length
    if ($length -ne $Offset) {
        throw ('Chunk at offset {0} for {1}, which holds {2} bytes: chunks must be written in order.' -f $Offset, $full, $length)
    }
    $mode = [System.IO.FileMode]::Open
}
$stream = New-Object -TypeName System.IO.FileStream -ArgumentList @(
    $full,
    $mode,
    [System.IO.FileAccess]::Write,
    [System.IO.FileShare]::None
)
try {
    $null = $stream.Seek($Offset, [System.IO.SeekOrigin]::Begin)
    $stream.Write($bytes, 0, $bytes.Length)
    $stream.Flush()
}
finally {
    $stream.Dispose()
}

$size = (Get-Item -LiteralPath $full -Force).Length
$sha256 = Get-Sha256 -Path $full
if ($Final -and $sha256 -ne $ExpectedSha256.ToLowerInvariant()) {
    Remove-Item -LiteralPath $full -Force
    throw ('ESSO-022 {0} has SHA-256 {1} after the final chunk, not the expected {2}; the file was deleted.' -f $full, $sha256, $ExpectedSha256)
}

@{
    path = $full
    size = [long]$size
    sha256 = $sha256
}
