# EssoRegistry: Enterprise SSO's registry values on this node, probing both registry views, and the SSO system
# the node is configured for (HKLM\SOFTWARE\Microsoft\ENTSSO\SQL Server and Database).
#
# Why one place: every script that reads, checks or removes the node's SSO configuration and secrets must probe
# the same registry views; a second copy would drift the day the [NOT CONFIRMED] view question is settled.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function Use-EssoRegistryKey {
    # Runs Action with HKLM\<SubKey> opened (writable when Writable) in each registry view where the key exists,
    # the 64-bit view first, then the 32-bit (Wow6432Node) one: which view ESSO uses is [NOT CONFIRMED], so every
    # script that reads or changes ESSO's keys probes both. The keys are closed whatever Action does; returns what
    # Action returns. Action runs in a child scope of this function, so it sees the caller's variables; this
    # function's own names all start with $registry so that they hide none of them.
    param(
        [string]$SubKey,
        [bool]$Writable,
        [scriptblock]$Action
    )
    foreach ($registryView in @([Microsoft.Win32.RegistryView]::Registry64, [Microsoft.Win32.RegistryView]::Registry32)) {
        $registryBase = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, $registryView)
        try {
            $registryKey = $registryBase.OpenSubKey($SubKey, $Writable)
            if ($null -ne $registryKey) {
                try {
                    & $Action $registryKey
                }
                finally {
                    $registryKey.Close()
                }
            }
        }
        finally {
            $registryBase.Close()
        }
    }
}

function Get-EssoRegistryValue {
    # The value from the first registry view that holds it non-empty (Use-EssoRegistryKey), else $null.
    param(
        [string]$SubKey,
        [string]$Name
    )
    $values = @(
        Use-EssoRegistryKey -SubKey $SubKey -Action {
            param(
                $Key
            )
            $value = $Key.GetValue($Name)
            if ($null -ne $value -and [string]$value -ne '') {
                [string]$value
            }
        }
    )
    if ($values.Count -eq 0) {
        return $null
    }
    return $values[0]
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

function Get-SsoConfigStateFor {
    # The node's SSO configuration (Get-SsoConfigState), $null when it has none, refusing a node configured for
    # another SSO system than Server/Database (ESSO-005, design rule 4: a node belongs to one SSO system). Install
    # and Join call it before they change anything.
    param(
        [string]$Server,
        [string]$Database
    )
    $state = Get-SsoConfigState
    if ($null -ne $state -and ($state['server'] -ne $Server -or $state['database'] -ne $Database)) {
        throw ('ESSO-005 {0} is already configured for the SSO system {1}/{2}, not {3}/{4}.' -f $env:COMPUTERNAME, $state['server'], $state['database'], $Server, $Database)
    }
    $state
}

function Get-JoinMarker {
    # HKLM\SOFTWARE\esso-cluster value JoinedSystem: "server/database" written by Join-SsoSystem.ps1 before it
    # configured this node (issue 14: whether a join is this tool's must survive a retry). $null when absent.
    Get-EssoRegistryValue -SubKey 'SOFTWARE\esso-cluster' -Name 'JoinedSystem'
}
