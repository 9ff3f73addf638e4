"""The text a contract script is sent as: ``provider/scripts/<Name>.ps1`` with its library fragments spliced in.

Why: a script travels to a node whole (one PSRP ``add_script``), so the helpers several scripts share cannot be
imported on the node. They live once, as fragments in ``provider/scripts/lib/<Fragment>.ps1`` that only define
functions, and each script declares what it needs with one line right after ``$ErrorActionPreference = 'Stop'``::

    #esso:include ProtectedPath, SsoDatabase

``assembled(name)`` replaces that line with the named fragments, in the order given, each once, each after a
``# --- lib/<Fragment>.ps1 ---`` separator. The result is still one Windows PowerShell 5.1 script: the comment
header and the ``param()`` block first, then ``$ErrorActionPreference``, then the helpers, then the script's own
code. The line is a plain comment to PowerShell, so the unassembled file still parses; it never reaches a node.

Fragments do not include other fragments: a script lists every fragment it needs (tests/scripts checks that each
helper a script calls is defined in what it is sent). Everything is read once per process and cached.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "scripts"
LIB = "lib"

# Any line that starts with "#esso:include" is an include line: one or more fragment names separated by commas.
# A malformed one is refused, never left behind as a comment.
INCLUDE_LINE = re.compile(r"^[ \t]*#esso:include(?P<names>.*?)[ \t]*\r?$", re.MULTILINE)
_NAMES = re.compile(r"[ \t]+[A-Za-z][A-Za-z0-9]*(?:[ \t]*,[ \t]*[A-Za-z][A-Za-z0-9]*)*")


class ScriptSourceError(Exception):
    """A script's ``#esso:include`` line names no fragment, names one that does not exist, or is malformed."""


def include_names(line_names: str, *, where: str) -> list[str]:
    """``" A, B"`` -> ``["A", "B"]``; anything else is refused."""
    if not _NAMES.fullmatch(line_names):
        raise ScriptSourceError(
            f"{where}: malformed include line '#esso:include{line_names}'"
            " (expected '#esso:include Fragment[, Fragment ...]')"
        )
    return [name.strip() for name in line_names.split(",")]


def fragment_path(fragment: str, folder: Path = SCRIPTS_DIR) -> Path:
    return folder / LIB / f"{fragment}.ps1"


def known_fragments(folder: Path = SCRIPTS_DIR) -> list[str]:
    return sorted(p.stem for p in (folder / LIB).glob("*.ps1"))


def includes(text: str, *, where: str = "<script>") -> list[str]:
    """The fragments a script's text includes, in order, each once."""
    out: list[str] = []
    for match in INCLUDE_LINE.finditer(text):
        for name in include_names(match.group("names"), where=where):
            if name not in out:
                out.append(name)
    return out


@functools.cache
def _fragment(fragment: str, folder: Path) -> str:
    path = fragment_path(fragment, folder)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        known = ", ".join(known_fragments(folder)) or "none"
        raise ScriptSourceError(
            f"unknown fragment {fragment!r}: there is no {path} (the fragments are: {known})"
        ) from None
    if INCLUDE_LINE.search(text):
        raise ScriptSourceError(f"{path} has an '#esso:include' line; only scripts include fragments")
    return text


@functools.cache
def assembled(name: str, folder: Path = SCRIPTS_DIR) -> str:
    """The text of ``<folder>/<name>.ps1`` with each ``#esso:include`` line replaced by its fragments.

    Raises ``FileNotFoundError`` when the script does not exist and ``ScriptSourceError`` for an unknown fragment
    or a malformed include line.
    """
    path = folder / f"{name}.ps1"
    text = path.read_text(encoding="utf-8-sig")
    seen: set[str] = set()

    def splice(match: re.Match[str]) -> str:
        parts = []
        for fragment in include_names(match.group("names"), where=f"{path}"):
            if fragment in seen:
                continue
            seen.add(fragment)
            try:
                body = _fragment(fragment, folder).rstrip("\r\n")
            except ScriptSourceError as e:
                raise ScriptSourceError(f"{path}: {e}") from None
            parts.append(f"# --- {LIB}/{fragment}.ps1 ---\n{body}\n")
        return "\n".join(parts).rstrip("\n")

    return INCLUDE_LINE.sub(splice, text)


__all__ = [
    "INCLUDE_LINE",
    "SCRIPTS_DIR",
    "ScriptSourceError",
    "assembled",
    "fragment_path",
    "include_names",
    "includes",
    "known_fragments",
]
