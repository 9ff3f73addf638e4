# Dtc: an MSDTC CID: the GUID subkey <GUID> of a CID key (HKLM, 64-bit view) whose Description subkey's
# default value is "MSDTC".
#
# Source: [MS-CMOM] 2.2.3.5 and 2.2.1.2.2.4/.5: contact keys are HKEY_CLASSES_ROOT\CID\<GUID> and "MUST have a
# 'Description\(Default)' subkey value set to ... 'MSDTC'"; a clustered DTC's are under
# HKLM\Cluster\Resources\<ResID>\MSDTCPRIVATE\CID\<GUID>. Public code reads them the same way: dbatools
# Get-DbaMsdtc.ps1 (HKCR:\CID\*\Description, '(default)'), scripting.tech "Detect Duplicate MSDTC CID" (2016).
#
# Why one place: the local DTC's CID (Get-NodeFacts) and a clustered DTC's CID (Get-ClusterFacts) are compared
# for uniqueness, so both must be read the same way.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function Get-MsdtcCid {
    # The CID under SubKey of HKLM (64-bit view), lower-case 'D'; $null when the key or such a subkey is absent.
    param(
        [string]$SubKey
    )
    $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, [Microsoft.Win32.RegistryView]::Registry64)
    try {
        $cids = $base.OpenSubKey($SubKey)
        if ($null -eq $cids) {
            return $null
        }
        try {
            foreach ($name in $cids.GetSubKeyNames()) {
                $description = $null
                $key = $cids.OpenSubKey(('{0}\Description' -f $name))
                if ($null -ne $key) {
                    try {
                        $description = [string]$key.GetValue('')
                    }
                    finally {
                        $key.Close()
                    }
                }
                $guid = [guid]::Empty
                if ($description -eq 'MSDTC' -and [guid]::TryParse($name, [ref]$guid)) {
                    return $guid.ToString('D')
                }
            }
        }
        finally {
            $cids.Close()
        }
    }
    finally {
        $base.Close()
    }
    return $null
}
