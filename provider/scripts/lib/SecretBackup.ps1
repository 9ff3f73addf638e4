# SecretBackup: the master secret's password-protected backup file through ISSOConfigSS (BackupSecret,
# RestoreSecret, GenerateSecret), the methods behind `ssoconfig -backupSecret/-restoreSecret/-generateSecret`.
#
# Why one place: Backup-MasterSecret, New-MasterSecret and Restore-MasterSecret hand the backup password to the
# same interface (Install-SsoSystem no longer backs up: the provider runs Backup-MasterSecret); the call and the
# password's life in memory must not differ between them. Needs EssoInterop (Import-EssoInterop) and PlainSecret
# (Use-PlainSecret).
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function Invoke-SsoSecretMethod {
    # ISSOConfigSS.<Method> on SSOConfigOM from the interop assembly, the API behind `ssoconfig -backupSecret`,
    # `-restoreSecret` and `-generateSecret`, which prompt and are never used: BackupSecret and GenerateSecret
    # (file, password, reminder), RestoreSecret (file, password). Called by reflection as skastberg/biztalkps
    # SSOAdminOMWrapper.psm1 does ("ISSOConfigSS.GenerateSecret Method", learn.microsoft.com biztalk/core/
    # technical-reference). The password is plaintext only in memory, inside Use-PlainSecret (lib/PlainSecret.ps1).
    # Previous: where the caller moved the file that File replaces (or ''). When that file is there afterwards it is
    # removed if the method succeeded, else put back in place of whatever the method wrote, so a failed backup
    # never leaves the node without the last good one (issue 14).
    param(
        [ValidateSet('BackupSecret', 'GenerateSecret', 'RestoreSecret')]
        [string]$Method,
        [string]$File,
        [System.Security.SecureString]$Password,
        [string]$Reminder,
        [string]$Previous
    )
    Import-EssoInterop
    $configOm = New-Object -TypeName 'Microsoft.EnterpriseSingleSignOn.Interop.SSOConfigOM'
    $interface = 'Microsoft.EnterpriseSingleSignOn.Interop.ISSOConfigSS' -as [type]
    $flags = [System.Reflection.BindingFlags]::InvokeMethod -bor [System.Reflection.BindingFlags]::Instance
    $succeeded = $false
    try {
        Use-PlainSecret -Secret @($Password) -Action {
            param(
                [string[]]$Plain
            )
            $arguments = @($File, $Plain[0])
            if ($Method -ne 'RestoreSecret') {
                $arguments += $Reminder
            }
            $null = $interface.InvokeMember($Method, $flags, $null, $configOm, $arguments)
        }
        $succeeded = $true
    }
    finally {
        if ($Previous -ne '' -and (Test-Path -LiteralPath $Previous -PathType Leaf)) {
            if ($succeeded) {
                Remove-Item -LiteralPath $Previous -Force
            }
            else {
                if (Test-Path -LiteralPath $File) {
                    Remove-Item -LiteralPath $File -Force
                }
                Move-Item -LiteralPath $Previous -Destination $File
            }
        }
    }
}
