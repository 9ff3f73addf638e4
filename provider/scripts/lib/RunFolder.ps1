# RunFolder: the per-run working folder %windir%\Temp\esso-<RunId> with the Administrators-only ACL, made or checked.
#
# Why one place: New-ProtectedTempDir.ps1 makes it on its own (the provider's sweep, larger files), and
# Write-FileChunk.ps1 -RunId makes it with the first chunk (the restore's backup copy in one call, issue 15); the
# folder must be made and checked in exactly the same way. Needs ProtectedPath and LogonRight (Resolve-AccountSid),
# which the including script includes too.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function Initialize-ProtectedRunFolder {
    # Makes the folder with the ACL applied at creation (SYSTEM and BUILTIN\Administrators full control,
    # inheritance disabled; Reader, DOMAIN\user or '', may also read), or re-applies that ACL to an existing folder
    # whose ACL differs. Refuses a RunId that is not a plain name, a reparse point, and an existing folder owned by
    # anyone but SYSTEM, Administrators or the caller (someone else could change its ACL back). Returns the path,
    # whether it existed before, and whether anything changed.
    param(
        [string]$RunId,
        [string]$Reader
    )
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

    $existed = [bool](Test-Path -LiteralPath $path -PathType Container)
    $changed = $false
    if ($existed) {
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
    @{
        path = $path
        existed = $existed
        changed = $changed
    }
}
