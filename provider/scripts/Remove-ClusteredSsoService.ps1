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
    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string]$ResourceName
)

$ErrorActionPreference = 'Stop'

function Test-ClusterMember {
    # The Cluster service runs only on a failover cluster member.
    $service = Get-Service -Name 'ClusSvc' -ErrorAction SilentlyContinue
    return ($null -ne $service -and $service.Status -eq [System.ServiceProcess.ServiceControllerStatus]::Running)
}

function Get-EntSsoClusterResource {
    # Every Generic Service cluster resource whose ServiceName is ENTSSO (none when not a cluster member).
    if (-not (Test-ClusterMember)) {
        return
    }
    Import-Module -Name FailoverClusters
    foreach ($resource in @(Get-ClusterResource)) {
        if ($resource.ResourceType.Name -eq 'Generic Service') {
            $serviceName = Get-ClusterParameter -InputObject $resource -Name 'ServiceName'
            if ([string]$serviceName.Value -eq 'ENTSSO') {
                $resource
            }
        }
    }
}
function Get-EntSsoResourceByName {
    # The named cluster resource, which must be a Generic Service for ENTSSO (these scripts never touch another
    # resource); $null when it does not exist.
    param(
        [string]$Name
    )
    $found = @(Get-ClusterResource | Where-Object { $_.Name -eq $Name })
    if ($found.Count -eq 0) {
        return $null
    }
    $resource = $found[0]
    $serviceName = $null
    if ($resource.ResourceType.Name -eq 'Generic Service') {
        $serviceName = [string](Get-ClusterParameter -InputObject $resource -Name 'ServiceName').Value
    }
    if ($serviceName -ne 'ENTSSO') {
        throw ('The cluster resource {0} is a {1}, not the Generic Service for ENTSSO; refusing to act on it.' -f $Name, $resource.ResourceType.Name)
    }
    return ,$resource
}

function Get-ResourceState {
    param(
        [string]$Name
    )
    $resource = Get-EntSsoResourceByName -Name $Name
    if ($null -eq $resource) {
        return @{
            exists = $false
            state = $null
            ownerNode = $null
        }
    }
    @{
        exists = $true
        state = [string]$resource.State
        ownerNode = [string]$resource.OwnerNode.Name
    }
}

function Assert-ClusterMember {
    if (-not (Test-ClusterMember)) {
        throw ('ESSO-017 {0} is not a running failover cluster member (the Cluster service is not running).' -f $env:COMPUTERNAME)
    }
    Import-Module -Name FailoverClusters
}

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
