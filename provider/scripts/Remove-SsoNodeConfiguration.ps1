<#
.SYNOPSIS
    Unconfigures Enterprise SSO on this node only, for a node that leaves the SSO system (idempotent).

.DESCRIPTION
    Undoes Join-SsoSystem.ps1 (Seed steps 13-19) when a node join is deleted. Design: unconfiguring SSO on a node
    touches ESSO alone, never `Configuration.exe /U` (which unconfigures every BizTalk feature).

    Reads HKLM\SOFTWARE\Microsoft\ENTSSO\SQL (both registry views). Nothing changes when the node is not
    configured. Refuses (ESSO-005) a node configured for another SSO system, and (ESSO-014) a node where the
    clustered ENTSSO resource is Online: the provider first removes the node from the possible owners and moves
    the role away, so the cluster is never fought.

    Changes: stops the local ENTSSO service (Stop-Service -Force: dependent services stop with it), sets it to
    start Disabled, deletes the Server and Database values of ENTSSO\SQL (both views), so ENTSSO no longer serves
    this SSO system here, and deletes the node's SSOSS copy of the system's master secrets (a node that leaves
    keeps no secret material; the escrow stays the authority and a rejoin restores it). The simulator does the
    same (issue 9 B: it used to answer "unchanged" or ESSO-035 where this script throws ESSO-005 or ESSO-014).
    Also removes the JoinedSystem marker Join-SsoSystem.ps1 wrote (HKLM\SOFTWARE\esso-cluster) when it names
    this system (Remove-ItemProperty).

    [INFERRED]
    - There is no documented per-feature silent unconfigure; this removes what makes the node a member of the SSO
      system (its database pointer) and keeps ENTSSO from starting.
    - The result's "after" is {server: '', database: ''}: the contract's SsoConfigState has no "unconfigured"
      value (provider/contracts/facts.py).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$Server,
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$Database
)

$ErrorActionPreference = 'Stop'

#esso:include EssoRegistry, Cluster

function Remove-SsoDatabasePointer {
    Use-EssoRegistryKey -SubKey 'SOFTWARE\Microsoft\ENTSSO\SQL' -Writable $true -Action {
        param(
            $Key
        )
        $Key.DeleteValue('Server', $false)
        $Key.DeleteValue('Database', $false)
    }
}

function Remove-SsossCopies {
    # Deletes the GUID subkeys of HKLM\SOFTWARE\Microsoft\ENTSSO\SSOSS (both views): this node's copy of the
    # system's master secrets. A node belongs to one SSO system, so every subkey is this system's; a node that
    # leaves keeps no secret material (the escrow stays the authority; a rejoin restores the secret).
    Use-EssoRegistryKey -SubKey 'SOFTWARE\Microsoft\ENTSSO\SSOSS' -Writable $true -Action {
        param(
            $Key
        )
        foreach ($name in $Key.GetSubKeyNames()) {
            $guid = [guid]::Empty
            if ([guid]::TryParse($name, [ref]$guid)) {
                $Key.DeleteSubKeyTree($name, $false)
            }
        }
    }
}

function Remove-JoinMarker {
    # The marker of Join-SsoSystem.ps1, only when it names this SSO system.
    param(
        [string]$Value
    )
    $markerKey = 'HKLM:\SOFTWARE\esso-cluster'
    if ((Get-JoinMarker) -eq $Value -and (Test-Path -LiteralPath $markerKey)) {
        Remove-ItemProperty -LiteralPath $markerKey -Name 'JoinedSystem' -ErrorAction SilentlyContinue
    }
}

$before = Get-SsoConfigState
$changed = $false
if ($null -ne $before) {
    if ($before['server'] -ne $Server -or $before['database'] -ne $Database) {
        throw ('ESSO-005 {0} is configured for the SSO system {1}/{2}, not {3}/{4}; refusing to unconfigure it.' -f $env:COMPUTERNAME, $before['server'], $before['database'], $Server, $Database)
    }
    foreach ($resource in @(Get-EntSsoClusterResource)) {
        if ([string]$resource.OwnerNode.Name -eq $env:COMPUTERNAME -and [string]$resource.State -ne 'Offline') {
            throw ('ESSO-014 The ENTSSO cluster resource {0} is {1} on {2}; move the role away before unconfiguring this node.' -f $resource.Name, $resource.State, $env:COMPUTERNAME)
        }
    }
    $service = Get-Service -Name 'ENTSSO' -ErrorAction SilentlyContinue
    if ($null -ne $service) {
        if ($service.Status -ne [System.ServiceProcess.ServiceControllerStatus]::Stopped) {
            Stop-Service -Name 'ENTSSO' -Force
        }
        Set-Service -Name 'ENTSSO' -StartupType Disabled
    }
    Remove-SsoDatabasePointer
    Remove-SsossCopies
    $changed = $true
    if ($null -ne (Get-SsoConfigState)) {
        throw ('{0} still points at an SSO database after unconfiguring.' -f $env:COMPUTERNAME)
    }
}

Remove-JoinMarker -Value ('{0}/{1}' -f $Server, $Database)

@{
    changed = $changed
    before = $before
    after = @{
        server = ''
        database = ''
    }
}
