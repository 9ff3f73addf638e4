# SafeXml: parsing XML received as a parameter with DTD processing prohibited and no resolver.
#
# Why one place: every script that reads XML from the provider (ConfigXml, UpdateXml) must parse it with the same
# hardened settings; a copy that forgot one setting would reopen entity expansion.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

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
