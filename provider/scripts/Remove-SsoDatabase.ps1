<#
.SYNOPSIS
    Drops the SSO database, only when the stack's destroy policy opted in (idempotent; destructive).

.DESCRIPTION
    Undoes the database half of Install-SsoSystem.ps1 (Seed step 7.3: "Create a new SSO system" creates the SSO
    database). DESIGN "Destruction is safe by default": the provider calls this only when the stack opts in.

    Reads the database's facts (System.Data.SqlClient, Integrated Security, parameterised queries; a second hop,
    rule 12). Nothing changes when it does not exist. Refuses a database that is not an SSO database (no
    dbo.SSOX_GlobalInfo). Changes: ALTER DATABASE ... SET SINGLE_USER WITH ROLLBACK IMMEDIATE (ends ENTSSO's
    connections), then DROP DATABASE. The name is a bracket-quoted identifier (']' doubled), checked to be at
    most 128 characters without control characters.

    [INFERRED] The SSO table and column names (dbo.SSOX_GlobalInfo ...) come from public copies of ESSO's SSOX.sql.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string]$Server,

    [Parameter(Mandatory = $true)]
    [ValidateLength(1, 128)]
    [string]$Database
)

$ErrorActionPreference = 'Stop'

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

function ConvertTo-QuotedIdentifier {
    param(
        [string]$Name
    )
    if ($Name -match '[\x00-\x1F]') {
        throw 'The database name must not contain control characters.'
    }
    return '[' + $Name.Replace(']', ']]') + ']'
}

function Get-SsoDatabaseSnapshot {
    $facts = Get-SsoDatabaseState -Server $Server -Database $Database
    @{
        exists = [bool]$facts['exists']
        secretServer = $facts['secretServer']
        adminGroup = $facts['adminGroup']
        affiliateAdminGroup = $facts['affiliateAdminGroup']
        msid = $facts['msid']
    }
}

$quoted = ConvertTo-QuotedIdentifier -Name $Database
$before = Get-SsoDatabaseSnapshot
$changed = $false
if ($before['exists']) {
    $connection = New-SqlConnection -Server $Server -Database $Database
    try {
        $marker = Invoke-SqlRow -Connection $connection -Query "SELECT CASE WHEN OBJECT_ID(N'dbo.SSOX_GlobalInfo', N'U') IS NULL THEN 0 ELSE 1 END AS sso"
    }
    finally {
        $connection.Dispose()
    }
    if ([int]$marker['sso'] -ne 1) {
        throw ('Refusing to drop {0} on {1}: it is not an SSO database (no dbo.SSOX_GlobalInfo).' -f $Database, $Server)
    }
    # Pooled connections to the database would otherwise be the sessions ROLLBACK IMMEDIATE has to kill.
    [System.Data.SqlClient.SqlConnection]::ClearAllPools()
    $master = New-SqlConnection -Server $Server -Database 'master'
    try {
        $command = $master.CreateCommand()
        try {
            $command.CommandTimeout = 300
            $command.CommandText = 'ALTER DATABASE ' + $quoted + ' SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE ' + $quoted + ';'
            $null = $command.ExecuteNonQuery()
        }
        finally {
            $command.Dispose()
        }
    }
    finally {
        $master.Dispose()
    }
    $changed = $true
}
$after = Get-SsoDatabaseSnapshot
if ($after['exists']) {
    throw ('The database {0} still exists on {1} after dropping it.' -f $Database, $Server)
}

@{
    changed = $changed
    before = $before
    after = $after
}
