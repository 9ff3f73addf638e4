# Dtc: an MSDTC CID: the GUID subkey of a CID key (HKLM, 64-bit view) whose default value is "MSDTC".
#
# Why one place: the local DTC's CID (Get-NodeFacts) and a clustered DTC's CID (Get-ClusterFacts) are compared
# for uniqueness, so both must be read the same way [INFERRED location of the keys; see the scripts' headers].
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
                $key = $cids.OpenSubKey($name)
                try {
                    $description = [string]$key.GetValue('')
                }
                finally {
                    $key.Close()
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
