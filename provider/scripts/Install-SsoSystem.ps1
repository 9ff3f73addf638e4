<#
.SYNOPSIS
    Creates a new SSO system on the first node with Configuration.exe in silent mode (idempotent).

.DESCRIPTION
    Seed: steps 5-12 (Custom Configuration; Enterprise SSO: "Create a new SSO system" with the data store, the
    service account and the domain SSO groups; Enterprise SSO Secret Backup).

    Reads HKLM\SOFTWARE\Microsoft\ENTSSO\SQL (both registry views). When the node is already configured for
    Server/Database nothing changes (adopting a converged node); when it is configured for another SSO system
    the script refuses (ESSO-005, design rule 4). A node with NLB is refused (ESSO-001, rule 1).

    Changes: fills the empty password nodes of ConfigXml (NTService ENTSSO Password; SSO_ID_BACKUP_SECRET_PASSWORD
    and _CONFIRM) from the SecureString parameters, converted to plaintext only in memory (SecureStringToBSTR,
    ZeroFreeBSTR in finally); writes the XML into a new per-run folder under %windir%\Temp with an
    Administrators-only ACL; runs Configuration.exe /S <xml> /L <log>; checks the exit code and the log; empties
    and removes the folder in a finally. Never Configuration.exe /U.

    Returns the new master secret id (the SSOSS GUID subkey the run created) and the backup file path that
    Configuration.exe wrote (SSO_ID_BACKUP_SECRET_FILE).

    [INFERRED]
    - Configuration.exe is found through BTSINSTALLPATH or HKLM\SOFTWARE\Microsoft\BizTalk Server\3.0 InstallPath.
    - A successful run's log holds no line with the word "error".
    - On an already configured node msid is the most recently written SSOSS subkey, or '' when SSOSS is empty
      (the node did not create the system; the provider keeps the msid it recorded).
    - The SSO database must not exist yet (Create also creates it); the provider checks that first.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string]$ConfigXml,

    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string]$Server,

    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string]$Database,

    [Parameter(Mandatory = $true)]
    [System.Security.SecureString]$ServiceAccountPassword,

    [Parameter(Mandatory = $true)]
    [System.Security.SecureString]$BackupPassword
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
$registryTimeSource = @'
using System;
using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32;
using Microsoft.Win32.SafeHandles;

public static class EssoRegistryTime
{
    [DllImport("advapi32.dll", CharSet = CharSet.Unicode)]
    private static extern int RegQueryInfoKey(
        SafeRegistryHandle key, IntPtr className, IntPtr classLength, IntPtr reserved, IntPtr subKeys,
        IntPtr maxSubKeyLength, IntPtr maxClassLength, IntPtr values, IntPtr maxValueNameLength,
        IntPtr maxValueLength, IntPtr securityDescriptorLength, out long lastWriteTime);

    public static DateTime LastWriteUtc(RegistryKey key)
    {
        long fileTime;
        int rc = RegQueryInfoKey(
            key.Handle, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero,
            IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, out fileTime);
        if (rc != 0)
        {
            throw new Win32Exception(rc);
        }
        return DateTime.FromFileTimeUtc(fileTime);
    }
}
'@

