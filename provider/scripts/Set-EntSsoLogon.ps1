<#
.SYNOPSIS
    Sets the account and password the ENTSSO service logs on with (after the account's password was changed).

.DESCRIPTION
    Seed install step 3: "The Enterprise SSO service on each node is configured to log on as this domain account."
    When that account's password changes in Active Directory, each node's service entry must change with it, or
    ENTSSO fails to start at its next start or failover (error 1069, a logon failure).

    Changes the service's logon with Win32_Service.Change (StartName, StartPassword). The running service keeps
    its current logon session; the new password is used at its next start. A password cannot be read back, so
    the provider calls this only when the password's fingerprint changed, and the script always acts. The
    password arrives as a SecureString and is plaintext only in memory (Use-PlainSecret: ZeroFreeBSTR in finally).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string]$Account,
    [Parameter(Mandatory)] [System.Security.SecureString]$Password
)

$ErrorActionPreference = 'Stop'

#esso:include EssoInterop, PlainSecret

function Get-LogonState {
    $service = Get-EntSsoService
    @{
        account = [string]$service.StartName
    }
}

$before = Get-LogonState
$service = Get-EntSsoService
$outcome = Use-PlainSecret -Secret @($Password) -Action {
    param(
        [string[]]$Plain
    )
    Invoke-CimMethod -InputObject $service -MethodName 'Change' -Arguments @{
        StartName = $Account
        StartPassword = $Plain[0]
    }
}
if ($outcome.ReturnValue -ne 0) {
    throw ('Win32_Service.Change for ENTSSO on {0} returned {1}.' -f $env:COMPUTERNAME, $outcome.ReturnValue)
}
$after = Get-LogonState

@{
    changed = $true
    before = $before
    after = $after
}
