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
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$ResourceName
)

$ErrorActionPreference = 'Stop'

#esso:include Cluster, ClusterResource, ResourceCycle

Assert-ClusterMember
$before = Get-ResourceState -Name $ResourceName
Invoke-EntSsoResourceCycle -Name $ResourceName
$after = Get-ResourceState -Name $ResourceName

@{
    changed = $true
    before = $before
    after = $after
}
