# SsoDatabase: the SSO database over System.Data.SqlClient (Integrated Security: a second hop, rule 12), with
# parameterised queries only, and the facts the provider reads from it (exists, secret server, SSO groups, msid).
#
# Why one place: Get-SsoDatabaseFacts, Remove-SsoDatabase and Set-SecretServerName must read the [INFERRED] SSO
# schema (dbo.SSOX_GlobalInfo ...) identically; a schema correction then reaches all three.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

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

function Test-SsoDatabaseExists {
    # Whether the database exists on the server (sys.databases; the name is a parameter, never query text).
    param(
        [string]$Server,
        [string]$Database
    )
    $master = New-SqlConnection -Server $Server -Database 'master'
    try {
        $row = Invoke-SqlRow -Connection $master -Query 'SELECT COUNT(*) AS n FROM sys.databases WHERE name = @name' -Parameters @{ name = $Database }
        return (([int]$row['n']) -gt 0)
    }
    finally {
        $master.Dispose()
    }
}

function Get-SsoDatabaseState {
    # [INFERRED] The SSO schema as public copies of ESSO's SSOX.sql/SSOX2.sql show it: dbo.SSOX_GlobalInfo
    # (gi_SecretServer, gi_SSOAdminGroup, gi_AffiliateAppMgrGroup; group columns may hold several
    # ';'-separated accounts, the first is reported as ssox_spGetGlobalInfo does), and the master secret id of
    # encrypted rows in dbo.SSOX_ExternalCredentials (both columns: ec_pws_msid and ec_pns_msid, "the master
    # secret ids used to encrypt the fields", as ssox_spReadNextXp reads them with OR) and dbo.SSOX_WindowsPassword
    # (wp_msid). The database stores no "current MSID" column: msid is the id of the most recently encrypted row,
    # never the empty GUID (an unused column holds it), $null when the database holds no encrypted row yet.
    param(
        [string]$Server,
        [string]$Database
    )
    $exists = Test-SsoDatabaseExists -Server $Server -Database $Database
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
    SELECT ec_pns_msid AS msid, ec_timestamp AS written FROM dbo.SSOX_ExternalCredentials
    UNION ALL
    SELECT wp_msid AS msid, wp_timestamp AS written FROM dbo.SSOX_WindowsPassword
) AS encrypted
WHERE msid IS NOT NULL AND msid <> '00000000-0000-0000-0000-000000000000'
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
