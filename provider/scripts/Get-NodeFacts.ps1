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
    - this node's failover cluster node state; the local MSDTC CID; ISSOConfigOM.GetServerStatus.

    [INFERRED]
    - The local MSDTC CID is the HKLM\SOFTWARE\Classes\CID subkey whose default value is "MSDTC" (the
      uniqueness check of the biztalknotes blog, biztalk-esso.md section 1.6).
    - GPO detection uses RSOP_UserPrivilegeRight (root\rsop\computer); no RSoP data reads as "no GPO".
    - A logon right granted to a group the account belongs to is not seen (only the account's own SID).
    - ENTSSO pending states are waited on for up to 30 s, then anything but Running reads as Stopped.
    - The ms_wlbs binding check and the GetServerStatus reflection call (see the functions).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string]$ServiceAccount,

    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string]$AdminGroup
)

$ErrorActionPreference = 'Stop'

function Get-EssoRegistryValue {
    # Probes the 64-bit and the 32-bit (Wow6432Node) registry views: which one ESSO uses is [NOT CONFIRMED].
    param(
        [string]$SubKey,
        [string]$Name
    )
    foreach ($view in @([Microsoft.Win32.RegistryView]::Registry64, [Microsoft.Win32.RegistryView]::Registry32)) {
        $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, $view)
        try {
            $key = $base.OpenSubKey($SubKey)
            if ($null -ne $key) {
                try {
                    $value = $key.GetValue($Name)
                    if ($null -ne $value -and [string]$value -ne '') {
                        return [string]$value
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
    return $null
}

function Get-SsoConfigState {
    # HKLM\SOFTWARE\Microsoft\ENTSSO\SQL values Server and Database: the SSO system this node is configured for.
    $server = Get-EssoRegistryValue -SubKey 'SOFTWARE\Microsoft\ENTSSO\SQL' -Name 'Server'
    $database = Get-EssoRegistryValue -SubKey 'SOFTWARE\Microsoft\ENTSSO\SQL' -Name 'Database'
    if ($null -eq $server -or $null -eq $database) {
        return $null
    }
    @{
        server = $server
        database = $database
    }
}
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
function Get-SecretServerStatus {
    # ISSOConfigOM.GetServerStatus: StatusFlags 0x2 SECRET_SERVER_RUNNING, 0x20 CLUSTER. Called through
    # reflection so that the 15 out parameters need no typed declaration [INFERRED call mechanism; the
    # signature is CONFIRMED]. A stopped or absent ENTSSO reports flags 0.
    $flags = 0
    $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='ENTSSO'"
    if ($null -ne $service -and $service.State -eq 'Running') {
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
    @{
        flags = $flags
        running = (($flags -band 0x2) -ne 0)
        clustered = (($flags -band 0x20) -ne 0)
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
$lsaSource = @'
using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Security.Principal;

public static class EssoLsaRights
{
    [StructLayout(LayoutKind.Sequential)]
    private struct LSA_UNICODE_STRING
    {
        public ushort Length;
        public ushort MaximumLength;
        public IntPtr Buffer;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct LSA_OBJECT_ATTRIBUTES
    {
        public int Length;
        public IntPtr RootDirectory;
        public IntPtr ObjectName;
        public int Attributes;
        public IntPtr SecurityDescriptor;
        public IntPtr SecurityQualityOfService;
    }

    [DllImport("advapi32.dll")]
    private static extern uint LsaOpenPolicy(
        IntPtr systemName, ref LSA_OBJECT_ATTRIBUTES objectAttributes, int desiredAccess, out IntPtr policyHandle);

    [DllImport("advapi32.dll")]
    private static extern uint LsaEnumerateAccountsWithUserRight(
        IntPtr policyHandle, ref LSA_UNICODE_STRING userRight, out IntPtr buffer, out int countReturned);

    [DllImport("advapi32.dll")]
    private static extern uint LsaAddAccountRights(
        IntPtr policyHandle, byte[] accountSid, LSA_UNICODE_STRING[] userRights, int countOfRights);

    [DllImport("advapi32.dll")]
    private static extern uint LsaFreeMemory(IntPtr buffer);

    [DllImport("advapi32.dll")]
    private static extern uint LsaClose(IntPtr policyHandle);

    [DllImport("advapi32.dll")]
    private static extern int LsaNtStatusToWinError(uint status);

    private const int PolicyViewLocalInformation = 0x00000001;
    private const int PolicyCreateAccount = 0x00000010;
    private const int PolicyLookupNames = 0x00000800;
    private const uint StatusNoMoreEntries = 0x8000001A;
    private const uint StatusObjectNameNotFound = 0xC0000034;

    private static IntPtr Open(int access)
    {
        LSA_OBJECT_ATTRIBUTES attributes = new LSA_OBJECT_ATTRIBUTES();
        attributes.Length = Marshal.SizeOf(typeof(LSA_OBJECT_ATTRIBUTES));
        IntPtr handle;
        uint status = LsaOpenPolicy(IntPtr.Zero, ref attributes, access, out handle);
        if (status != 0)
        {
            throw new Win32Exception(LsaNtStatusToWinError(status));
        }
        return handle;
    }

    private static LSA_UNICODE_STRING ToLsaString(string value)
    {
        LSA_UNICODE_STRING result = new LSA_UNICODE_STRING();
        result.Buffer = Marshal.StringToHGlobalUni(value);
        result.Length = (ushort)(value.Length * 2);
        result.MaximumLength = (ushort)(value.Length * 2 + 2);
        return result;
    }

    public static string[] AccountsWithRight(string right)
    {
        List<string> sids = new List<string>();
        IntPtr policy = Open(PolicyLookupNames | PolicyViewLocalInformation);
        LSA_UNICODE_STRING name = ToLsaString(right);
        try
        {
            IntPtr buffer;
            int count;
            uint status = LsaEnumerateAccountsWithUserRight(policy, ref name, out buffer, out count);
            if (status == StatusNoMoreEntries || status == StatusObjectNameNotFound)
            {
                return sids.ToArray();
            }
            if (status != 0)
            {
                throw new Win32Exception(LsaNtStatusToWinError(status));
            }
            try
            {
                for (int i = 0; i < count; i++)
                {
                    IntPtr sid = Marshal.ReadIntPtr(buffer, i * IntPtr.Size);
                    sids.Add(new SecurityIdentifier(sid).Value);
                }
            }
            finally
            {
                LsaFreeMemory(buffer);
            }
        }
        finally
        {
            Marshal.FreeHGlobal(name.Buffer);
            LsaClose(policy);
        }
        return sids.ToArray();
    }

    public static void AddRight(string sid, string right)
    {
        SecurityIdentifier identifier = new SecurityIdentifier(sid);
        byte[] binary = new byte[identifier.BinaryLength];
        identifier.GetBinaryForm(binary, 0);
        IntPtr policy = Open(PolicyLookupNames | PolicyCreateAccount);
        LSA_UNICODE_STRING[] rights = new LSA_UNICODE_STRING[] { ToLsaString(right) };
        try
        {
            uint status = LsaAddAccountRights(policy, binary, rights, 1);
            if (status != 0)
            {
                throw new Win32Exception(LsaNtStatusToWinError(status));
            }
        }
        finally
        {
            Marshal.FreeHGlobal(rights[0].Buffer);
            LsaClose(policy);
        }
    }
}
'@

function Import-EssoLsa {
    if ($null -eq ('EssoLsaRights' -as [type])) {
        Add-Type -TypeDefinition $lsaSource -Language CSharp
    }
}

function Resolve-AccountSid {
    # DOMAIN\name (or a SID string, or a secedit-style *SID) to a SID string; $null when it does not resolve.
    param(
        [string]$Name
    )
    $candidate = $Name.Trim()
    if ($candidate.StartsWith('*')) {
        $candidate = $candidate.Substring(1)
    }
    if ($candidate -match '^S-1-[0-9-]+$') {
        return $candidate
    }
    try {
        $account = New-Object -TypeName System.Security.Principal.NTAccount -ArgumentList $candidate
        return $account.Translate([System.Security.Principal.SecurityIdentifier]).Value
    }
    catch [System.Security.Principal.IdentityNotMappedException] {
        return $null
    }
}

function Test-ServiceLogonRight {
    # Whether the SID itself holds SeServiceLogonRight in the local LSA policy (compared by SID). A grant
    # through a group the account belongs to is not seen [INFERRED limitation].
    param(
        [string]$Sid
    )
    Import-EssoLsa
    $holders = @([EssoLsaRights]::AccountsWithRight('SeServiceLogonRight'))
    return ($holders -contains $Sid)
}

function Get-GpoLogonRight {
    # [INFERRED] Whether a Group Policy defines "Log on as a service" here, from the RSoP logging data the last
    # policy refresh wrote (WMI root\rsop\computer, RSOP_UserPrivilegeRight, precedence 1 = the winning GPO).
    # No RSoP data (never refreshed, or RSoP logging off) reads as "no GPO".
    param(
        [string]$Sid
    )
    $viaGpo = $false
    $includesAccount = $false
    $entries = @(Get-CimInstance -Namespace 'root\rsop\computer' -ClassName 'RSOP_UserPrivilegeRight' -Filter "UserRight='SeServiceLogonRight' AND precedence=1" -ErrorAction SilentlyContinue)
    foreach ($entry in $entries) {
        $viaGpo = $true
        foreach ($member in @($entry.AccountList)) {
            if ($null -ne $member -and $null -ne $Sid -and (Resolve-AccountSid -Name ([string]$member)) -eq $Sid) {
                $includesAccount = $true
            }
        }
    }
    @{
        viaGpo = $viaGpo
        includesAccount = $includesAccount
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

function Get-LocalDtcCid {
    $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, [Microsoft.Win32.RegistryView]::Registry64)
    try {
        $cids = $base.OpenSubKey('SOFTWARE\Classes\CID')
        if ($null -eq $cids) {
            return $null
        }
        try {
            foreach ($name in $cids.GetSubKeyNames()) {
                $key = $cids.OpenSubKey($name)
                try {
                    $description = [string]$key.GetValue('')
                }
                finally {
                    $key.Close()
                }
                $guid = [guid]::Empty
                if ($description -eq 'MSDTC' -and [guid]::TryParse($name, [ref]$guid)) {
                    return $guid.ToString('D')
                }
            }
        }
        finally {
            $cids.Close()
        }
    }
    finally {
        $base.Close()
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
$granted = $false
if ($null -ne $accountSid) {
    $granted = Test-ServiceLogonRight -Sid $accountSid
}
$gpo = Get-GpoLogonRight -Sid $accountSid
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
    dtcCid = Get-LocalDtcCid
    secretServerStatus = Get-SecretServerStatus
}
