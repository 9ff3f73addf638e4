<#
.SYNOPSIS
    Reads the facts of one node that the preflight checks and read() need. Changes nothing.

.DESCRIPTION
    Seed: "To install and configure Enterprise SSO on the cluster nodes", steps 1-4 (ESSO installed, NLB
    absent, service account rights, configuring account in SSO Administrators), and the checks of the
    restore section (SSOSS key, secret server status).

    Reads:
    - the computer name; ESSO installed (the ENTSSO service) and its version (registry value Server under
      HKLM\SOFTWARE\Microsoft\ENTSSO, both registry views; else ENTSSO.exe's file version);
    - ENTSSO's state, start mode and logon account (Win32_Service);
    - HKLM\SOFTWARE\Microsoft\ENTSSO\SQL Server/Database and the GUID subkeys of ...\ENTSSO\SSOSS (both views);
    - NLB: the NLB feature or an enabled ms_wlbs adapter binding;
    - "Log on as a service" for ServiceAccount through LSA (LsaEnumerateAccountsWithUserRight, compared by SID),
      and whether a Group Policy defines that right (RSoP data) and lists the account;
    - whether this session's logon token carries AdminGroup (rule 13: a token issued before the membership
      was added does not);
    - this node's failover cluster node state; the local MSDTC CID ([MS-CMOM] 2.2.3.5: the HKCR\CID\<GUID>
      whose Description subkey's default value is MSDTC; lib/Dtc.ps1); ISSOConfigOM.GetServerStatus, whose
      failure is reported as flags -1 with its error, not thrown.
    - HKLM\SOFTWARE\esso-cluster JoinedSystem: the SSO system this tool's join configured the node for, if any.

    [INFERRED]
    - GPO detection uses RSOP_UserPrivilegeRight (root\rsop\computer); no RSoP data reads as "no GPO".
    - A logon right granted to a group the account belongs to counts (its token groups from an S4U logon); when no
      S4U token can be had, only the account's own SID is compared.
    - ENTSSO pending states are waited on for up to 30 s, then anything but Running reads as Stopped.
    - The ms_wlbs binding check and the GetServerStatus reflection call (see the functions).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$ServiceAccount,
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$AdminGroup
)

$ErrorActionPreference = 'Stop'

#esso:include EssoRegistry, EssoInterop, MasterSecret, Nlb, Cluster, LogonRight, Dtc

function Get-SecretServerStatus {
    # ISSOConfigOM.GetServerStatus: StatusFlags 0x2 SECRET_SERVER_RUNNING, 0x20 CLUSTER. Called through
    # reflection so that the 15 out parameters need no typed declaration [INFERRED call mechanism; the
    # signature is CONFIRMED]. A stopped or absent ENTSSO reports flags 0. A failing call (RPC, access denied,
    # a mismatched interop) is reported as a fact (flags -1 and the error) so one node's COM error does not
    # fail every preflight (issue 9 A9).
    $flags = 0
    $statusError = $null
    $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='ENTSSO'"
    if ($null -ne $service -and $service.State -eq 'Running') {
        try {
            Import-EssoInterop
            $configOm = New-Object -TypeName 'Microsoft.EnterpriseSingleSignOn.Interop.SSOConfigOM'
            $interface = 'Microsoft.EnterpriseSingleSignOn.Interop.ISSOConfigOM' -as [type]
            $method = $interface.GetMethod('GetServerStatus')
            $parameters = $method.GetParameters()
            $callArgs = New-Object -TypeName 'object[]' -ArgumentList $parameters.Length
            $callArgs[0] = [Convert]::ChangeType(0, $parameters[0].ParameterType)
            $null = $method.Invoke($configOm, $callArgs)
            $index = $parameters.Length - 1
            for ($i = 0; $i -lt $parameters.Length; $i++) {
                if ($parameters[$i].Name -match 'StatusFlags') {
                    $index = $i
                }
            }
            $flags = [int]$callArgs[$index]
        }
        catch {
            $inner = $_.Exception
            while ($null -ne $inner.InnerException) {
                $inner = $inner.InnerException
            }
            $flags = -1
            $statusError = ('GetServerStatus failed: {0} (0x{1:x8})' -f $inner.Message, $inner.HResult)
        }
    }
    @{
        flags = $flags
        running = ($flags -ne -1 -and ($flags -band 0x2) -ne 0)
        clustered = ($flags -ne -1 -and ($flags -band 0x20) -ne 0)
        error = $statusError
    }
}
function Get-EntSsoFacts {
    $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='ENTSSO'"
    if ($null -eq $service) {
        return @{
            state = 'Absent'
            startType = 'None'
            account = $null
        }
    }
    $deadline = (Get-Date).AddSeconds(30)
    while ([string]$service.State -like '*Pending' -and (Get-Date) -lt $deadline) {
        Start-Sleep -Seconds 2
        $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='ENTSSO'"
    }
    $serviceState = 'Stopped'
    if ($service.State -eq 'Running') {
        $serviceState = 'Running'
    }
    $startType = 'None'
    if ($service.StartMode -eq 'Auto') {
        $startType = 'Automatic'
    }
    elseif ($service.StartMode -eq 'Manual') {
        $startType = 'Manual'
    }
    elseif ($service.StartMode -eq 'Disabled') {
        $startType = 'Disabled'
    }
    @{
        state = $serviceState
        startType = $startType
        account = [string]$service.StartName
    }
}

