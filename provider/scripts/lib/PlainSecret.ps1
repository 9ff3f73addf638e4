# PlainSecret: the one place a SecureString parameter becomes plaintext: in memory only, for the length of one
# script block, with every BSTR zeroed and freed in a finally whatever the block does.
#
# Why one place: the scripts that hand a password to Windows (Configuration.exe's answer file, the ISSOConfigSS
# secret methods, Win32_Service.Change) must all convert and free it the same way (docs/security.md, "Where each
# secret travels and rests"). Source: Marshal.SecureStringToBSTR (learn.microsoft.com, .NET API reference): the
# BSTR is unmanaged memory the caller must free, with ZeroFreeBSTR for a secret.
#
# Spliced into a script by its '#esso:include' line (provider/remote/script_source.py). Defines functions only.

function Use-PlainSecret {
    # Runs Action with one argument, the plaintexts of Secret in order (a string array), and returns what Action
    # returns. Action runs in a child scope of this function, so it sees the caller's variables; this function's
    # own names all start with $secret so that they hide none of them.
    param(
        [System.Security.SecureString[]]$Secret,
        [scriptblock]$Action
    )
    $secretBstrs = New-Object -TypeName 'System.Collections.Generic.List[IntPtr]'
    try {
        $secretTexts = @(
            foreach ($secretItem in $Secret) {
                $secretBstr = [System.Runtime.InteropServices.Marshal]::SecureStringToBSTR($secretItem)
                [void]$secretBstrs.Add($secretBstr)
                [System.Runtime.InteropServices.Marshal]::PtrToStringBSTR($secretBstr)
            }
        )
        & $Action $secretTexts
    }
    finally {
        foreach ($secretBstr in $secretBstrs) {
            [System.Runtime.InteropServices.Marshal]::ZeroFreeBSTR($secretBstr)
        }
    }
}
