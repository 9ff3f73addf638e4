<#
.SYNOPSIS
    Brings the role that holds ENTSSO online on the given node (idempotent; disruptive when it moves).

.DESCRIPTION
    Seed: "To restore the master secret on the second cluster node", steps 1-2 (bring the clustered service or
    application online; move it to the second node) and step 7 (move it to the other node and back to verify
    failover and failback).

    Reads Get-ClusterGroup RoleName (owner node, state). When the role is already Online on Node nothing
    changes; otherwise Move-ClusterGroup -Node Node (when owned elsewhere) and Start-ClusterGroup (when not
    Online), then reads back. Refuses (ESSO-017) a Node that is not an Up member of the cluster; a role that is
    not Online on Node afterwards fails with ESSO-013.

    CycleResource (the ENTSSO resource's name, or '' for none): once the role is Online on Node, the resource is
    taken offline and brought online there (seed step 3, which the restore needs right after step 2; ESSO-026 when
    it is not Online afterwards; the cycle is a change). One call for steps 2-3 instead of this script and then
    Restart-SsoClusterResource.ps1 (issue 15: one round trip less per restored node). A CycleResource that does
    not exist or is not the Generic Service for ENTSSO is refused before the role moves.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$RoleName,
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$Node,
    [Parameter(Mandatory)] [AllowEmptyString()] [string]$CycleResource
)

$ErrorActionPreference = 'Stop'

#esso:include Cluster, ClusterResource, ResourceCycle

function Get-RoleState {
    $groups = @(Get-ClusterGroup | Where-Object { $_.Name -eq $RoleName })
    if ($groups.Count -eq 0) {
        throw ('ESSO-009 The cluster role {0} does not exist.' -f $RoleName)
    }
    @{
        ownerNode = [string]$groups[0].OwnerNode.Name
        state = [string]$groups[0].State
    }
}

Assert-ClusterMember
$targets = @(Get-ClusterNode | Where-Object { $_.Name -eq $Node })
if ($targets.Count -eq 0 -or [string]$targets[0].State -ne 'Up') {
    throw ('ESSO-017 {0} is not an Up node of the cluster.' -f $Node)
}

if ($CycleResource -ne '' -and -not (Get-ResourceState -Name $CycleResource)['exists']) {
    throw ('The cluster resource {0} does not exist; the role was not moved.' -f $CycleResource)
}
$before = Get-RoleState
$changed = $false
if ($before['ownerNode'] -eq $Node -and $before['state'] -eq 'Online') {
    $after = $before
}
else {
    if ($before['ownerNode'] -ne $Node) {
        $null = Move-ClusterGroup -Name $RoleName -Node $Node -Wait 300
    }
    $moved = Get-RoleState
    if ($moved['state'] -ne 'Online') {
        $null = Start-ClusterGroup -Name $RoleName -Wait 300
    }
    $changed = $true
    $after = Get-RoleState
    if ($after['ownerNode'] -ne $Node -or $after['state'] -ne 'Online') {
        throw ('ESSO-013 The role {0} is {1} on {2}, not Online on {3}.' -f $RoleName, $after['state'], $after['ownerNode'], $Node)
    }
}

if ($CycleResource -ne '') {
    Invoke-EntSsoResourceCycle -Name $CycleResource
    $changed = $true
    $after = Get-RoleState
}

@{
    changed = $changed
    before = $before
    after = $after
}
