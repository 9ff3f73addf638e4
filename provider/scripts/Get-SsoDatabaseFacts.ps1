<#
.SYNOPSIS
    Reads the SSO database's global information from SQL Server. Changes nothing.

.DESCRIPTION
    Seed: steps 7.3 and 15.3 (the SSO database, "Data stores"), and "To update the master secret server name
    in the SSO database" (the secret server name it holds).

    Reads, with System.Data.SqlClient (Integrated Security, parameterised queries; a second hop, rule 12):
    - whether the database exists (sys.databases in master);
    - the secret server name and the SSO Administrators / SSO Affiliate Administrators groups;
    - the master secret id (MSID) of the most recently encrypted rows.

    [INFERRED]
    - The SSO table and column names (dbo.SSOX_GlobalInfo gi_SecretServer/gi_SSOAdminGroup/
      gi_AffiliateAppMgrGroup; dbo.SSOX_ExternalCredentials ec_pws_msid/ec_timestamp; dbo.SSOX_WindowsPassword
      wp_msid/wp_timestamp) come from public copies of ESSO's SSOX.sql/SSOX2.sql, not from documentation.
    - The database records no "current MSID": msid is the id of the most recently encrypted row, and $null
      while the database holds no encrypted row (a new SSO system).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$Server,
    [Parameter(Mandatory)] [ValidateLength(1, 128)] [string]$Database
)

$ErrorActionPreference = 'Stop'

#esso:include SsoDatabase

$facts = Get-SsoDatabaseState -Server $Server -Database $Database

@{
    exists = [bool]$facts['exists']
    secretServer = $facts['secretServer']
    adminGroup = $facts['adminGroup']
    affiliateAdminGroup = $facts['affiliateAdminGroup']
    msid = $facts['msid']
}
