<#
.SYNOPSIS
    Restores the master secret on this node from the backup file through ISSOConfigSS.RestoreSecret (idempotent).

.DESCRIPTION
    Seed: "To restore the master secret on the second cluster node", steps 5-6 (`ssoconfig -restoresecret
    RestoreFile` on the node; the secret lands in HKLM\SOFTWARE\Microsoft\ENTSSO\SSOSS). The interactive ssoconfig
    prompts for the password, so the restore calls ISSOConfigSS.RestoreSecret(file, password) from
    Microsoft.EnterpriseSingleSignOn.Interop.dll instead (skastberg/biztalkps SSOAdminOMWrapper.psm1). The
    password arrives as a SecureString and is plaintext only in memory (ZeroFreeBSTR in finally).

    Reads the node's SSOSS GUID subkeys. When ExpectedMsid is among them nothing changes (design: keyed on "the
    node holds the database's MSID"). Refuses: NLB on the node (ESSO-001); a clustered ENTSSO resource that is
    not Online on this node (ESSO-011, rule 9: the role must be here and the resource cycled first; the provider
    sequences the cycle); a missing backup file (ESSO-025). After the restore ExpectedMsid must be present, else
    the backup or its password does not match (ESSO-012).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string]$BackupFile,

    [Parameter(Mandatory = $true)]
    [System.Security.SecureString]$BackupPassword,

    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string]$ExpectedMsid
)

$ErrorActionPreference = 'Stop'

function Get-SsossMsids {
    # The GUID subkeys of HKLM\SOFTWARE\Microsoft\ENTSSO\SSOSS (both registry views): the master secret ids
    # this node holds. Normalised to lower-case 'D' format so that every script and the provider compare alike.
    $ids = New-Object -TypeName 'System.Collections.Generic.List[string]'
    foreach ($view in @([Microsoft.Win32.RegistryView]::Registry64, [Microsoft.Win32.RegistryView]::Registry32)) {
        $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, $view)
        try {
            $key = $base.OpenSubKey('SOFTWARE\Microsoft\ENTSSO\SSOSS')
            if ($null -ne $key) {
                try {
                    foreach ($name in $key.GetSubKeyNames()) {
                        $guid = [guid]::Empty
                        if ([guid]::TryParse($name, [ref]$guid)) {
                            $text = $guid.ToString('D')
                            if (-not $ids.Contains($text)) {
                                [void]$ids.Add($text)
                            }
                        }
                    }
                }
                finally {
                    $key.Close()
                }
            }
        }
        finally {
            $base.Close()
        }
    }
    $ids.Sort()
    $ids.ToArray()
}
function Get-EssoFolder {
    # The Enterprise SSO installation folder: where the ENTSSO service's ENTSSO.exe lives, else the documented
    # default <CommonProgramFiles>\Enterprise Single Sign-On.
    $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='ENTSSO'"
    if ($null -ne $service -and $service.PathName) {
        $match = [regex]::Match([string]$service.PathName, '^\s*"?(?<exe>[^"]+?\.exe)', 'IgnoreCase')
        if ($match.Success) {
            $folder = Split-Path -Path $match.Groups['exe'].Value -Parent
            if (Test-Path -LiteralPath $folder -PathType Container) {
                return $folder
            }
        }
    }
    foreach ($root in @($env:CommonProgramW6432, $env:CommonProgramFiles)) {
        if ($root) {
            $folder = Join-Path -Path $root -ChildPath 'Enterprise Single Sign-On'
            if (Test-Path -LiteralPath $folder -PathType Container) {
                return $folder
            }
        }
    }
    throw ('ESSO-016 Enterprise SSO is not installed on {0}: the Enterprise Single Sign-On folder was not found.' -f $env:COMPUTERNAME)
}

