<#
.SYNOPSIS
    Points the SSO database at the cluster's network name with ssomanage -updatedb (idempotent).

.DESCRIPTION
    Seed: "To update the master secret server name in the SSO database", step 2 (an XML file holding
    <sso><globalInfo><secretServer>NAME</secretServer></globalInfo></sso>, then `ssomanage -updatedb XMLFile`
    from the Enterprise SSO installation folder).

    Reads the database's secret server name (the SSO database this node is configured for, from
    HKLM\SOFTWARE\Microsoft\ENTSSO\SQL; a second hop, rule 12). When it already equals SecretServer nothing
    changes. Refuses (ESSO-007, design rule 6) an UpdateXml that holds anything but <secretServer>, or a name
    other than SecretServer.

    Changes: writes UpdateXml into a new per-run folder under %windir%\Temp with an Administrators-only ACL,
    runs ssomanage.exe -updatedb <file> from the ESSO folder (exit code checked, output kept in that folder),
    removes the folder in a finally, and reads the name back.

    [INFERRED] The name is read from dbo.SSOX_GlobalInfo.gi_SecretServer (public copies of ESSO's SSOX.sql).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string]$SecretServer,

    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string]$UpdateXml
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
function New-SqlConnection {
    # System.Data.SqlClient with Integrated Security (the caller's Windows identity: a second hop, rule 12).
    # The database goes into the connection string through the builder, never into query text.
    param(
        [string]$Server,
        [string]$Database
    )
    $builder = New-Object -TypeName System.Data.SqlClient.SqlConnectionStringBuilder
    $builder.DataSource = $Server
    $builder.InitialCatalog = $Database
    $builder.IntegratedSecurity = $true
    $builder.ApplicationName = 'esso-cluster'
    $builder.ConnectTimeout = 30
    $connection = New-Object -TypeName System.Data.SqlClient.SqlConnection -ArgumentList $builder.ConnectionString
    $connection.Open()
    return $connection
}

function Invoke-SqlRow {
    # The first row of a parameterised query as a hashtable (column -> value, DBNull -> $null), or $null.
    param(
        $Connection,
        [string]$Query,
        [hashtable]$Parameters = @{}
    )
    $command = $Connection.CreateCommand()
    try {
        $command.CommandText = $Query
        $command.CommandTimeout = 60
        foreach ($name in $Parameters.Keys) {
            $null = $command.Parameters.AddWithValue('@' + $name, $Parameters[$name])
        }
        $reader = $command.ExecuteReader()
        try {
            if (-not $reader.Read()) {
                return $null
            }
            $row = @{}
            for ($i = 0; $i -lt $reader.FieldCount; $i++) {
                $value = $reader.GetValue($i)
                if ($value -is [System.DBNull]) {
                    $value = $null
                }
                $row[$reader.GetName($i)] = $value
            }
            return $row
        }
        finally {
            $reader.Close()
        }
    }
    finally {
        $command.Dispose()
    }
}

function Get-SsoDatabaseState {
    # [INFERRED] The SSO schema as public copies of ESSO's SSOX.sql/SSOX2.sql show it: dbo.SSOX_GlobalInfo
    # (gi_SecretServer, gi_SSOAdminGroup, gi_AffiliateAppMgrGroup; group columns may hold several
    # ';'-separated accounts, the first is reported as ssox_spGetGlobalInfo does), and the master secret id of
    # encrypted rows in dbo.SSOX_ExternalCredentials (ec_pws_msid) and dbo.SSOX_WindowsPassword (wp_msid).
    # The database stores no "current MSID" column: msid is the id of the most recently encrypted row, $null
    # when the database holds no encrypted row yet.
    param(
        [string]$Server,
        [string]$Database
    )
    $master = New-SqlConnection -Server $Server -Database 'master'
    try {
        $row = Invoke-SqlRow -Connection $master -Query 'SELECT COUNT(*) AS n FROM sys.databases WHERE name = @name' -Parameters @{ name = $Database }
        $exists = ([int]$row['n']) -gt 0
    }
    finally {
        $master.Dispose()
    }
    $secretServer = $null
    $adminGroup = $null
    $affiliateAdminGroup = $null
    $msid = $null
    if ($exists) {
        $connection = New-SqlConnection -Server $Server -Database $Database
        try {
            $tables = Invoke-SqlRow -Connection $connection -Query @'
SELECT
    CASE WHEN OBJECT_ID(N'dbo.SSOX_GlobalInfo', N'U') IS NULL THEN 0 ELSE 1 END AS globalInfo,
    CASE WHEN OBJECT_ID(N'dbo.SSOX_ExternalCredentials', N'U') IS NULL THEN 0 ELSE 1 END AS credentials,
    CASE WHEN OBJECT_ID(N'dbo.SSOX_WindowsPassword', N'U') IS NULL THEN 0 ELSE 1 END AS passwords
'@
            if ([int]$tables['globalInfo'] -eq 1) {
                $info = Invoke-SqlRow -Connection $connection -Query @'
SELECT TOP 1 gi_SecretServer, gi_SSOAdminGroup, gi_AffiliateAppMgrGroup
FROM dbo.SSOX_GlobalInfo
ORDER BY gi_update_timestamp DESC
'@
                if ($null -ne $info) {
                    $secretServer = [string]$info['gi_SecretServer']
                    $adminGroup = ([string]$info['gi_SSOAdminGroup']).Split(';')[0]
                    $affiliateAdminGroup = ([string]$info['gi_AffiliateAppMgrGroup']).Split(';')[0]
                }
            }
            if ([int]$tables['credentials'] -eq 1 -and [int]$tables['passwords'] -eq 1) {
                $latest = Invoke-SqlRow -Connection $connection -Query @'
SELECT TOP 1 msid
FROM (
    SELECT ec_pws_msid AS msid, ec_timestamp AS written FROM dbo.SSOX_ExternalCredentials
    UNION ALL
    SELECT wp_msid AS msid, wp_timestamp AS written FROM dbo.SSOX_WindowsPassword
) AS encrypted
ORDER BY written DESC
'@
                if ($null -ne $latest -and $null -ne $latest['msid']) {
                    $msid = ([guid]$latest['msid']).ToString('D')
                }
            }
        }
        finally {
            $connection.Dispose()
        }
    }
    @{
        exists = $exists
        secretServer = $secretServer
        adminGroup = $adminGroup
        affiliateAdminGroup = $affiliateAdminGroup
        msid = $msid
    }
}

