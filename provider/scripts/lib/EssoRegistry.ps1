# EssoRegistry: Enterprise SSO's registry values on this node, probing both registry views, and the SSO system
# the node is configured for (HKLM\SOFTWARE\Microsoft\ENTSSO\SQL Server and Database).
#
# Why one place: every script that reads or checks the node's SSO configuration must probe the same registry
# views; a second copy would drift the day the [NOT CONFIRMED] view question is settled.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function Get-EssoRegistryValue {
    # Probes the 64-bit and the 32-bit (Wow6432Node) registry views: which one ESSO uses is [NOT CONFIRMED].
    param(
        [string]$SubKey,
        [string]$Name
    )
    foreach ($view in @([Microsoft.Win32.RegistryView]::Registry64, [Microsoft.Win32.RegistryView]::Registry32)) {
        $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, $view)
        try {
            $key = $base.OpenSubKey($SubKey)
            if ($null -ne $key) {
                try {
                    $value = $key.GetValue($Name)
                    if ($null -ne $value -and [string]$value -ne '') {
                        return [string]$value
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
    return $null
}

function Get-SsoConfigState {
    # HKLM\SOFTWARE\Microsoft\ENTSSO\SQL values Server and Database: the SSO system this node is configured for.
    $server = Get-EssoRegistryValue -SubKey 'SOFTWARE\Microsoft\ENTSSO\SQL' -Name 'Server'
    $database = Get-EssoRegistryValue -SubKey 'SOFTWARE\Microsoft\ENTSSO\SQL' -Name 'Database'
    if ($null -eq $server -or $null -eq $database) {
        return $null
    }
    @{
        server = $server
        database = $database
    }
}

function Get-JoinMarker {
    # HKLM\SOFTWARE\esso-cluster value JoinedSystem: "server/database" written by Join-SsoSystem.ps1 before it
    # configured this node (issue 14: whether a join is this tool's must survive a retry). $null when absent.
    Get-EssoRegistryValue -SubKey 'SOFTWARE\esso-cluster' -Name 'JoinedSystem'
}
