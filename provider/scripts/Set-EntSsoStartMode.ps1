<#
.SYNOPSIS
    Ensures the ENTSSO service starts Manual, so that only the cluster starts it (idempotent).

.DESCRIPTION
    Seed: "To create the clustered Enterprise SSO resource", step 6 IMPORTANT (0x800706D9). Design: "ENTSSO is set
    to start Manual and kept under cluster control"; biztalk-esso.md section 8: a local ENTSSO started before the
    clustered resource comes online prevents the RPC "SSOSecretServer" registration (0x800706D9).

    Reads the start mode (Win32_Service StartMode, reported as Automatic/Manual/Disabled); when it is not
    StartMode, sets it with Set-Service -StartupType. Only Manual is accepted. When a clustered ENTSSO exists
    and this node is not where the cluster runs it (owner node of an Online resource), a running local ENTSSO
    is stopped: it was started outside the cluster (by Configuration.exe or net start) and would keep the
    RPC registration from happening when the resource comes online here. Stop-Service -Force: without it the stop
    fails while dependent services run (BizTalk hosts, the Rule Engine Update Service on shared nodes); they
    stop with ENTSSO, which outside the cluster's control serves nothing anyway.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateSet('Manual')] [string]$StartMode
)

$ErrorActionPreference = 'Stop'

#esso:include EssoInterop, Cluster

function Get-StartModeState {
    $service = Get-EntSsoService
    $startType = [string]$service.StartMode
    if ($startType -eq 'Auto') {
        $startType = 'Automatic'
    }
    @{
        startType = $startType
        state = [string]$service.State
    }
}

function Test-RunByCluster {
    # True when an ENTSSO cluster resource owned by this node is Online or on its way (OnlinePending,
    # OfflinePending): the cluster runs or is acting on the service here, and a local stop would fight it. The
    # owner is compared with both the NetBIOS and the DNS host name (a cluster node name may be the longer one;
    # review ps_fidelity F15).
    $names = @($env:COMPUTERNAME, [System.Net.Dns]::GetHostName())
    foreach ($resource in @(Get-EntSsoClusterResource)) {
        $owner = [string]$resource.OwnerNode.Name
        $state = [string]$resource.State
        if (($state -eq 'Online' -or $state -like '*Pending') -and $names -contains $owner) {
            return $true
        }
    }
    return $false
}

function Test-ClusteredAnywhere {
    return (@(Get-EntSsoClusterResource).Count -gt 0)
}

$before = Get-StartModeState
$changed = $false
if ($before['startType'] -ne $StartMode) {
    Set-Service -Name 'ENTSSO' -StartupType $StartMode
    $changed = $true
}
if ($before['state'] -eq 'Running' -and (Test-ClusteredAnywhere) -and -not (Test-RunByCluster)) {
    Stop-Service -Name 'ENTSSO' -Force
    $changed = $true
}
$after = Get-StartModeState
if ($after['startType'] -ne $StartMode) {
    throw ('ENTSSO still starts {0} on {1}.' -f $after['startType'], $env:COMPUTERNAME)
}

@{
    changed = $changed
    before = $before
    after = $after
}
