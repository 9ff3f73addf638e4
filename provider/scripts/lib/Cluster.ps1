# Cluster: whether this node is a running failover cluster member, the refusal when it is not (ESSO-017), and the
# Generic Service cluster resources whose ServiceName is ENTSSO.
#
# Why one place: design rule 11 (once ENTSSO is a cluster resource it is cycled only by the cluster) is decided on
# these answers in many scripts; they must all recognise the clustered ENTSSO the same way.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function Test-ClusterMember {
    # The Cluster service runs only on a failover cluster member.
    $service = Get-Service -Name 'ClusSvc' -ErrorAction SilentlyContinue
    return ($null -ne $service -and $service.Status -eq [System.ServiceProcess.ServiceControllerStatus]::Running)
}

function Assert-ClusterMember {
    if (-not (Test-ClusterMember)) {
        throw ('ESSO-017 {0} is not a running failover cluster member (the Cluster service is not running).' -f $env:COMPUTERNAME)
    }
    Import-Module -Name FailoverClusters
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
