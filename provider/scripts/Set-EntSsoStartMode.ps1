<#
.SYNOPSIS
    Ensures the ENTSSO service starts Manual, so that only the cluster starts it (idempotent).

.DESCRIPTION
    Seed: "To create the clustered Enterprise SSO resource", step 6 IMPORTANT (0x800706D9). Design: "ENTSSO is set
    to start Manual and kept under cluster control"; biztalk-esso.md section 8: a local ENTSSO started before the
    clustered resource comes online prevents the RPC "SSOSecretServer" registration (0x800706D9).

    Reads the start mode (Win32_Service StartMode, reported as Automatic/Manual/Disabled); when it is not
    StartMode, sets it with Set-Service -StartupType. Only Manual is accepted.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateSet('Manual')]
    [string]$StartMode
)

$ErrorActionPreference = 'Stop'

function Get-StartModeState {
    $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='ENTSSO'"
    if ($null -eq $service) {
        throw ('ESSO-016 Enterprise SSO (the ENTSSO service) is not installed on {0}.' -f $env:COMPUTERNAME)
    }
    $startType = [string]$service.StartMode
    if ($startType -eq 'Auto') {
        $startType = 'Automatic'
    }
    @{
        startType = $startType
    }
}

$before = Get-StartModeState
$changed = $false
if ($before['startType'] -eq $StartMode) {
    $after = $before
}
else {
    Set-Service -Name 'ENTSSO' -StartupType $StartMode
    $changed = $true
    $after = Get-StartModeState
    if ($after['startType'] -ne $StartMode) {
        throw ('ENTSSO still starts {0} on {1}.' -f $after['startType'], $env:COMPUTERNAME)
    }
}

@{
    changed = $changed
    before = $before
    after = $after
}
