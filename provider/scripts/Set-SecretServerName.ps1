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
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$SecretServer,
    [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string]$UpdateXml
)

$ErrorActionPreference = 'Stop'

#esso:include EssoRegistry, EssoInterop, ProtectedPath, SafeXml, SsoDatabase

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
        # stdin from an empty file: a build that prompts gets end-of-file instead of hanging (review F17)
        $inPath = Join-Path -Path $workDir -ChildPath 'ssomanage.in'
        [System.IO.File]::WriteAllText($inPath, '')
        $process = Start-Process -FilePath $ssomanage -ArgumentList ('-updatedb "{0}"' -f $xmlPath) -WorkingDirectory (Split-Path -Path $ssomanage -Parent) -RedirectStandardInput $inPath -RedirectStandardOutput $outPath -RedirectStandardError $errPath -NoNewWindow -Wait -PassThru
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
