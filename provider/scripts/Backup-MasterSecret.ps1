<#
.SYNOPSIS
    Backs up the master secret to a password-protected file through ISSOConfigSS.BackupSecret (idempotent).

.DESCRIPTION
    Seed: step 8 ("Enterprise SSO Secret Backup") and restore step 4 (the backup file that is copied to the
    other nodes); the escrow keeps the file this script writes.

    Reads whether BackupFile exists (its SHA-256 and the node's current master secret id). An existing file is
    kept unless Overwrite is true. Otherwise backs the secret up with
    ISSOConfigSS.BackupSecret(file, password, reminder) from Microsoft.EnterpriseSingleSignOn.Interop.dll (as
    skastberg/biztalkps SSOAdminOMWrapper.psm1 calls it; `ssoconfig -backupSecret` prompts and is never used).
    The password arrives as a SecureString and is plaintext only in memory (ZeroFreeBSTR in finally). When an
    existing file is replaced it is first moved aside and put back if the backup fails.

    Runs on the master secret server (the node holding the secret); the caller must be a Windows administrator
    and an SSO Administrator.

    [INFERRED]
    - msid is the node's current master secret (the most recently written SSOSS subkey).
    - Every backup is encrypted afresh, so Overwrite changes the file's SHA-256 on every run.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string]$BackupFile,

    [Parameter(Mandatory = $true)]
    [System.Security.SecureString]$BackupPassword,

    [Parameter(Mandatory = $true)]
    [AllowEmptyString()]
    [string]$Reminder,

    [Parameter(Mandatory = $true)]
    [bool]$Overwrite
)

$ErrorActionPreference = 'Stop'

function Get-EssoFolder {
    # The Enterprise SSO installation folder: where the ENTSSO service's ENTSSO.exe lives, else the documented
    # default <CommonProgramFiles>\Enterprise Single Sign-On.
    $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='ENTSSO'"
    if ($null -ne $service -and $service.PathName) {
        $match = [regex]::Match([string]$service.PathName, '^\s*"?(?<exe>[^"]+?\.exe)', 'IgnoreCase')
        if ($match.Success) {
            $folder = Split-Path -Path $match.Groups['exe'].Value -Parent
            if (Test-Path -LiteralPath $folder -PathType Container) {
                return $folder
            }
        }
    }
    foreach ($root in @($env:CommonProgramW6432, $env:CommonProgramFiles)) {
        if ($root) {
            $folder = Join-Path -Path $root -ChildPath 'Enterprise Single Sign-On'
            if (Test-Path -LiteralPath $folder -PathType Container) {
                return $folder
            }
        }
    }
    throw ('ESSO-016 Enterprise SSO is not installed on {0}: the Enterprise Single Sign-On folder was not found.' -f $env:COMPUTERNAME)
}

function Import-EssoInterop {
    # Microsoft.EnterpriseSingleSignOn.Interop.dll from the installed folder (its version differs per BizTalk
    # release, so it is never pinned), as skastberg/biztalkps SSOAdminOMWrapper.psm1 loads it.
    if ($null -eq ('Microsoft.EnterpriseSingleSignOn.Interop.ISSOConfigSS' -as [type])) {
        $dll = Join-Path -Path (Get-EssoFolder) -ChildPath 'Microsoft.EnterpriseSingleSignOn.Interop.dll'
        if (-not (Test-Path -LiteralPath $dll -PathType Leaf)) {
            throw ('ESSO-016 Enterprise SSO is not installed on {0}: {1} is missing.' -f $env:COMPUTERNAME, $dll)
        }
        Add-Type -LiteralPath $dll
    }
}
$registryTimeSource = @'
using System;
using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32;
using Microsoft.Win32.SafeHandles;

public static class EssoRegistryTime
{
    [DllImport("advapi32.dll", CharSet = CharSet.Unicode)]
    private static extern int RegQueryInfoKey(
        SafeRegistryHandle key, IntPtr className, IntPtr classLength, IntPtr reserved, IntPtr subKeys,
        IntPtr maxSubKeyLength, IntPtr maxClassLength, IntPtr values, IntPtr maxValueNameLength,
        IntPtr maxValueLength, IntPtr securityDescriptorLength, out long lastWriteTime);

    public static DateTime LastWriteUtc(RegistryKey key)
    {
        long fileTime;
        int rc = RegQueryInfoKey(
            key.Handle, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero,
            IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, out fileTime);
        if (rc != 0)
        {
            throw new Win32Exception(rc);
        }
        return DateTime.FromFileTimeUtc(fileTime);
    }
}
'@

