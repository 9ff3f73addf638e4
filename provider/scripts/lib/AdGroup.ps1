# AdGroup: an SSO domain group by sAMAccountName (the name is read by the ActiveDirectory module from a variable,
# never pasted into filter text) and its facts: scope, category, direct members.
#
# Why one place: Get-DomainGroupFacts reads and Set-SsoDomainGroups changes the groups; both must see a group the
# same way, on the same domain controller.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function Import-ActiveDirectoryModule {
    # The ActiveDirectory module ships with the feature RSAT-AD-PowerShell, which member servers (cluster nodes)
    # lack by default and failover clustering does not pull in (New-ADGroup docs: module ActiveDirectory;
    # review ps_fidelity F4). Checked before use, so the error names the feature instead of "module not found".
    if (@(Get-Module -ListAvailable -Name ActiveDirectory).Count -eq 0) {
        throw ('ESSO-028 The ActiveDirectory PowerShell module is not installed on {0}; run Install-WindowsFeature RSAT-AD-PowerShell there (it also needs Active Directory Web Services, TCP 9389, on a domain controller).' -f $env:COMPUTERNAME)
    }
    Import-Module -Name ActiveDirectory
}

function Get-GroupDomainController {
    # The ActiveDirectory module (checked first, Import-ActiveDirectoryModule) and the domain's PDC emulator: every
    # read and change goes to that one domain controller, so a group just created elsewhere is not missed by
    # replication lag (a second hop, rule 12).
    Import-ActiveDirectoryModule
    return (Get-ADDomain).PDCEmulator
}

function Find-ADGroupByName {
    param(
        [string]$Name,
        [string]$Server
    )
    $groupName = $Name
    $found = @(Get-ADGroup -Filter 'SamAccountName -eq $groupName' -Server $Server)
    if ($found.Count -eq 0) {
        return $null
    }
    # The comma keeps PowerShell from enumerating the returned object.
    return ,$found[0]
}

function Get-GroupFacts {
    param(
        [string]$Name,
        [string]$Server
    )
    $group = Find-ADGroupByName -Name $Name -Server $Server
    if ($null -eq $group) {
        return @{
            name = $Name
            exists = $false
            scope = $null
            category = $null
            members = @()
        }
    }
    $memberNames = @(
        foreach ($member in @(Get-ADGroupMember -Identity $group -Server $Server)) {
            [string]$member.SamAccountName
        }
    )
    @{
        name = $Name
        exists = $true
        scope = [string]$group.GroupScope
        category = [string]$group.GroupCategory
        members = @($memberNames | Sort-Object)
    }
}
