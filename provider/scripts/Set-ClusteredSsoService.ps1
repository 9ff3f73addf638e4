<#
.SYNOPSIS
    Ensures ENTSSO is a Generic Service resource of the role, with UseNetworkName=1 and a dependency on the
    role's Network Name resource (idempotent).

.DESCRIPTION
    Seed: "To create the clustered Enterprise SSO resource", steps 1, 5-12 (a clustered MSDTC; a role with an
    IP Address and a Network Name; Add a resource > Generic Service > Enterprise Single Sign-On Service with
    "Use Network Name for computer name"; Dependencies > Insert > the Name: resource).

    Preflight (design rule 7): refuses without a clustered Distributed Transaction Coordinator or when one has
    this node's local MSDTC CID ([MS-CMOM] 2.2.3.5, lib/Dtc.ps1; an unreadable CID passes) (ESSO-008), without
    the role or without NetworkNameResource as a Network Name resource of the role (ESSO-009). Refuses to adopt a
    resource of that name that is not a Generic Service of the role.

    Reads the resource (Get-ClusterResource), its ServiceName/UseNetworkName (Get-ClusterParameter) and its
    dependencies (Get-ClusterResourceDependency). Changes only what differs:
    - Add-ClusterResource -Name ResourceName -Group RoleName -ResourceType 'Generic Service' when missing;
    - Set-ClusterParameter -Multiple @{ServiceName='ENTSSO'; UseNetworkName=1} (design rule 8, 0x800706D9);
    - Add-ClusterResourceDependency on NetworkNameResource, or Set-ClusterResourceDependency when the resource
      depends on another Network Name resource (the other dependencies are kept, joined with "and").
    Dependencies a person added stay: the seed asks only that the Name: resource be among them (step 11, "Insert"),
    and Add-ClusterResourceDependency adds with "and". The simulator and the provider's drift() read it the same way.
    - Grant-ClusterAccess -User ServiceAccount -Full when neither the account nor a group in its token holds Full
      access (Get-ClusterAccess). Source: biztalk-docs technical-guides/clustering-the-master-secret-server.md,
      "This account must also be granted Full Control access to the cluster". The page names no Windows version and
      no later page withdraws it, so it is done on 2016-2022 too; whether ENTSSO needs it there could not be decided
      from documentation (Grant-ClusterAccess docs: Full access to the cluster equals full access to each node).
    needsCycle: the resource was Online and a parameter or dependency changed in this call; the change takes
    effect after an offline/online cycle (Restart-SsoClusterResource), which the provider runs only with
    allowDisruption. It is reported once, by the call that changed: the provider therefore checks
    allowDisruption before calling this script on an Online resource that needs a repair.

    [INFERRED] The new resource is left Offline (the restore sequence brings it online on each node).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$RoleName,
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$ResourceName,
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$NetworkNameResource,
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$ServiceAccount
)

$ErrorActionPreference = 'Stop'

#esso:include Cluster, ClusterResource, Dtc, LogonRight

function Test-FullClusterAccess {
    # Whether ServiceAccount, or a group in its token, holds Full access to the cluster (Get-ClusterAccess rules
    # with ClusterRights 'Full' and an IdentityReference; the properties FailoverClusterDsc's ClusterAccess reads).
    $sid = Resolve-AccountSid -Name $ServiceAccount
    if ($null -eq $sid) {
        throw ('ESSO-003 The service account {0} does not resolve to a SID on {1}.' -f $ServiceAccount, $env:COMPUTERNAME)
    }
    $sids = Get-AccountTokenSids -Account $ServiceAccount -Sid $sid
    foreach ($rule in @(Get-ClusterAccess)) {
        if ([string]$rule.ClusterRights -ne 'Full') {
            continue
        }
        $holder = Resolve-AccountSid -Name ([string]$rule.IdentityReference.Value)
        if ($null -ne $holder -and $sids -contains $holder) {
            return $true
        }
    }
    return $false
}

function Get-ClusteredServiceState {
    $resource = Find-ClusterResource -Name $ResourceName
    if ($null -eq $resource) {
        return @{
            exists = $false
            serviceName = $null
            useNetworkName = $null
            dependencies = @()
            state = $null
            serviceAccountFullAccess = [bool](Test-FullClusterAccess)
        }
    }
    $serviceName = $null
    $useNetworkName = $null
    foreach ($parameter in @($resource | Get-ClusterParameter)) {
        if ($parameter.Name -eq 'ServiceName') {
            $serviceName = [string]$parameter.Value
        }
        elseif ($parameter.Name -eq 'UseNetworkName') {
            $useNetworkName = [int]$parameter.Value
        }
    }
    @{
        exists = $true
        serviceName = $serviceName
        useNetworkName = $useNetworkName
        dependencies = @(Get-DependencyNames -Resource $resource)
        state = [string]$resource.State
        serviceAccountFullAccess = [bool](Test-FullClusterAccess)
    }
}

