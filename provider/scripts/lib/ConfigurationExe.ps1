# ConfigurationExe: running BizTalk's Configuration.exe in silent mode (/S <xml> /L <log> /noprogressbar) with an
# answer file and a bounded wait:
# finding the executable, checking the ConfigXml the provider sent (feature, answer, database, empty passwords),
# filling a password node, scrubbing secrets from log lines, and emptying the working folder afterwards.
# Never /U. Needs EssoRegistry (Get-EssoRegistryValue, Get-SsoConfigState), ProtectedPath (New-ProtectedDirectory) and PlainSecret
# (Use-PlainSecret).
#
# Why one place: creating (Install-SsoSystem) and joining (Join-SsoSystem) an SSO system run the same tool the
# same way; the rules about where passwords may appear must not differ between the two.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function Get-ConfigurationExe {
    # BizTalk's Configuration.exe: in %BTSINSTALLPATH% (set by BizTalk setup; public scripts use it), else in
    # the InstallPath value of HKLM\SOFTWARE\Microsoft\BizTalk Server\3.0 [INFERRED], else in the ESSO folder,
    # where an ESSO-only install has its own [INFERRED: the review cites biztalk-docs
    # how-to-move-the-master-secret-server.md for it; the page could not be re-read here to confirm].
    $folders = New-Object -TypeName 'System.Collections.Generic.List[string]'
    if ($env:BTSINSTALLPATH) {
        [void]$folders.Add($env:BTSINSTALLPATH)
    }
    $installPath = Get-EssoRegistryValue -SubKey 'SOFTWARE\Microsoft\BizTalk Server\3.0' -Name 'InstallPath'
    if ($null -ne $installPath) {
        [void]$folders.Add($installPath)
    }
    if ($env:CommonProgramW6432) {
        [void]$folders.Add((Join-Path -Path $env:CommonProgramW6432 -ChildPath 'Enterprise Single Sign-On'))
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

function Get-ConfigurationWorkFolder {
    # The working folder of one script's Configuration.exe run: one fixed name per step (esso-config-create,
    # esso-config-join), Administrators-only. A run that stopped half way (the session died while Configuration.exe
    # ran, so no finally emptied the folder) leaves it where the next run of the step looks: that run empties and
    # removes it first (issue 14: no answer file or log outlives a later run). A folder of that name that does not
    # carry this tool's Administrators-only ACL, or is a reparse point, is not ours: refused, never removed.
    # Source: about_Try_Catch_Finally (learn.microsoft.com, PowerShell 5.1): a finally block runs on errors and
    # CTRL+C, not when the host process is ended (a WinRM shell closed by its client, taskkill), so the per-run
    # finally cannot be the only cleanup.
    param(
        [ValidateSet('create', 'join')]
        [string]$Step
    )
    $path = Join-Path -Path $env:windir -ChildPath ('Temp\esso-config-{0}' -f $Step)
    if (Test-Path -LiteralPath $path) {
        $item = Get-Item -LiteralPath $path -Force
        if (($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) -ne 0 -or -not $item.PSIsContainer -or -not (Test-AdminOnlyAcl -Path $path)) {
            throw ('Refusing to remove {0}: it is not a working folder this tool made (Administrators-only ACL, no reparse point). Remove it by hand, then run up again.' -f $path)
        }
        Remove-SecretFolder -Path $path
    }
    return $path
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

function Save-ConfigurationLog {
    # Keeps a failed run's log, with every secret replaced by ***, in an Administrators-only folder that outlives
    # the per-run working folder (which is emptied and removed). Returns the kept path, or '' when there is no log.
    param(
        [string]$LogPath,
        [string[]]$Secrets
    )
    if (-not (Test-Path -LiteralPath $LogPath -PathType Leaf)) {
        return ''
    }
    $keptDir = Join-Path -Path $env:windir -ChildPath ('Temp\esso-config-log-{0}' -f [guid]::NewGuid().ToString('N'))
    New-ProtectedDirectory -Path $keptDir
    $kept = Join-Path -Path $keptDir -ChildPath (Split-Path -Path $LogPath -Leaf)
    $text = Protect-Text -Text ([System.IO.File]::ReadAllText($LogPath)) -Secrets $Secrets
    [System.IO.File]::WriteAllText($kept, $text)
    return $kept
}

function Invoke-ConfigurationExe {
    # Configuration.exe /S <xml> /L <log> /noprogressbar, started in its own folder, waited for at most
    # TimeoutMinutes. The verdict is the exit code here plus the post-conditions each caller checks afterwards
    # (ENTSSO\SQL values, a new SSOSS id, the backup file); the log only feeds the failure message.
    # Sources: BizTalkServerDsc Examples/Scenario_OneMachine BtsConfig.ps1 and skastberg/biztalkps
    # ScriptedInstallWhitepaperExamples/04-Configure-BizTalkServer.ps1 run /S with /noprogressbar and judge by
    # ExitCode; kkuo's "Configuration log FYI" (MSDN blog, 2006): failures are the "error <Feature Name>" entries,
    # a successful log may hold the word "error" elsewhere. Wait-Process -Timeout (PowerShell 5.1 docs) and
    # taskkill /T /F end the whole tree: Start-Process -Wait has no timeout and also waits for descendants.
    param(
        [string]$XmlPath,
        [string]$LogPath,
        [string[]]$Secrets,
        [int]$TimeoutMinutes
    )
    $exe = Get-ConfigurationExe
    $arguments = '/S "{0}" /L "{1}" /noprogressbar' -f $XmlPath, $LogPath
    $process = Start-Process -FilePath $exe -ArgumentList $arguments -WorkingDirectory (Split-Path -Path $exe -Parent) -PassThru
    $null = $process.Handle
    $process | Wait-Process -Timeout ($TimeoutMinutes * 60) -ErrorAction SilentlyContinue
    if (-not $process.HasExited) {
        $null = & taskkill.exe /PID $process.Id /T /F 2>&1
        $killed = $LASTEXITCODE
        $kept = Save-ConfigurationLog -LogPath $LogPath -Secrets $Secrets
        throw ('ESSO-027 Configuration.exe did not finish within {0} minutes on {1}; its process tree was killed (taskkill exit code {2}). The log was kept at {3}.' -f $TimeoutMinutes, $env:COMPUTERNAME, $killed, $kept)
    }
    $exitCode = $process.ExitCode
    if ($exitCode -ne 0) {
        $excerpt = ''
        if (Test-Path -LiteralPath $LogPath -PathType Leaf) {
            $lines = @(Get-Content -LiteralPath $LogPath | Where-Object { $_ -match '(?i)\berror\b' } | Select-Object -First 5)
            $excerpt = (@(foreach ($line in $lines) { Protect-Text -Text ([string]$line) -Secrets $Secrets }) -join ' | ')
        }
        $kept = Save-ConfigurationLog -LogPath $LogPath -Secrets $Secrets
        throw ('Configuration.exe failed on {0} (exit code {1}); the log was kept at {2}. Log: {3}' -f $env:COMPUTERNAME, $exitCode, $kept, $excerpt)
    }
}

function Invoke-ConfigurationAnswerFile {
    # One Configuration.exe run on an answer file that needs passwords, in the step's working folder (the folder
    # Get-ConfigurationWorkFolder returned): the folder is created Administrators-only, the password nodes
    # (XPaths) are filled from Passwords (the SecureStrings in the same order, plaintext only in memory inside
    # Use-PlainSecret), the file sso-<Step>.xml is saved and the in-memory nodes are emptied again at once, and
    # the folder with the answer file and the log is emptied and removed in a finally. Log lines that reach a
    # message have every password replaced (Invoke-ConfigurationExe -Secrets).
    param(
        [System.Xml.XmlDocument]$Document,
        [string]$WorkDir,
        [ValidateSet('create', 'join')]
        [string]$Step,
        [string[]]$XPaths,
        [System.Security.SecureString[]]$Passwords,
        [int]$TimeoutMinutes
    )
    $xmlPath = Join-Path -Path $WorkDir -ChildPath ('sso-{0}.xml' -f $Step)
    $logPath = Join-Path -Path $WorkDir -ChildPath ('sso-{0}.log' -f $Step)
    $workDirCreated = $false
    try {
        New-ProtectedDirectory -Path $WorkDir
        $workDirCreated = $true
        Use-PlainSecret -Secret $Passwords -Action {
            param(
                [string[]]$Plain
            )
            foreach ($index in 0..($XPaths.Count - 1)) {
                Set-XmlNodeText -Document $Document -XPath $XPaths[$index] -Value $Plain[$index]
            }
            $Document.Save($xmlPath)
            foreach ($xpath in $XPaths) {
                Set-XmlNodeText -Document $Document -XPath $xpath -Value ''
            }
            Invoke-ConfigurationExe -XmlPath $xmlPath -LogPath $logPath -Secrets $Plain -TimeoutMinutes $TimeoutMinutes
        }
    }
    finally {
        if ($workDirCreated) {
            Remove-SecretFolder -Path $WorkDir
        }
    }
}

function Get-ConfiguredSsoState {
    # After a Configuration.exe run that reported success: the node's SSO configuration, which must name
    # Server/Database (the verdict is the exit code plus what the node holds afterwards, never the log).
    param(
        [string]$Server,
        [string]$Database
    )
    $state = Get-SsoConfigState
    if ($null -eq $state -or $state['server'] -ne $Server -or $state['database'] -ne $Database) {
        throw ('Configuration.exe reported success but {0} is not configured for {1}/{2}.' -f $env:COMPUTERNAME, $Server, $Database)
    }
    $state
}
