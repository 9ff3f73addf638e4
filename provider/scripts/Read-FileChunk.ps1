<#
.SYNOPSIS
    Reads one chunk of a file as base64, with the whole file's size and SHA-256. Changes nothing.

.DESCRIPTION
    Seed: "To restore the master secret on the second cluster node", step 4 (copy the master secret backup
    file from the first node): the provider fetches the backup in chunks to escrow it and copy it on.

    Reads Length bytes (at most 4 MiB) at Offset of Path; returns them base64-encoded, the file's total size
    and the SHA-256 (lower-case hex, Get-FileHash) of the whole file, so the caller verifies what it
    reassembled. The backup file is encrypted with the backup password; it carries no plaintext secret.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$Path,
    [Parameter(Mandatory)] [ValidateRange(0, 2147483647)] [int]$Offset,
    [Parameter(Mandatory)] [ValidateRange(1, 4194304)] [int]$Length
)

$ErrorActionPreference = 'Stop'

#esso:include FileHash

if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
    throw ('File not found: {0}' -f $Path)
}

$stream = New-Object -TypeName System.IO.FileStream -ArgumentList @(
    $Path,
    [System.IO.FileMode]::Open,
    [System.IO.FileAccess]::Read,
    [System.IO.FileShare]::Read
)
try {
    $size = $stream.Length
    if ($Offset -gt $size) {
        throw ('Offset {0} is beyond the end of {1} ({2} bytes).' -f $Offset, $Path, $size)
    }
    $null = $stream.Seek($Offset, [System.IO.SeekOrigin]::Begin)
    $buffer = New-Object -TypeName 'byte[]' -ArgumentList ([int][Math]::Min([long]$Length, $size - $Offset))
    $read = 0
    while ($read -lt $buffer.Length) {
        $count = $stream.Read($buffer, $read, $buffer.Length - $read)
        if ($count -le 0) {
            break
        }
        $read += $count
    }
    $data = [Convert]::ToBase64String($buffer, 0, $read)
}
finally {
    $stream.Dispose()
}
$sha256 = Get-Sha256 -Path $Path

@{
    dataBase64 = $data
    size = [long]$size
    sha256 = $sha256
}
