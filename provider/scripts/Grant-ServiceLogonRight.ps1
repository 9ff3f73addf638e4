<#
.SYNOPSIS
    Ensures the ENTSSO service account holds "Log on as a service" (SeServiceLogonRight) on this node.

.DESCRIPTION
    Seed: step 3, "This account must have the Log on as a service right on each node in the cluster".

    Reads the holders of SeServiceLogonRight from the local LSA policy (LsaEnumerateAccountsWithUserRight,
    compared by SID) and, when the account is not among them, grants the right with LsaAddAccountRights.
    Refuses (ESSO-018) when a Group Policy defines the right without the account: the next policy refresh
    would revert a local grant, so the fix belongs in that GPO.

    A right held by a group the account belongs to counts as granted (the usual GPO grants it to a group of
    service accounts; review ps_fidelity F6): the account's token groups come from an S4U logon
    (lib/LogonRight.ps1 Get-AccountTokenSids), and a GPO that lists one of them includes the account.

    [INFERRED]
    - GPO detection reads RSoP logging data (root\rsop\computer RSOP_UserPrivilegeRight, precedence 1).
    - When no S4U token can be had (an account of another domain), only the account's own SID is compared, and
      the account's own SID is what is granted.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$Account
)

$ErrorActionPreference = 'Stop'

#esso:include LogonRight

$sid = Resolve-AccountSid -Name $Account
if ($null -eq $sid) {
    throw ('ESSO-003 The service account {0} does not resolve to a SID on {1}.' -f $Account, $env:COMPUTERNAME)
}

$tokenSids = Get-AccountTokenSids -Account $Account -Sid $sid
$before = @{
    granted = [bool](Test-ServiceLogonRight -Sids $tokenSids)
}
$changed = $false
if (-not $before['granted']) {
    $gpo = Get-GpoLogonRight -Sids $tokenSids
    if ($gpo['viaGpo'] -and -not $gpo['includesAccount']) {
        throw ('ESSO-018 A Group Policy defines "Log on as a service" on {0} without {1}; a local grant would be reverted.' -f $env:COMPUTERNAME, $Account)
    }
    Import-EssoLsa
    [EssoLsaRights]::AddRight($sid, 'SeServiceLogonRight')
    $changed = $true
}
$after = @{
    granted = [bool](Test-ServiceLogonRight -Sids $tokenSids)
}
if (-not $after['granted']) {
    throw ('ESSO-003 {0} still lacks "Log on as a service" on {1} after granting it.' -f $Account, $env:COMPUTERNAME)
}

@{
    changed = $changed
    before = $before
    after = $after
}
