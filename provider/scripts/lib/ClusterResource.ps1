# ClusterResource: one named cluster resource: the ENTSSO Generic Service by name (refusing any other resource),
# its existence/state/owner, and the resource names in its dependency expression.
#
# Why one place: the scripts that change the clustered ENTSSO resource must refuse to act on anything else in
# exactly the same way.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function Find-ClusterResource {
    # The cluster resource of that name, of any type, or $null.
    param(
        [string]$Name
    )
    $found = @(Get-ClusterResource | Where-Object { $_.Name -eq $Name })
    if ($found.Count -eq 0) {
        return $null
    }
    # The comma keeps PowerShell from enumerating the returned object.
    return ,$found[0]
}

function Get-EntSsoResourceByName {
    # The named cluster resource, which must be a Generic Service for ENTSSO (these scripts never touch another
    # resource); $null when it does not exist.
    param(
        [string]$Name
    )
    $resource = Find-ClusterResource -Name $Name
    if ($null -eq $resource) {
        return $null
    }
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

function Get-DependencyNames {
    # The resource names in a dependency expression such as "([Name] and [IP Address 10.0.0.5])".
    param(
        $Resource
    )
    $dependency = $Resource | Get-ClusterResourceDependency
    $expression = [string]$dependency.DependencyExpression
    foreach ($match in [regex]::Matches($expression, '\[([^\]]+)\]')) {
        $match.Groups[1].Value
    }
}
