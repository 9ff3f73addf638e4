<#
.SYNOPSIS
    Joins this node to the existing SSO system with Configuration.exe in silent mode (idempotent).

.DESCRIPTION
    Seed: steps 13-19 (on the passive node, Custom Configuration; Enterprise SSO: "Join an existing SSO system"
    with the same SSO database and the same service account as the first node).

    Reads HKLM\SOFTWARE\Microsoft\ENTSSO\SQL (both registry views). When the node is already configured for
    Server/Database nothing changes; when it is configured for another SSO system the script refuses (ESSO-005,
    design rule 4). A node with NLB is refused (ESSO-001, rule 1): it could never hold the master secret.

    Changes: fills the empty NTService ENTSSO Password of ConfigXml from ServiceAccountPassword, converted to
    plaintext only in memory (SecureStringToBSTR, ZeroFreeBSTR in finally); writes the XML into a new per-run
    folder under %windir%\Temp with an Administrators-only ACL; runs Configuration.exe /S <xml> /L <log>; checks
    the exit code and the log; empties and removes the folder in a finally. Never Configuration.exe /U.

    Rule 5: the same database and the same service account as the creator (the registry copy of the secret is
    bound to that account); the provider checks the account, this script the database named in ConfigXml.

    [INFERRED]
    - Configuration.exe is found through BTSINSTALLPATH or HKLM\SOFTWARE\Microsoft\BizTalk Server\3.0 InstallPath.
    - A successful run's log holds no line with the word "error".
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
    [System.Security.SecureString]$ServiceAccountPassword
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
$sqlPasswordXPath = $feature + "/SQL[@ID='SSO_DB_ID']/Password"

$document = Read-XmlSafely -Text $ConfigXml
Assert-ConfigXml -Document $document -Mode 'Join' -Server $Server -Database $Database -PasswordXPaths @(
    $servicePasswordXPath,
    $sqlPasswordXPath
)

$before = Get-SsoConfigState
$changed = $false
if ($null -ne $before) {
    if ($before['server'] -ne $Server -or $before['database'] -ne $Database) {
        throw ('ESSO-005 {0} is already configured for the SSO system {1}/{2}, not {3}/{4}.' -f $env:COMPUTERNAME, $before['server'], $before['database'], $Server, $Database)
    }
    $after = $before
}
else {
    if ($null -eq (Get-Service -Name 'ENTSSO' -ErrorAction SilentlyContinue)) {
        throw ('ESSO-016 Enterprise SSO (the ENTSSO service) is not installed on {0}.' -f $env:COMPUTERNAME)
    }
    if (Test-NlbPresent) {
        throw ('ESSO-001 {0} has Network Load Balancing; it cannot hold the master secret.' -f $env:COMPUTERNAME)
    }

    $workDir = Join-Path -Path $env:windir -ChildPath ('Temp\esso-config-{0}' -f [guid]::NewGuid().ToString('N'))
    $xmlPath = Join-Path -Path $workDir -ChildPath 'sso-join.xml'
    $logPath = Join-Path -Path $workDir -ChildPath 'sso-join.log'
    $serviceBstr = [IntPtr]::Zero
    $servicePassword = $null
    $workDirCreated = $false
    try {
        New-ProtectedDirectory -Path $workDir
        $workDirCreated = $true
        $serviceBstr = [System.Runtime.InteropServices.Marshal]::SecureStringToBSTR($ServiceAccountPassword)
        $servicePassword = [System.Runtime.InteropServices.Marshal]::PtrToStringBSTR($serviceBstr)
        Set-XmlNodeText -Document $document -XPath $servicePasswordXPath -Value $servicePassword
        $document.Save($xmlPath)
        Set-XmlNodeText -Document $document -XPath $servicePasswordXPath -Value ''
        Invoke-ConfigurationExe -XmlPath $xmlPath -LogPath $logPath -Secrets @($servicePassword)
    }
    finally {
        if ($serviceBstr -ne [IntPtr]::Zero) {
            [System.Runtime.InteropServices.Marshal]::ZeroFreeBSTR($serviceBstr)
        }
        $servicePassword = $null
        if ($workDirCreated) {
            Remove-SecretFolder -Path $workDir
        }
    }
    $changed = $true

    $after = Get-SsoConfigState
    if ($null -eq $after -or $after['server'] -ne $Server -or $after['database'] -ne $Database) {
        throw ('Configuration.exe reported success but {0} is not configured for {1}/{2}.' -f $env:COMPUTERNAME, $Server, $Database)
    }
}

@{
    changed = $changed
    before = $before
    after = $after
}
