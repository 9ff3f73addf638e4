# ResourceCycle: the offline/online cycle of the clustered ENTSSO resource where its role is.
#
# Why one place: Restart-SsoClusterResource.ps1 cycles it on its own, and Move-SsoRole.ps1 -CycleResource right
# after moving the role (a restore's steps 2-3 in one call, issue 15); both must cycle it in exactly the same way.
# Needs ClusterResource (Get-ResourceState), which the including script includes too.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function Invoke-EntSsoResourceCycle {
    # Stop-ClusterResource (skipped when already Offline) and Start-ClusterResource on the ENTSSO resource where its
    # role is, waiting for each: seed "To restore the master secret on the second cluster node" step 3, and design
    # rule 11 (a clustered ENTSSO is cycled only this way). ESSO-026 when it is not Online afterwards.
    param(
        [string]$Name
    )
    $state = Get-ResourceState -Name $Name
    if (-not $state['exists']) {
        throw ('The cluster resource {0} does not exist.' -f $Name)
    }
    if ($state['state'] -ne 'Offline') {
        $null = Stop-ClusterResource -Name $Name -Wait 300
    }
    $null = Start-ClusterResource -Name $Name -Wait 300
    $cycled = Get-ResourceState -Name $Name
    if ($cycled['state'] -ne 'Online') {
        throw ('ESSO-026 The cluster resource {0} is {1} on {2} after the offline/online cycle.' -f $Name, $cycled['state'], $cycled['ownerNode'])
    }
}