function Get-EssoVersion {
    $version = Get-EssoRegistryValue -SubKey 'SOFTWARE\Microsoft\ENTSSO' -Name 'Server'
    if ($null -ne $version) {
        return $version
    }
    $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='ENTSSO'"
    if ($null -ne $service -and $service.PathName) {
        $match = [regex]::Match([string]$service.PathName, '^\s*"?(?<exe>[^"]+?\.exe)', 'IgnoreCase')
        if ($match.Success -and (Test-Path -LiteralPath $match.Groups['exe'].Value -PathType Leaf)) {
            return [System.Diagnostics.FileVersionInfo]::GetVersionInfo($match.Groups['exe'].Value).FileVersion
        }
    }
    return $null
}

function Get-LocalClusterNodeState {
    if (-not (Test-ClusterMember)) {
        return $null
    }
    Import-Module -Name FailoverClusters
    $nodes = @(Get-ClusterNode | Where-Object { $_.Name -eq $env:COMPUTERNAME })
    if ($nodes.Count -eq 0) {
        return $null
    }
    return [string]$nodes[0].State
}

function Test-TokenHasGroup {
    param(
        [string]$Group
    )
    $groupSid = Resolve-AccountSid -Name $Group
    if ($null -eq $groupSid) {
        return $false
    }
    $identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
    foreach ($member in $identity.Groups) {
        if ($member.Value -eq $groupSid) {
            return $true
        }
    }
    return $false
}

$entsso = Get-EntSsoFacts
$accountSid = Resolve-AccountSid -Name $ServiceAccount
$tokenSids = Get-AccountTokenSids -Account $ServiceAccount -Sid $accountSid
$granted = $false
if ($null -ne $accountSid) {
    $granted = Test-ServiceLogonRight -Sids $tokenSids
}
$gpo = Get-GpoLogonRight -Sids $tokenSids
$logonRight = @{
    granted = [bool]$granted
    viaGpo = [bool]$gpo['viaGpo']
    gpoIncludesAccount = [bool]$gpo['includesAccount']
}

@{
    computerName = $env:COMPUTERNAME
    essoInstalled = ($entsso['state'] -ne 'Absent')
    essoVersion = Get-EssoVersion
    entsso = $entsso
    ssoConfig = Get-SsoConfigState
    ssossMsids = @(Get-SsossMsids)
    nlbInstalled = [bool](Test-NlbPresent)
    logonRight = $logonRight
    tokenHasAdminGroup = [bool](Test-TokenHasGroup -Group $AdminGroup)
    clusterNodeState = Get-LocalClusterNodeState
    dtcCid = Get-MsdtcCid -SubKey 'SOFTWARE\Classes\CID'
    secretServerStatus = Get-SecretServerStatus
    joinMarker = Get-JoinMarker
}