function Get-SecretServerState {
    param(
        [hashtable]$Config
    )
    $facts = Get-SsoDatabaseState -Server $Config['server'] -Database $Config['database']
    if (-not $facts['exists']) {
        throw ('The SSO database {0}/{1} that {2} is configured for does not exist.' -f $Config['server'], $Config['database'], $env:COMPUTERNAME)
    }
    @{
        secretServer = [string]$facts['secretServer']
    }
}

$document = Read-XmlSafely -Text $UpdateXml
$root = $document.DocumentElement
$elements = @($document.SelectNodes('//*'))
$names = @(foreach ($element in $elements) { $element.LocalName })
$valid = $root.LocalName -eq 'sso' -and $elements.Count -eq 3 -and ($names -join '/') -eq 'sso/globalInfo/secretServer'
if ($valid) {
    $valid = $elements[1].ParentNode.LocalName -eq 'sso' -and $elements[2].ParentNode.LocalName -eq 'globalInfo'
}
foreach ($element in $elements) {
    if ($element.Attributes.Count -gt 0 -or $element.NamespaceURI -ne '') {
        $valid = $false
    }
}
if (-not $valid) {
    throw 'ESSO-007 UpdateXml must hold only <sso><globalInfo><secretServer>; ssomanage -updatedb from a node that is not the master secret server refuses anything else.'
}
if ($elements[2].InnerText.Trim() -ne $SecretServer) {
    throw ('ESSO-007 UpdateXml names {0}, not {1}.' -f $elements[2].InnerText.Trim(), $SecretServer)
}

$config = Get-SsoConfigState
if ($null -eq $config) {
    throw ('{0} is not configured for an SSO system (HKLM\SOFTWARE\Microsoft\ENTSSO\SQL is empty).' -f $env:COMPUTERNAME)
}

$before = Get-SecretServerState -Config $config
$changed = $false
if ($before['secretServer'] -eq $SecretServer) {
    $after = $before
}
else {
    $ssomanage = Join-Path -Path (Get-EssoFolder) -ChildPath 'ssomanage.exe'
    if (-not (Test-Path -LiteralPath $ssomanage -PathType Leaf)) {
        throw ('ESSO-016 ssomanage.exe was not found on {0} ({1}).' -f $env:COMPUTERNAME, $ssomanage)
    }
    $workDir = Join-Path -Path $env:windir -ChildPath ('Temp\esso-updatedb-{0}' -f [guid]::NewGuid().ToString('N'))
    $xmlPath = Join-Path -Path $workDir -ChildPath 'secret-server.xml'
    $outPath = Join-Path -Path $workDir -ChildPath 'ssomanage.out'
    $errPath = Join-Path -Path $workDir -ChildPath 'ssomanage.err'
    $workDirCreated = $false
    try {
        New-ProtectedDirectory -Path $workDir
        $workDirCreated = $true
        [System.IO.File]::WriteAllText($xmlPath, $UpdateXml, (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false))
        $process = Start-Process -FilePath $ssomanage -ArgumentList ('-updatedb "{0}"' -f $xmlPath) -WorkingDirectory (Split-Path -Path $ssomanage -Parent) -RedirectStandardOutput $outPath -RedirectStandardError $errPath -NoNewWindow -Wait -PassThru
        if ($process.ExitCode -ne 0) {
            $output = ((@(Get-Content -LiteralPath $outPath) + @(Get-Content -LiteralPath $errPath)) | Select-Object -Last 10) -join ' | '
            throw ('ssomanage -updatedb failed on {0} (exit code {1}): {2}' -f $env:COMPUTERNAME, $process.ExitCode, $output)
        }
    }
    finally {
        if ($workDirCreated) {
            Remove-Item -LiteralPath $workDir -Recurse -Force
        }
    }
    $changed = $true
    $after = Get-SecretServerState -Config $config
    if ($after['secretServer'] -ne $SecretServer) {
        throw ('ESSO-007 ssomanage -updatedb ran but the SSO database still names {0} as the secret server.' -f $after['secretServer'])
    }
}

@{
    changed = $changed
    before = $before
    after = $after
}
