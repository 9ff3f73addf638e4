# Nlb: whether Network Load Balancing is on this node (design rule 1: an NLB node cannot hold the master secret).
#
# Why one place: the preflight read (Get-NodeFacts) and the scripts that refuse an NLB node (Install, Join,
# Restore) must apply the same test, or a node could pass the preflight and be refused later.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function Test-NlbPresent {
    # Network Load Balancing: the NLB server feature installed, or the ms_wlbs binding enabled on an adapter
    # [INFERRED for the binding check].
    if (Get-Command -Name 'Get-WindowsFeature' -ErrorAction SilentlyContinue) {
        $feature = Get-WindowsFeature -Name 'NLB'
        if ($null -ne $feature -and $feature.Installed) {
            return $true
        }
    }
    if (Get-Command -Name 'Get-NetAdapterBinding' -ErrorAction SilentlyContinue) {
        $bindings = @(Get-NetAdapterBinding -ComponentID 'ms_wlbs' -ErrorAction SilentlyContinue | Where-Object { $_.Enabled })
        if ($bindings.Count -gt 0) {
            return $true
        }
    }
    return $false
}

function Assert-NoNlb {
    # Refuses a node with Network Load Balancing before anything changes (ESSO-001, design rule 1; the seed's
    # caution: the master secret server cannot be on an NLB cluster).
    if (Test-NlbPresent) {
        throw ('ESSO-001 {0} has Network Load Balancing; it cannot hold the master secret.' -f $env:COMPUTERNAME)
    }
}
