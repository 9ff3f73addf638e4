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
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$ResourceName,
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string[]]$Owners
)

$ErrorActionPreference = 'Stop'

#esso:include Cluster, ClusterResource

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
