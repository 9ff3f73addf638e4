# LogonRight: "Log on as a service" (SeServiceLogonRight): account names to SIDs, the holders of the right in the
# local LSA policy (the EssoLsaRights type, compiled on first use), and whether a Group Policy defines the right.
#
# Why one place: the preflight read (Get-NodeFacts) and the grant (Grant-ServiceLogonRight) must compare the same
# SIDs through the same LSA calls, or the grant could be judged done when the read says it is not.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function Import-EssoLsa {
    # EssoLsaRights: LsaEnumerateAccountsWithUserRight and LsaAddAccountRights (advapi32), compiled on first use.
    if ($null -ne ('EssoLsaRights' -as [type])) {
        return
    }
    $source = @'
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
    Add-Type -TypeDefinition $source -Language CSharp
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

function Get-AccountTokenSids {
    # The account's SID and the SIDs of every security group in a logon token issued for it now, so a right
    # granted to a group (the usual GPO: "Log on as a service" to a group of service accounts) counts.
    # Source: WindowsIdentity(String upn) is an S4U logon whose Groups are the token groups
    # (learn.microsoft.com System.Security.Principal.WindowsIdentity .ctor(String)); the server's own account asks
    # the DC (S4U2Self), so no second hop is needed. The implicit UPN is sAMAccountName@<the node's DNS domain>
    # [INFERRED for an account of another domain of the forest: then only its own SID is returned].
    param(
        [string]$Account,
        [string]$Sid
    )
    $sids = New-Object -TypeName 'System.Collections.Generic.List[string]'
    if ([string]::IsNullOrEmpty($Sid)) {
        return ,$sids.ToArray()
    }
    [void]$sids.Add($Sid)
    $user = $Account.Split('\')[-1]
    $dnsDomain = [string](Get-CimInstance -ClassName Win32_ComputerSystem).Domain
    try {
        $identity = New-Object -TypeName System.Security.Principal.WindowsIdentity -ArgumentList ('{0}@{1}' -f $user, $dnsDomain)
        try {
            if ($identity.User.Value -eq $Sid) {
                foreach ($group in $identity.Groups) {
                    [void]$sids.Add($group.Value)
                }
            }
        }
        finally {
            $identity.Dispose()
        }
    }
    catch [System.SystemException] {
        Write-Verbose ('No S4U token for {0}: only its own SID is compared ({1}).' -f $Account, $_.Exception.Message)
    }
    return ,$sids.ToArray()
}

function Test-ServiceLogonRight {
    # Whether any of the SIDs (the account's and its token groups', Get-AccountTokenSids) holds
    # SeServiceLogonRight in the local LSA policy: a right granted to a group the account is in counts.
    param(
        [string[]]$Sids
    )
    Import-EssoLsa
    $holders = @([EssoLsaRights]::AccountsWithRight('SeServiceLogonRight'))
    foreach ($sid in $Sids) {
        if ($holders -contains $sid) {
            return $true
        }
    }
    return $false
}

function Get-GpoLogonRight {
    # [INFERRED] Whether a Group Policy defines "Log on as a service" here, from the RSoP logging data the last
    # policy refresh wrote (WMI root\rsop\computer, RSOP_UserPrivilegeRight, precedence 1 = the winning GPO).
    # No RSoP data (never refreshed, or RSoP logging off) reads as "no GPO".
    # The policy "includes the account" when it lists the account or one of its token groups (Sids). An entry that
    # does not resolve (a trust failure is a SystemException, not only IdentityNotMapped) is skipped, not fatal.
    param(
        [string[]]$Sids
    )
    $viaGpo = $false
    $includesAccount = $false
    $entries = @(Get-CimInstance -Namespace 'root\rsop\computer' -ClassName 'RSOP_UserPrivilegeRight' -Filter "UserRight='SeServiceLogonRight' AND precedence=1" -ErrorAction SilentlyContinue)
    foreach ($entry in $entries) {
        $viaGpo = $true
        foreach ($member in @($entry.AccountList)) {
            if ($null -eq $member) {
                continue
            }
            try {
                $memberSid = Resolve-AccountSid -Name ([string]$member)
            }
            catch [System.SystemException] {
                $memberSid = $null
            }
            if ($null -ne $memberSid -and $Sids -contains $memberSid) {
                $includesAccount = $true
            }
        }
    }
    @{
        viaGpo = $viaGpo
        includesAccount = $includesAccount
    }
}
