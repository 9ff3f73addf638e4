<#
.SYNOPSIS
    Ensures the two SSO domain global security groups exist and that SSO Administrators holds the members.

.DESCRIPTION
    Seed: steps 2-4. Step 2: "Create SSO Administrators and SSO Affiliate Administrators domain groups"; step 3:
    the ENTSSO service account is a member of SSO Administrators; step 4: the configuring account is added to
    SSO Administrators ("Configuration of the Enterprise SSO service fails if steps 3 and 4 are not completed").

    Changes (ActiveDirectory module, against the PDC emulator; a second hop, rule 12):
    - New-ADGroup -GroupScope Global -GroupCategory Security for a group that does not exist (default container);
    - Add-ADGroupMember for each of Members missing from AdminGroup.
    Never removes a group or a member (BizTalk shares them). Refuses (ESSO-002) an existing group that is not a
    global security group (design rule 2); it is not converted, since other systems may rely on its scope.

    Rule 13: a membership added here counts only in logon tokens issued afterwards; the provider opens a new
    session before configuring.

    [INFERRED] Group names are sAMAccountNames without a domain prefix; new groups take the name as Name and
    SamAccountName.

    Needs the ActiveDirectory module (feature RSAT-AD-PowerShell) on the node: checked first (ESSO-028).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$AdminGroup,
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$AffiliateAdminGroup,
    [Parameter(Mandatory)] [AllowEmptyCollection()] [string[]]$Members
)

$ErrorActionPreference = 'Stop'

#esso:include AdGroup

function Get-DomainGroupsState {
    param(
        [string]$Server
    )
    $admin = Get-GroupFacts -Name $AdminGroup -Server $Server
    $affiliate = Get-GroupFacts -Name $AffiliateAdminGroup -Server $Server
    $present = @(
        foreach ($facts in @($admin, $affiliate)) {
            if ($facts['exists']) {
                $facts['name']
            }
        }
    )
    @{
        adminGroupMembers = @($admin['members'])
        groupsPresent = $present
    }
}

$domainController = Get-GroupDomainController

foreach ($name in @($AdminGroup, $AffiliateAdminGroup)) {
    $facts = Get-GroupFacts -Name $name -Server $domainController
    if ($facts['exists'] -and ($facts['scope'] -ne 'Global' -or $facts['category'] -ne 'Security')) {
        throw ('ESSO-002 The group {0} exists as a {1} {2} group; SSO groups must be domain global security groups (seed step 2). Use another name or convert it.' -f $name, $facts['scope'], $facts['category'])
    }
}

$before = Get-DomainGroupsState -Server $domainController
$changed = $false

foreach ($name in @($AdminGroup, $AffiliateAdminGroup)) {
    if ($before['groupsPresent'] -notcontains $name) {
        New-ADGroup -Name $name -SamAccountName $name -GroupScope Global -GroupCategory Security -Server $domainController
        $changed = $true
    }
}

$missing = @(
    foreach ($member in $Members) {
        if ($before['adminGroupMembers'] -notcontains $member) {
            $member
        }
    }
)
if ($missing.Count -gt 0) {
    $group = Find-ADGroupByName -Name $AdminGroup -Server $domainController
    Add-ADGroupMember -Identity $group -Members $missing -Server $domainController
    $changed = $true
}

$after = Get-DomainGroupsState -Server $domainController
foreach ($member in $Members) {
    if ($after['adminGroupMembers'] -notcontains $member) {
        throw ('ESSO-003 {0} is not a member of {1} after adding it.' -f $member, $AdminGroup)
    }
}

@{
    changed = $changed
    before = $before
    after = $after
}
