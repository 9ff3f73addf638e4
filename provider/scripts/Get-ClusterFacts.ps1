<#
.SYNOPSIS
    Reads the failover cluster facts that clustering ENTSSO depends on. Changes nothing.

.DESCRIPTION
    Seed: "To create the clustered Enterprise SSO resource", steps 1 and 5 (a clustered MSDTC; a role with an
    IP Address and a Network Name), and the state the restore section moves and cycles.

    Reads (FailoverClusters module, from any Up node):
    - Get-Cluster (name) and Get-ClusterNode (name, state);
    - Get-ClusterGroup for RoleName (owner node, state), $null when the role does not exist;
    - every resource of the role with its type, state, chosen private parameters (Get-ClusterParameter:
      Name/DnsName of a Network Name; ServiceName/UseNetworkName/StartupParameters of a Generic Service;
      Address/SubnetMask/EnableDhcp of an IP Address), its dependencies (Get-ClusterResourceDependency) and
      possible owners (Get-ClusterOwnerNode);
    - every resource of type "Distributed Transaction Coordinator" in the cluster, with its CID under the
      parameter key "CID" ($null where it cannot be read).
    Each type's parameters are one literal hashtable whose keys are exactly the contract's model for that type
    (provider/contracts/facts.py PARAMETERS_BY_TYPE), so a misspelt key fails parsing (ESSO-037).

    Sources:
    - A clustered DTC's CID is the subkey of HKLM\Cluster\Resources\<resource id>\MSDTCPRIVATE\CID whose
      Description subkey's default value is "MSDTC" ([MS-CMOM] 2.2.1.2.2.5 and 2.2.3.5; lib/Dtc.ps1).

    [INFERRED]
    - Resource names are read back from the dependency expression's [brackets].
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$RoleName
)

$ErrorActionPreference = 'Stop'

#esso:include Cluster, ClusterResource, Dtc

function ConvertTo-ParameterValue {
    param(
        $Value
    )
    if ($Value -is [int] -or $Value -is [long] -or $Value -is [uint32] -or $Value -is [int16] -or $Value -is [uint16] -or $Value -is [byte]) {
        return [long]$Value
    }
    return [string]$Value
}

function Get-PossibleOwners {
    param(
        $Resource
    )
    $owners = Get-ClusterOwnerNode -Resource ([string]$Resource.Name)
    foreach ($node in @($owners.OwnerNodes)) {
        [string]$node.Name
    }
}

function Get-ParameterValues {
    # Every private property of the resource by name (Get-ClusterParameter), numbers as [long].
    param(
        $Resource
    )
    $values = @{}
    foreach ($parameter in @($Resource | Get-ClusterParameter)) {
        $values[[string]$parameter.Name] = ConvertTo-ParameterValue -Value $parameter.Value
    }
    return $values
}

function ConvertTo-ResourceParameters {
    # The private properties read for the resource's type, one literal hashtable per type so that its keys are
    # the contract's (provider/contracts/facts.py PARAMETERS_BY_TYPE); a property the resource lacks is $null.
    param(
        $Resource,
        [string]$TypeName
    )
    if ($TypeName -eq 'Network Name') {
        $values = Get-ParameterValues -Resource $Resource
        @{
            Name = $values['Name']
            DnsName = $values['DnsName']
        }
    }
    elseif ($TypeName -eq 'Generic Service') {
        $values = Get-ParameterValues -Resource $Resource
        @{
            ServiceName = $values['ServiceName']
            UseNetworkName = $values['UseNetworkName']
            StartupParameters = $values['StartupParameters']
        }
    }
    elseif ($TypeName -eq 'IP Address') {
        $values = Get-ParameterValues -Resource $Resource
        @{
            Address = $values['Address']
            SubnetMask = $values['SubnetMask']
            EnableDhcp = $values['EnableDhcp']
        }
    }
    elseif ($TypeName -eq 'Distributed Transaction Coordinator') {
        @{
            CID = Get-MsdtcCid -SubKey ('Cluster\Resources\{0}\MSDTCPRIVATE\CID' -f $Resource.Id)
        }
    }
    else {
        @{}
    }
}

function ConvertTo-ResourceFacts {
    param(
        $Resource
    )
    $typeName = [string]$Resource.ResourceType.Name
    $parameters = ConvertTo-ResourceParameters -Resource $Resource -TypeName $typeName
    $ownerNode = $null
    if ($null -ne $Resource.OwnerNode) {
        $ownerNode = [string]$Resource.OwnerNode.Name
    }
    @{
        name = [string]$Resource.Name
        type = $typeName
        group = [string]$Resource.OwnerGroup.Name
        state = [string]$Resource.State
        parameters = $parameters
        dependencies = @(Get-DependencyNames -Resource $Resource)
        possibleOwners = @(Get-PossibleOwners -Resource $Resource)
    }
}

Assert-ClusterMember

$cluster = Get-Cluster
$clusterNodes = @(Get-ClusterNode)
$nodes = @(
    foreach ($clusterNode in $clusterNodes) {
        @{
            name = [string]$clusterNode.Name
            state = [string]$clusterNode.State
        }
    }
)

$role = $null
$roleResources = @()
$groups = @(Get-ClusterGroup | Where-Object { $_.Name -eq $RoleName })
if ($groups.Count -gt 0) {
    $group = $groups[0]
    $role = @{
        name = [string]$group.Name
        ownerNode = [string]$group.OwnerNode.Name
        state = [string]$group.State
    }
    $roleResources = @($group | Get-ClusterResource)
}
$resources = @(
    foreach ($resource in $roleResources) {
        ConvertTo-ResourceFacts -Resource $resource
    }
)

$dtcResources = @(Get-ClusterResource | Where-Object { $_.ResourceType.Name -eq 'Distributed Transaction Coordinator' })
$msdtc = @(
    foreach ($resource in $dtcResources) {
        ConvertTo-ResourceFacts -Resource $resource
    }
)

@{
    clusterName = [string]$cluster.Name
    nodes = $nodes
    role = $role
    resources = $resources
    msdtc = $msdtc
}
