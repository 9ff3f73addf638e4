<#
.SYNOPSIS
    Takes the clustered ENTSSO resource offline and brings it online again where its role is (disruptive).

.DESCRIPTION
    Seed: "To restore the master secret on the second cluster node", step 3 ("Take this service or application
    offline, then ... Bring this service or application online"; without it the restore may not succeed), and
    applying a changed UseNetworkName or dependency. Design rule 11: once ENTSSO is a cluster resource it is
    cycled only this way, never with the local service controller.

    Changes: Stop-ClusterResource (skipped when already Offline) and Start-ClusterResource, waiting for each;
    refuses a resource that is not the Generic Service for ENTSSO. A cycle always counts as a change; the
    provider runs it only when the sequence needs it and allowDisruption is set.
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
if (-not $before['exists']) {
    throw ('The cluster resource {0} does not exist.' -f $ResourceName)
}
if ($before['state'] -ne 'Offline') {
    $null = Stop-ClusterResource -Name $ResourceName -Wait 300
}
$null = Start-ClusterResource -Name $ResourceName -Wait 300
$after = Get-ResourceState -Name $ResourceName
if ($after['state'] -ne 'Online') {
    throw ('ESSO-026 The cluster resource {0} is {1} on {2} after the offline/online cycle.' -f $ResourceName, $after['state'], $after['ownerNode'])
}

@{
    changed = $true
    before = $before
    after = $after
}
