# EssoInterop: the Enterprise SSO installation folder (ENTSSO.exe's folder, else the documented default) and
# Microsoft.EnterpriseSingleSignOn.Interop.dll loaded from it, never a pinned version.
#
# Why one place: the scripts that call ESSO's administration objects (Backup, Restore, Get-NodeFacts), run its
# tools (ssomanage.exe) or change its service must find the same installation, and refuse alike (ESSO-016) when it
# is missing.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function Get-EntSsoService {
    # The ENTSSO service's Win32_Service entry (StartName, StartMode, State), refusing (ESSO-016) a node where
    # Enterprise SSO is not installed.
    $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='ENTSSO'"
    if ($null -eq $service) {
        throw ('ESSO-016 Enterprise SSO (the ENTSSO service) is not installed on {0}.' -f $env:COMPUTERNAME)
    }
    $service
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
