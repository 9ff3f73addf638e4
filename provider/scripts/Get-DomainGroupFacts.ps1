<#
.SYNOPSIS
    Reads the two SSO domain groups: existence, scope, category and direct members. Changes nothing.

.DESCRIPTION
    Seed: steps 2-4 (SSO Administrators and SSO Affiliate Administrators as domain groups; the service account
    and the configuring account in SSO Administrators).

    Reads, with the ActiveDirectory module against the domain's PDC emulator (one domain controller for every
    read, so a group just created elsewhere is not missed by replication lag; a second hop, rule 12):
    Get-ADGroup (GroupScope, GroupCategory) and Get-ADGroupMember (direct members' sAMAccountNames).
    Members is accepted for a uniform contract with Set-SsoDomainGroups and is not needed here.

    [INFERRED] Group names are sAMAccountNames without a domain prefix; the -Filter reads the name from a
    variable (the module resolves it), so no name is ever pasted into filter text.

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

$domainController = Get-GroupDomainController

@{
    adminGroup = Get-GroupFacts -Name $AdminGroup -Server $domainController
    affiliateAdminGroup = Get-GroupFacts -Name $AffiliateAdminGroup -Server $domainController
}