function Get-CurrentMsid {
    # [INFERRED] The current master secret is the most recently written GUID subkey of SSOSS (ESSO keeps the
    # current and the previous secret; the value names inside the subkeys are [NOT CONFIRMED], so only the
    # subkeys' last write times are compared). Returns $null when the node holds no secret.
    if ($null -eq ('EssoRegistryTime' -as [type])) {
        Add-Type -TypeDefinition $registryTimeSource -Language CSharp
    }
    $newest = $null
    $newestTime = [datetime]::MinValue
    foreach ($view in @([Microsoft.Win32.RegistryView]::Registry64, [Microsoft.Win32.RegistryView]::Registry32)) {
        $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, $view)
        try {
            $key = $base.OpenSubKey('SOFTWARE\Microsoft\ENTSSO\SSOSS')
            if ($null -ne $key) {
                try {
                    foreach ($name in $key.GetSubKeyNames()) {
                        $guid = [guid]::Empty
                        if ([guid]::TryParse($name, [ref]$guid)) {
                            $subKey = $key.OpenSubKey($name)
                            try {
                                $written = [EssoRegistryTime]::LastWriteUtc($subKey)
                            }
                            finally {
                                $subKey.Close()
                            }
                            if ($null -eq $newest -or $written -gt $newestTime) {
                                $newest = $guid.ToString('D')
                                $newestTime = $written
                            }
                        }
                    }
                }
                finally {
                    $key.Close()
                }
            }
        }
        finally {
            $base.Close()
        }
    }
    return $newest
}
function Get-Sha256 {
    param(
        [string]$Path
    )
    return (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant()
}

function Get-BackupState {
    if (-not (Test-Path -LiteralPath $BackupFile -PathType Leaf)) {
        return $null
    }
    $currentMsid = Get-CurrentMsid
    if ($null -eq $currentMsid) {
        $currentMsid = ''
    }
    @{
        file = $BackupFile
        sha256 = Get-Sha256 -Path $BackupFile
        msid = $currentMsid
    }
}

$folder = Split-Path -Path $BackupFile -Parent
if (-not (Test-Path -LiteralPath $folder -PathType Container)) {
    throw ('The backup folder {0} does not exist on {1}.' -f $folder, $env:COMPUTERNAME)
}
if ($null -eq (Get-CurrentMsid)) {
    throw ('ESSO-025 {0} holds no master secret (HKLM\SOFTWARE\Microsoft\ENTSSO\SSOSS is empty): back up on the master secret server.' -f $env:COMPUTERNAME)
}

$before = Get-BackupState
$changed = $false
if ($null -ne $before -and -not $Overwrite) {
    $after = $before
}
else {
    $aside = $null
    if ($null -ne $before) {
        $aside = '{0}.{1}.previous' -f $BackupFile, [guid]::NewGuid().ToString('N')
        Move-Item -LiteralPath $BackupFile -Destination $aside
    }
    Import-EssoInterop
    $configOm = New-Object -TypeName 'Microsoft.EnterpriseSingleSignOn.Interop.SSOConfigOM'
    $interface = 'Microsoft.EnterpriseSingleSignOn.Interop.ISSOConfigSS' -as [type]
    $flags = [System.Reflection.BindingFlags]::InvokeMethod -bor [System.Reflection.BindingFlags]::Instance
    $bstr = [IntPtr]::Zero
    $succeeded = $false
    try {
        $bstr = [System.Runtime.InteropServices.Marshal]::SecureStringToBSTR($BackupPassword)
        $null = $interface.InvokeMember(
            'BackupSecret',
            $flags,
            $null,
            $configOm,
            @($BackupFile, [System.Runtime.InteropServices.Marshal]::PtrToStringBSTR($bstr), $Reminder)
        )
        $succeeded = $true
    }
    finally {
        if ($bstr -ne [IntPtr]::Zero) {
            [System.Runtime.InteropServices.Marshal]::ZeroFreeBSTR($bstr)
        }
        if ($null -ne $aside) {
            if ($succeeded) {
                Remove-Item -LiteralPath $aside -Force
            }
            else {
                if (Test-Path -LiteralPath $BackupFile) {
                    Remove-Item -LiteralPath $BackupFile -Force
                }
                Move-Item -LiteralPath $aside -Destination $BackupFile
            }
        }
    }
    $changed = $true
    $after = Get-BackupState
    if ($null -eq $after) {
        throw ('BackupSecret reported success but {0} does not exist.' -f $BackupFile)
    }
}

@{
    changed = $changed
    before = $before
    after = $after
}