function Get-CurrentMsid {
    # [INFERRED] The current master secret is the most recently written GUID subkey of SSOSS (ESSO keeps the
    # current and the previous secret; the value names inside the subkeys are [NOT CONFIRMED], so only the
    # subkeys' last write times are compared). Returns $null when the node holds no secret.
    if ($null -eq ('EssoRegistryTime' -as [type])) {
        Add-Type -TypeDefinition $registryTimeSource -Language CSharp
    }
    $newest = $null
    $newestTime = [datetime]::MinValue
    foreach ($view in @([Microsoft.Win32.RegistryView]::Registry64, [Microsoft.Win32.RegistryView]::Registry32)) {
        $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, $view)
        try {
            $key = $base.OpenSubKey('SOFTWARE\Microsoft\ENTSSO\SSOSS')
            if ($null -ne $key) {
                try {
                    foreach ($name in $key.GetSubKeyNames()) {
                        $guid = [guid]::Empty
                        if ([guid]::TryParse($name, [ref]$guid)) {
                            $subKey = $key.OpenSubKey($name)
                            try {
                                $written = [EssoRegistryTime]::LastWriteUtc($subKey)
                            }
                            finally {
                                $subKey.Close()
                            }
                            if ($null -eq $newest -or $written -gt $newestTime) {
                                $newest = $guid.ToString('D')
                                $newestTime = $written
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
    return $newest
}
function New-AdminOnlyDirectorySecurity {
    # SYSTEM and BUILTIN\Administrators full control, inheritance from the parent disabled.
    $security = New-Object -TypeName System.Security.AccessControl.DirectorySecurity
    $security.SetAccessRuleProtection($true, $false)
    $inherit = [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit'
    foreach ($sid in @('S-1-5-18', 'S-1-5-32-544')) {
        $identity = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList $sid
        $rule = New-Object -TypeName System.Security.AccessControl.FileSystemAccessRule -ArgumentList @(
            $identity,
            [System.Security.AccessControl.FileSystemRights]::FullControl,
            $inherit,
            [System.Security.AccessControl.PropagationFlags]::None,
            [System.Security.AccessControl.AccessControlType]::Allow
        )
        $security.AddAccessRule($rule)
    }
    return $security
}

function Test-AdminOnlyAcl {
    # True when the path's DACL is protected and allows no one but SYSTEM and BUILTIN\Administrators.
    param(
        [string]$Path
    )
    $acl = Get-Acl -LiteralPath $Path
    if (-not $acl.AreAccessRulesProtected) {
        return $false
    }
    $rules = @($acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier]))
    foreach ($rule in $rules) {
        $sid = $rule.IdentityReference.Value
        $allowed = $rule.AccessControlType -eq [System.Security.AccessControl.AccessControlType]::Allow
        if ($allowed -and $sid -ne 'S-1-5-18' -and $sid -ne 'S-1-5-32-544') {
            return $false
        }
    }
    return ($rules.Count -gt 0)
}

function New-ProtectedDirectory {
    # Creates a fresh directory with the Administrators-only ACL applied at creation (no window in which it
    # inherits the parent's ACL). Refuses an existing path: a pre-created folder may belong to someone else.
    param(
        [string]$Path
    )
    if (Test-Path -LiteralPath $Path) {
        throw ('Refusing to reuse {0}: a protected working folder must be new.' -f $Path)
    }
    $null = [System.IO.Directory]::CreateDirectory($Path, (New-AdminOnlyDirectorySecurity))
    if (-not (Test-AdminOnlyAcl -Path $Path)) {
        throw ('The ACL of {0} is not Administrators-only after creation.' -f $Path)
    }
}
function Read-XmlSafely {
    # Parses XML text with DTD processing prohibited and no resolver (no entity expansion, no network).
    param(
        [string]$Text
    )
    $settings = New-Object -TypeName System.Xml.XmlReaderSettings
    $settings.DtdProcessing = [System.Xml.DtdProcessing]::Prohibit
    $settings.XmlResolver = $null
    $stringReader = New-Object -TypeName System.IO.StringReader -ArgumentList $Text
    $reader = [System.Xml.XmlReader]::Create($stringReader, $settings)
    try {
        $document = New-Object -TypeName System.Xml.XmlDocument
        $document.XmlResolver = $null
        $document.Load($reader)
    }
    finally {
        $reader.Close()
    }
    return ,$document
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
function Get-ConfigurationExe {
    # BizTalk's Configuration.exe: in %BTSINSTALLPATH% (set by BizTalk setup; public scripts use it), else in
    # the InstallPath value of HKLM\SOFTWARE\Microsoft\BizTalk Server\3.0 [INFERRED].
    $folders = New-Object -TypeName 'System.Collections.Generic.List[string]'
    if ($env:BTSINSTALLPATH) {
        [void]$folders.Add($env:BTSINSTALLPATH)
    }
    $installPath = Get-EssoRegistryValue -SubKey 'SOFTWARE\Microsoft\BizTalk Server\3.0' -Name 'InstallPath'
    if ($null -ne $installPath) {
        [void]$folders.Add($installPath)
    }
    foreach ($folder in $folders) {
        $exe = Join-Path -Path $folder -ChildPath 'Configuration.exe'
        if (Test-Path -LiteralPath $exe -PathType Leaf) {
            return $exe
        }
    }
    throw ('ESSO-016 BizTalk Configuration.exe was not found on {0} (BTSINSTALLPATH, BizTalk Server 3.0 InstallPath).' -f $env:COMPUTERNAME)
}

function Assert-ConfigXml {
    # The XML must be the SSO feature with the expected answer selected, name this SSO database, and carry no
    # password: passwords reach this node only as SecureString parameters.
    param(
        [System.Xml.XmlDocument]$Document,
        [string]$Mode,
        [string]$Server,
        [string]$Database,
        [string[]]$PasswordXPaths
    )
    $feature = "/Configuration/Feature[@Name='SSOServer,Engine']"
    $selected = @($Document.SelectNodes($feature + "/Question[@ID='IsSecretServer']/Answer[@Selected='Yes']"))
    if ($selected.Count -ne 1 -or $selected[0].GetAttribute('Value') -ne $Mode) {
        throw ('ConfigXml must select exactly the {0} answer of IsSecretServer.' -f $Mode)
    }
    $xmlServer = $Document.SelectSingleNode($feature + "/SQL[@ID='SSO_DB_ID']/Server")
    $xmlDatabase = $Document.SelectSingleNode($feature + "/SQL[@ID='SSO_DB_ID']/Database")
    if ($null -eq $xmlServer -or $null -eq $xmlDatabase -or $xmlServer.InnerText -ne $Server -or $xmlDatabase.InnerText -ne $Database) {
        throw 'ConfigXml names another SSO database than the Server and Database parameters.'
    }
    foreach ($xpath in $PasswordXPaths) {
        $nodes = @($Document.SelectNodes($xpath))
        if ($nodes.Count -ne 1) {
            throw ('ConfigXml must hold exactly one {0}.' -f $xpath)
        }
        if ($nodes[0].InnerText.Trim() -ne '') {
            throw ('ConfigXml must not carry a password ({0} is not empty).' -f $xpath)
        }
    }
}

function Set-XmlNodeText {
    param(
        [System.Xml.XmlDocument]$Document,
        [string]$XPath,
        [string]$Value
    )
    $node = $Document.SelectSingleNode($XPath)
    if ($null -eq $node) {
        throw ('ConfigXml lacks {0}.' -f $XPath)
    }
    $node.InnerText = $Value
}

function Remove-SecretFolder {
    # Empties every file first (so no secret outlives a failed delete), then removes the folder.
    param(
        [string]$Path
    )
    if (-not (Test-Path -LiteralPath $Path)) {
        return
    }
    foreach ($file in @(Get-ChildItem -LiteralPath $Path -File -Recurse -Force)) {
        try {
            [System.IO.File]::WriteAllBytes($file.FullName, (New-Object -TypeName 'byte[]' -ArgumentList 0))
        }
        catch {
            Write-Warning ('Could not empty {0}: {1}' -f $file.FullName, $_.Exception.Message)
        }
    }
    try {
        Remove-Item -LiteralPath $Path -Recurse -Force
    }
    catch {
        Write-Warning ('Could not remove {0}: {1}' -f $Path, $_.Exception.Message)
    }
}

function Protect-Text {
    # Replaces any occurrence of the given secrets in a text (used on log lines before they enter a message).
    param(
        [string]$Text,
        [string[]]$Secrets
    )
    $result = $Text
    foreach ($secret in $Secrets) {
        if ($secret) {
            $result = $result.Replace($secret, '***')
        }
    }
    return $result
}

function Invoke-ConfigurationExe {
    # Configuration.exe /S <xml> /L <log> (biztalk-esso.md section 2.1). Only paths reach the command line. A non-zero
    # exit code or a log line with the word "error" fails the step [INFERRED: a clean log has no such line].
    param(
        [string]$XmlPath,
        [string]$LogPath,
        [string[]]$Secrets
    )
    $exe = Get-ConfigurationExe
    $arguments = '/S "{0}" /L "{1}"' -f $XmlPath, $LogPath
    $process = Start-Process -FilePath $exe -ArgumentList $arguments -Wait -PassThru
    $errors = @()
    if (Test-Path -LiteralPath $LogPath -PathType Leaf) {
        $errors = @(Get-Content -LiteralPath $LogPath | Where-Object { $_ -match '(?i)\berror\b' } | Select-Object -First 5)
    }
    if ($process.ExitCode -ne 0 -or $errors.Count -gt 0) {
        $excerpt = (@(foreach ($line in $errors) { Protect-Text -Text ([string]$line) -Secrets $Secrets }) -join ' | ')
        throw ('Configuration.exe failed on {0} (exit code {1}). Log: {2}' -f $env:COMPUTERNAME, $process.ExitCode, $excerpt)
    }
}

$feature = "/Configuration/Feature[@Name='SSOServer,Engine']"
$servicePasswordXPath = $feature + "/NTService[@ID='ENTSSO']/Password"
$backupPasswordXPath = $feature + "/Question[@ID='IsSecretServer']/Answer[@Value='Create']/Name[@ID='SSO_ID_BACKUP_SECRET_PASSWORD']/Value"
$backupConfirmXPath = $feature + "/Question[@ID='IsSecretServer']/Answer[@Value='Create']/Name[@ID='SSO_ID_BACKUP_SECRET_PASSWORD_CONFIRM']/Value"
$sqlPasswordXPath = $feature + "/SQL[@ID='SSO_DB_ID']/Password"
$backupFileXPath = $feature + "/Question[@ID='IsSecretServer']/Answer[@Value='Create']/FILE[@ID='SSO_ID_BACKUP_SECRET_FILE']/Value"

$document = Read-XmlSafely -Text $ConfigXml
Assert-ConfigXml -Document $document -Mode 'Create' -Server $Server -Database $Database -PasswordXPaths @(
    $servicePasswordXPath,
    $backupPasswordXPath,
    $backupConfirmXPath,
    $sqlPasswordXPath
)
$backupFileNode = $document.SelectSingleNode($backupFileXPath)
if ($null -eq $backupFileNode -or $backupFileNode.InnerText.Trim() -eq '') {
    throw 'ConfigXml must name the master secret backup file (SSO_ID_BACKUP_SECRET_FILE).'
}
$backupFile = $backupFileNode.InnerText

$before = Get-SsoConfigState
$changed = $false
if ($null -ne $before) {
    if ($before['server'] -ne $Server -or $before['database'] -ne $Database) {
        throw ('ESSO-005 {0} is already configured for the SSO system {1}/{2}, not {3}/{4}.' -f $env:COMPUTERNAME, $before['server'], $before['database'], $Server, $Database)
    }
    $after = $before
    $msid = Get-CurrentMsid
    if ($null -eq $msid) {
        $msid = ''
    }
}
else {
    if ($null -eq (Get-Service -Name 'ENTSSO' -ErrorAction SilentlyContinue)) {
        throw ('ESSO-016 Enterprise SSO (the ENTSSO service) is not installed on {0}.' -f $env:COMPUTERNAME)
    }
    if (Test-NlbPresent) {
        throw ('ESSO-001 {0} has Network Load Balancing; the master secret server cannot be installed on an NLB cluster.' -f $env:COMPUTERNAME)
    }

    $msidsBefore = @(Get-SsossMsids)
    $workDir = Join-Path -Path $env:windir -ChildPath ('Temp\esso-config-{0}' -f [guid]::NewGuid().ToString('N'))
    $xmlPath = Join-Path -Path $workDir -ChildPath 'sso-create.xml'
    $logPath = Join-Path -Path $workDir -ChildPath 'sso-create.log'
    $serviceBstr = [IntPtr]::Zero
    $backupBstr = [IntPtr]::Zero
    $servicePassword = $null
    $backupPasswordText = $null
    $workDirCreated = $false
    try {
        New-ProtectedDirectory -Path $workDir
        $workDirCreated = $true
        $serviceBstr = [System.Runtime.InteropServices.Marshal]::SecureStringToBSTR($ServiceAccountPassword)
        $backupBstr = [System.Runtime.InteropServices.Marshal]::SecureStringToBSTR($BackupPassword)
        $servicePassword = [System.Runtime.InteropServices.Marshal]::PtrToStringBSTR($serviceBstr)
        $backupPasswordText = [System.Runtime.InteropServices.Marshal]::PtrToStringBSTR($backupBstr)
        Set-XmlNodeText -Document $document -XPath $servicePasswordXPath -Value $servicePassword
        Set-XmlNodeText -Document $document -XPath $backupPasswordXPath -Value $backupPasswordText
        Set-XmlNodeText -Document $document -XPath $backupConfirmXPath -Value $backupPasswordText
        $document.Save($xmlPath)
        foreach ($xpath in @($servicePasswordXPath, $backupPasswordXPath, $backupConfirmXPath)) {
            Set-XmlNodeText -Document $document -XPath $xpath -Value ''
        }
        Invoke-ConfigurationExe -XmlPath $xmlPath -LogPath $logPath -Secrets @($servicePassword, $backupPasswordText)
    }
    finally {
        if ($serviceBstr -ne [IntPtr]::Zero) {
            [System.Runtime.InteropServices.Marshal]::ZeroFreeBSTR($serviceBstr)
        }
        if ($backupBstr -ne [IntPtr]::Zero) {
            [System.Runtime.InteropServices.Marshal]::ZeroFreeBSTR($backupBstr)
        }
        $servicePassword = $null
        $backupPasswordText = $null
        if ($workDirCreated) {
            Remove-SecretFolder -Path $workDir
        }
    }
    $changed = $true

    $after = Get-SsoConfigState
    if ($null -eq $after -or $after['server'] -ne $Server -or $after['database'] -ne $Database) {
        throw ('Configuration.exe reported success but {0} is not configured for {1}/{2}.' -f $env:COMPUTERNAME, $Server, $Database)
    }
    $created = @(
        foreach ($id in @(Get-SsossMsids)) {
            if ($msidsBefore -notcontains $id) {
                $id
            }
        }
    )
    if ($created.Count -eq 1) {
        $msid = $created[0]
    }
    else {
        $msid = Get-CurrentMsid
    }
    if ($null -eq $msid) {
        throw ('Configuration.exe reported success but {0} holds no master secret (HKLM\SOFTWARE\Microsoft\ENTSSO\SSOSS).' -f $env:COMPUTERNAME)
    }
    if (-not (Test-Path -LiteralPath $backupFile -PathType Leaf)) {
        throw ('Configuration.exe reported success but wrote no master secret backup at {0}.' -f $backupFile)
    }
}

@{
    changed = $changed
    before = $before
    after = $after
    msid = $msid
    backupFile = $backupFile
}
