<#
.SYNOPSIS
    Ensures the possible owners of the clustered ENTSSO resource are exactly the configured nodes (idempotent).

.DESCRIPTION
    Seed: "To create the clustered Enterprise SSO resource" (the Host Integration Server variant of the procedure
    adds each node as a Possible Owner of the ENTSSO resource). Design: "Its possible owners are exactly the
    configured nodes"; a node join's delete first removes its node here.

    Reads Get-ClusterOwnerNode -Resource ResourceName; when the set differs (case-insensitive), sets it with
    Set-ClusterOwnerNode -Resource ResourceName -Owners Owners. Refuses (ESSO-017) an owner that is not a node of
    the cluster, and a resource that is not the ENTSSO Generic Service.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string]$ResourceName,

    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string[]]$Owners
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

function Get-PossibleOwnersState {
    $ownerNodes = Get-ClusterOwnerNode -Resource $ResourceName
    $names = @(
        foreach ($node in @($ownerNodes.OwnerNodes)) {
            [string]$node.Name
        }
    )
    @{
        owners = @($names | Sort-Object)
    }
}

Assert-ClusterMember
if ($null -eq (Get-EntSsoResourceByName -Name $ResourceName)) {
    throw ('The cluster resource {0} does not exist.' -f $ResourceName)
}
$clusterNodes = @(foreach ($clusterNode in @(Get-ClusterNode)) { [string]$clusterNode.Name })
foreach ($owner in $Owners) {
    if ($clusterNodes -notcontains $owner) {
        throw ('ESSO-017 {0} is not a node of the cluster ({1}).' -f $owner, ($clusterNodes -join ', '))
    }
}

$before = Get-PossibleOwnersState
$wanted = @($Owners | Sort-Object -Unique)
$same = $before['owners'].Count -eq $wanted.Count
foreach ($owner in $wanted) {
    if ($before['owners'] -notcontains $owner) {
        $same = $false
    }
}

$changed = $false
if ($same) {
    $after = $before
}
else {
    $null = Set-ClusterOwnerNode -Resource $ResourceName -Owners $wanted
    $changed = $true
    $after = Get-PossibleOwnersState
}

@{
    changed = $changed
    before = $before
    after = $after
}
