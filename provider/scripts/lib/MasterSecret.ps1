# MasterSecret: the master secret ids this node holds, read from the GUID subkeys of
# HKLM\SOFTWARE\Microsoft\ENTSSO\SSOSS (both registry views), and the current one (the most recently written
# subkey, through the EssoRegistryTime type compiled on first use).
#
# Why one place: Get-NodeFacts reports these ids, Install/Backup/Restore decide on them, and the provider compares
# them across nodes; they must all be read and normalised (lower-case 'D' GUIDs) the same way. Needs EssoRegistry
# (Use-EssoRegistryKey).
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function Get-SsossMsids {
    # The GUID subkeys of HKLM\SOFTWARE\Microsoft\ENTSSO\SSOSS (both registry views): the master secret ids
    # this node holds. Normalised to lower-case 'D' format so that every script and the provider compare alike.
    $ids = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $names = @(
        Use-EssoRegistryKey -SubKey 'SOFTWARE\Microsoft\ENTSSO\SSOSS' -Action {
            param(
                $Key
            )
            $Key.GetSubKeyNames()
        }
    )
    foreach ($name in $names) {
        $guid = [guid]::Empty
        if ([guid]::TryParse($name, [ref]$guid)) {
            $text = $guid.ToString('D')
            if (-not $ids.Contains($text)) {
                [void]$ids.Add($text)
            }
        }
    }
    $ids.Sort()
    $ids.ToArray()
}

function Import-EssoRegistryTime {
    # EssoRegistryTime: a registry key's last write time (RegQueryInfoKey), which RegistryKey does not expose;
    # compiled on first use.
    if ($null -ne ('EssoRegistryTime' -as [type])) {
        return
    }
    $source = @'
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
    Add-Type -TypeDefinition $source -Language CSharp
}

function Get-CurrentMsid {
    # [INFERRED] The current master secret is the most recently written GUID subkey of SSOSS (ESSO keeps the
    # current and the previous secret; the value names inside the subkeys are [NOT CONFIRMED], so only the
    # subkeys' last write times are compared). Returns $null when the node holds no secret.
    Import-EssoRegistryTime
    $secrets = @(
        Use-EssoRegistryKey -SubKey 'SOFTWARE\Microsoft\ENTSSO\SSOSS' -Action {
            param(
                $Key
            )
            foreach ($name in $Key.GetSubKeyNames()) {
                $guid = [guid]::Empty
                if ([guid]::TryParse($name, [ref]$guid)) {
                    $entry = $Key.OpenSubKey($name)
                    try {
                        $written = [EssoRegistryTime]::LastWriteUtc($entry)
                    }
                    finally {
                        $entry.Close()
                    }
                    @{
                        msid = $guid.ToString('D')
                        written = $written
                    }
                }
            }
        }
    )
    $newest = $null
    $newestTime = [datetime]::MinValue
    foreach ($secret in $secrets) {
        if ($null -eq $newest -or $secret['written'] -gt $newestTime) {
            $newest = $secret['msid']
            $newestTime = $secret['written']
        }
    }
    return $newest
}
