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
    (New-ProtectedTempDir.ps1, Administrators-only ACL, no reparse points) are written. Returns the path, the size
    and the SHA-256 of the whole file so far.

    RunId (or '' for none), with the first chunk only: the per-run folder %windir%\Temp\esso-<RunId> is made here
    when absent, or checked, exactly as New-ProtectedTempDir.ps1 makes it (lib/RunFolder.ps1; Reader may also
    read it), and Path is the file's plain name in it. The restore sends its backup copy (seed step 4, a few KB, one
    chunk) this way: one call instead of New-ProtectedTempDir.ps1 and then this script (issue 15: one round trip
    less per restored node).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$Path,
    [Parameter(Mandatory)] [AllowEmptyString()] [string]$DataBase64,
    [Parameter(Mandatory)] [ValidateRange(0, 2147483647)] [int]$Offset,
    [Parameter(Mandatory)] [bool]$Final,
    [Parameter(Mandatory)] [AllowEmptyString()] [string]$ExpectedSha256,
    [Parameter(Mandatory)] [AllowEmptyString()] [ValidatePattern('^$|^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$')] [string]$RunId,
    [Parameter(Mandatory)] [AllowEmptyString()] [string]$Reader
)

$ErrorActionPreference = 'Stop'

#esso:include ProtectedPath, FileHash, LogonRight, RunFolder

if ($RunId -ne '') {
    if ($Offset -ne 0) {
        throw ('RunId {0} goes with the first chunk (offset 0) only.' -f $RunId)
    }
    if ($Path -notmatch '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' -or $Path.Contains('..')) {
        throw ('With RunId, Path {0} must be a plain file name.' -f $Path)
    }
    $made = Initialize-ProtectedRunFolder -RunId $RunId -Reader $Reader
    $Path = Join-Path -Path $made['path'] -ChildPath $Path
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
