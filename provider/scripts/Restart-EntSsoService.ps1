<#
.SYNOPSIS
    Stops and starts the local ENTSSO service (net stop entsso / net start entsso), before it is clustered.

.DESCRIPTION
    Seed: "To update the master secret server name in the SSO database", step 1 (on the active node, stop and
    restart the Enterprise SSO service).

    Refuses (ESSO-014, design rule 11) when ENTSSO is already a Generic Service cluster resource: from then on it
    is cycled only with Stop-/Start-ClusterResource (Restart-SsoClusterResource.ps1), since the local service
    controller fights the cluster.

    Changes: Stop-Service ENTSSO (with -Force, which stops dependent services), Start-Service ENTSSO, then starts
    again the dependent services that were running. A restart always counts as a change; the provider runs it
    only when the sequence needs it (it is disruptive).
#>
[CmdletBinding()]
param()

$ErrorActionPreference = 'Stop'

#esso:include EssoInterop, Cluster

$clustered = @(Get-EntSsoClusterResource)
if ($clustered.Count -gt 0) {
    throw ('ESSO-014 ENTSSO is the cluster resource {0}; cycle it with Stop-ClusterResource/Start-ClusterResource, never with the service controller.' -f $clustered[0].Name)
}

$null = Get-EntSsoService
$service = Get-Service -Name 'ENTSSO'
$before = @{
    state = [string]$service.Status
}
$dependents = @($service.DependentServices | Where-Object { $_.Status -eq [System.ServiceProcess.ServiceControllerStatus]::Running })

if ($service.Status -ne [System.ServiceProcess.ServiceControllerStatus]::Stopped) {
    Stop-Service -Name 'ENTSSO' -Force
}
Start-Service -Name 'ENTSSO'
foreach ($dependent in $dependents) {
    Start-Service -Name $dependent.Name
}

$service = Get-Service -Name 'ENTSSO'
$after = @{
    state = [string]$service.Status
}
if ($service.Status -ne [System.ServiceProcess.ServiceControllerStatus]::Running) {
    throw ('ENTSSO did not start on {0} (state {1}).' -f $env:COMPUTERNAME, $service.Status)
}

@{
    changed = $true
    before = $before
    after = $after
}
