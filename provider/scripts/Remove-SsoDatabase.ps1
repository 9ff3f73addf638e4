<#
.SYNOPSIS
    Drops the SSO database, only when the stack's destroy policy opted in (idempotent; destructive).

.DESCRIPTION
    Undoes the database half of Install-SsoSystem.ps1 (Seed step 7.3: "Create a new SSO system" creates the SSO
    database). docs/design.md "Destruction is safe by default": the provider calls this only when the stack opts in.

    Reads the database's facts (System.Data.SqlClient, Integrated Security, parameterised queries; a second hop,
    rule 12). Nothing changes when it does not exist. Refuses a database that is not an SSO database (no
    dbo.SSOX_GlobalInfo). Changes: ALTER DATABASE ... SET SINGLE_USER WITH ROLLBACK IMMEDIATE (ends ENTSSO's
    connections), then DROP DATABASE. The name is a bracket-quoted identifier (']' doubled), checked to be at
    most 128 characters without control characters.

    [INFERRED] The SSO table and column names (dbo.SSOX_GlobalInfo ...) come from public copies of ESSO's SSOX.sql.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$Server,
    [Parameter(Mandatory)] [ValidateLength(1, 128)] [string]$Database
)

$ErrorActionPreference = 'Stop'

#esso:include SsoDatabase

function ConvertTo-QuotedIdentifier {
    param(
        [string]$Name
    )
    if ($Name -match '[\x00-\x1F]') {
        throw 'The database name must not contain control characters.'
    }
    return '[' + $Name.Replace(']', ']]') + ']'
}

$quoted = ConvertTo-QuotedIdentifier -Name $Database
$before = Get-SsoDatabaseState -Server $Server -Database $Database
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
$after = Get-SsoDatabaseState -Server $Server -Database $Database
if ($after['exists']) {
    throw ('The database {0} still exists on {1} after dropping it.' -f $Database, $Server)
}

@{
    changed = $changed
    before = $before
    after = $after
}
