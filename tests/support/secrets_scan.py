"""Find a secret in recorded bytes, in every encoding it could travel in.

Why so many forms: a password that leaks over WinRM rarely leaks as plain UTF-8. PowerShell and .NET
speak UTF-16LE, PSRP wraps everything in base64 (at any byte offset of a larger blob), CLIXML escapes
XML specials and control characters (``_x000A_``), and a JSON dump escapes quotes and backslashes.
``find_secret`` looks for each of them and names the forms it found, so a test can assert ``== []``
and a failure says how the secret got out.
"""

from __future__ import annotations

import base64
import json
import re
from xml.sax.saxutils import escape as xml_escape

__all__ = ["find_secret", "secret_forms"]


def _aligned_base64(raw: bytes) -> list[bytes]:
    """The base64 text of ``raw`` as it appears inside a longer blob, at each of the 3 byte alignments.

    Only the characters whose 6 bits come entirely from ``raw`` are kept, so the match does not depend on
    the bytes around it.
    """
    out: list[bytes] = []
    n = len(raw)
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + raw + b"\0\0")
        start = -(-8 * k // 6)  # ceil(8k / 6): first character past the k prefix bytes
        end = (8 * (k + n)) // 6  # characters that end inside raw
        if end - start >= 4:
            out.append(encoded[start:end])
    return out


def _clixml_escape(text: str) -> str:
    """PowerShell's CLIXML string escaping: control characters and '_x' become _xHHHH_."""

    def repl(match: re.Match[str]) -> str:
        return "".join(f"_x{ord(ch):04X}_" for ch in match.group(0))

    escaped = re.sub(r"_(?=x[0-9A-Fa-f]{4}_)", "_x005F_", text)
    escaped = re.sub(r"[\x00-\x1f\x7f]", repl, escaped)
    return xml_escape(escaped)


def secret_forms(secret: str) -> dict[str, list[bytes]]:
    """Every byte pattern that would reveal ``secret``, by the name of its form."""
    if not secret:
        raise ValueError("an empty secret cannot be scanned for")
    utf8 = secret.encode("utf-8")
    utf16 = secret.encode("utf-16-le")
    forms: dict[str, list[bytes]] = {
        "plain": [utf8],
        "utf-16le": [utf16],
        "base64(utf-8)": _aligned_base64(utf8),
        "base64(utf-16le)": _aligned_base64(utf16),
        # Element text escapes only &, < and >; attribute values (and some writers) also escape quotes.
        "xml-escaped": [
            xml_escape(secret).encode("utf-8"),
            xml_escape(secret, {'"': "&quot;", "'": "&apos;"}).encode("utf-8"),
            xml_escape(secret, {'"': "&quot;"}).encode("utf-8"),
            xml_escape(secret, {'"': "&#34;", "'": "&#39;"}).encode("utf-8"),
        ],
        "json-escaped": [
            json.dumps(secret)[1:-1].encode("utf-8"),
            json.dumps(secret, ensure_ascii=False)[1:-1].encode(),
        ],
        "clixml-escaped": [_clixml_escape(secret).encode("utf-8")],
    }
    # An escaped form that equals the plain one adds nothing; keep it only where it differs.
    for name in ("xml-escaped", "json-escaped", "clixml-escaped"):
        forms[name] = [p for p in dict.fromkeys(forms[name]) if p != utf8]
    return {name: patterns for name, patterns in forms.items() if patterns}


def find_secret(haystack: bytes | str, secret: str) -> list[str]:
    """The names of the forms of ``secret`` present in ``haystack`` (empty when it is clean)."""
    data = haystack.encode("utf-8") if isinstance(haystack, str) else bytes(haystack)
    return [name for name, patterns in secret_forms(secret).items() if any(p in data for p in patterns)]
