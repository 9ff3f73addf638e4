<#
.SYNOPSIS
    Removes the clustered ENTSSO Generic Service resource (idempotent; disruptive).

.DESCRIPTION
    Undoes Set-ClusteredSsoService.ps1 (Seed: "To create the clustered Enterprise SSO resource", steps 6-12):
    Stop-ClusterResource when it is not Offline, then Remove-ClusterResource -Force. The role, its IP Address and
    Network Name resources and MSDTC are preconditions and are never touched. Refuses a resource that is not the
    Generic Service for ENTSSO. Nothing changes when the resource does not exist.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$ResourceName
)

$ErrorActionPreference = 'Stop'

#esso:include Cluster, ClusterResource

Assert-ClusterMember
$before = Get-ResourceState -Name $ResourceName
$changed = $false
if ($before['exists']) {
    if ($before['state'] -ne 'Offline') {
        $null = Stop-ClusterResource -Name $ResourceName -Wait 300
    }
    Remove-ClusterResource -Name $ResourceName -Force
    $changed = $true
}
$after = Get-ResourceState -Name $ResourceName
if ($after['exists']) {
    throw ('The cluster resource {0} still exists after Remove-ClusterResource.' -f $ResourceName)
}

@{
    changed = $changed
    before = $before
    after = $after
}
