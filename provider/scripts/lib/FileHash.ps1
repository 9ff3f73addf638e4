# FileHash: a file's SHA-256 as lower-case hex (Get-FileHash).
#
# Why one place: the provider compares the hashes that Read-FileChunk, Write-FileChunk and Backup-MasterSecret
# report with its own; they must all be formatted alike.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function Get-Sha256 {
    param(
        [string]$Path
    )
    return (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant()
}