function Import-EssoInterop {
    # Microsoft.EnterpriseSingleSignOn.Interop.dll from the installed folder (its version differs per BizTalk
    # release, so it is never pinned), as skastberg/biztalkps SSOAdminOMWrapper.psm1 loads it.
    if ($null -eq ('Microsoft.EnterpriseSingleSignOn.Interop.ISSOConfigSS' -as [type])) {
        $dll = Join-Path -Path (Get-EssoFolder) -ChildPath 'Microsoft.EnterpriseSingleSignOn.Interop.dll'
        if (-not (Test-Path -LiteralPath $dll -PathType Leaf)) {
            throw ('ESSO-016 Enterprise SSO is not installed on {0}: {1} is missing.' -f $env:COMPUTERNAME, $dll)
        }
        Add-Type -LiteralPath $dll
    }
}
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
function Test-ClusterMember {
    # The Cluster service runs only on a failover cluster member.
    $service = Get-Service -Name 'ClusSvc' -ErrorAction SilentlyContinue
    return ($null -ne $service -and $service.Status -eq [System.ServiceProcess.ServiceControllerStatus]::Running)
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

$expected = [guid]::Empty
if (-not [guid]::TryParse($ExpectedMsid, [ref]$expected)) {
    throw ('ExpectedMsid {0} is not a GUID.' -f $ExpectedMsid)
}
$expectedText = $expected.ToString('D')

$before = @{
    msids = @(Get-SsossMsids)
}
$changed = $false
if ($before['msids'] -contains $expectedText) {
    $after = $before
}
else {
    if (Test-NlbPresent) {
        throw ('ESSO-001 {0} has Network Load Balancing; it cannot hold the master secret.' -f $env:COMPUTERNAME)
    }
    foreach ($resource in @(Get-EntSsoClusterResource)) {
        if ([string]$resource.OwnerNode.Name -ne $env:COMPUTERNAME -or [string]$resource.State -ne 'Online') {
            throw ('ESSO-011 The ENTSSO cluster resource {0} is {1} on {2}; move the role here and cycle it offline/online before restoring.' -f $resource.Name, $resource.State, $resource.OwnerNode.Name)
        }
    }
    if (-not (Test-Path -LiteralPath $BackupFile -PathType Leaf)) {
        throw ('ESSO-025 The master secret backup {0} is not on {1}.' -f $BackupFile, $env:COMPUTERNAME)
    }

    Import-EssoInterop
    $configOm = New-Object -TypeName 'Microsoft.EnterpriseSingleSignOn.Interop.SSOConfigOM'
    $interface = 'Microsoft.EnterpriseSingleSignOn.Interop.ISSOConfigSS' -as [type]
    $flags = [System.Reflection.BindingFlags]::InvokeMethod -bor [System.Reflection.BindingFlags]::Instance
    $bstr = [IntPtr]::Zero
    try {
        $bstr = [System.Runtime.InteropServices.Marshal]::SecureStringToBSTR($BackupPassword)
        $null = $interface.InvokeMember(
            'RestoreSecret',
            $flags,
            $null,
            $configOm,
            @($BackupFile, [System.Runtime.InteropServices.Marshal]::PtrToStringBSTR($bstr))
        )
    }
    catch {
        throw ('ESSO-012 RestoreSecret failed on {0}: {1}' -f $env:COMPUTERNAME, $_.Exception.GetBaseException().Message)
    }
    finally {
        if ($bstr -ne [IntPtr]::Zero) {
            [System.Runtime.InteropServices.Marshal]::ZeroFreeBSTR($bstr)
        }
    }
    $changed = $true
    $after = @{
        msids = @(Get-SsossMsids)
    }
    if ($after['msids'] -notcontains $expectedText) {
        throw ('ESSO-012 The backup restored on {0} does not hold the master secret {1} (the node holds {2}).' -f $env:COMPUTERNAME, $expectedText, ($after['msids'] -join ', '))
    }
}

@{
    changed = $changed
    before = $before
    after = $after
}