Assert-ClusterMember
foreach ($name in @($ResourceName, $NetworkNameResource)) {
    if ($name.Contains('[') -or $name.Contains(']')) {
        throw ('The cluster resource name {0} must not contain brackets (they delimit dependency expressions).' -f $name)
    }
}

$dtc = @(Get-ClusterResource | Where-Object { $_.ResourceType.Name -eq 'Distributed Transaction Coordinator' })
if ($dtc.Count -eq 0) {
    throw 'ESSO-008 The cluster has no clustered Distributed Transaction Coordinator resource; create one before clustering ENTSSO.'
}
$localCid = Get-MsdtcCid -SubKey 'SOFTWARE\Classes\CID'
foreach ($resource in $dtc) {
    $clusteredCid = Get-MsdtcCid -SubKey ('Cluster\Resources\{0}\MSDTCPRIVATE\CID' -f $resource.Id)
    if ($null -ne $clusteredCid -and $clusteredCid -eq $localCid) {
        throw ('ESSO-008 The clustered MSDTC {0} has the CID {1} of the local MSDTC of {2}; run msdtc -uninstall and msdtc -install on the cloned node.' -f $resource.Name, $clusteredCid, $env:COMPUTERNAME)
    }
}
$roles = @(Get-ClusterGroup | Where-Object { $_.Name -eq $RoleName })
if ($roles.Count -eq 0) {
    throw ('ESSO-009 The cluster role {0} does not exist.' -f $RoleName)
}
$roleResources = @($roles[0] | Get-ClusterResource)
$networkNames = @($roleResources | Where-Object { $_.ResourceType.Name -eq 'Network Name' })
$ipAddresses = @($roleResources | Where-Object { $_.ResourceType.Name -eq 'IP Address' -or $_.ResourceType.Name -eq 'IPv6 Address' })
if (@($networkNames | Where-Object { $_.Name -eq $NetworkNameResource }).Count -eq 0) {
    throw ('ESSO-009 {0} is not a Network Name resource of the role {1}.' -f $NetworkNameResource, $RoleName)
}
if ($ipAddresses.Count -eq 0) {
    throw ('ESSO-009 The role {0} has no IP Address resource.' -f $RoleName)
}

$existing = Find-ClusterResource -Name $ResourceName
if ($null -ne $existing) {
    if ($existing.ResourceType.Name -ne 'Generic Service' -or $existing.OwnerGroup.Name -ne $RoleName) {
        throw ('The cluster resource {0} exists as a {1} in {2}, not as a Generic Service of the role {3}.' -f $ResourceName, $existing.ResourceType.Name, $existing.OwnerGroup.Name, $RoleName)
    }
}

$before = Get-ClusteredServiceState
$changed = $false
$configChanged = $false

if (-not $before['exists']) {
    $null = Add-ClusterResource -Name $ResourceName -Group $RoleName -ResourceType 'Generic Service'
    $changed = $true
}
$resource = Find-ClusterResource -Name $ResourceName

if ($before['serviceName'] -ne 'ENTSSO' -or $before['useNetworkName'] -ne 1) {
    $null = $resource | Set-ClusterParameter -Multiple @{ ServiceName = 'ENTSSO'; UseNetworkName = 1 }
    $changed = $true
    $configChanged = $true
}

$dependencies = @(Get-DependencyNames -Resource $resource)
if ($dependencies -notcontains $NetworkNameResource) {
    $otherNames = @(
        foreach ($dependency in $dependencies) {
            $provider = Find-ClusterResource -Name $dependency
            if ($null -ne $provider -and $provider.ResourceType.Name -eq 'Network Name') {
                $dependency
            }
        }
    )
    if ($otherNames.Count -eq 0) {
        $null = Add-ClusterResourceDependency -Resource $ResourceName -Provider $NetworkNameResource
    }
    else {
        $kept = @(
            foreach ($dependency in $dependencies) {
                if ($otherNames -notcontains $dependency) {
                    '[{0}]' -f $dependency
                }
            }
        )
        $expression = (@($kept) + @('[{0}]' -f $NetworkNameResource)) -join ' and '
        $null = Set-ClusterResourceDependency -Resource $ResourceName -Dependency $expression
    }
    $changed = $true
    $configChanged = $true
}

if (-not $before['serviceAccountFullAccess']) {
    $null = Grant-ClusterAccess -User $ServiceAccount -Full
    $changed = $true
}

$after = Get-ClusteredServiceState
if (-not $after['serviceAccountFullAccess']) {
    throw ('{0} does not hold Full access to the cluster after Grant-ClusterAccess.' -f $ServiceAccount)
}
if ($after['serviceName'] -ne 'ENTSSO' -or $after['useNetworkName'] -ne 1 -or @($after['dependencies']) -notcontains $NetworkNameResource) {
    throw ('ESSO-010 {0} is not configured with ServiceName=ENTSSO, UseNetworkName=1 and a dependency on {1} after the change.' -f $ResourceName, $NetworkNameResource)
}

@{
    changed = $changed
    before = $before
    after = $after
    needsCycle = ($configChanged -and $before['exists'] -and $before['state'] -eq 'Online')
}
