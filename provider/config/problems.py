"""What is wrong with a configuration, said once: ``Problem``, ``SpecError`` and the rule error behind them.

Why its own module: every rule (``names``, ``places``, ``rules``), the models and the loaders report
through these few names, and none of them may import the models (the translation of pydantic errors,
which does, lives in ``translation``). A rule returns its message or None; ``raise_if`` and ``fail``
turn messages into the one pydantic error type (``RULES``) that ``translation.problems_of`` unpacks
into one Problem per dotted key.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from provider.errors import EssoError

PROJECT = "esso-cluster"
"""The Pulumi project name: stack files write this project's keys as ``esso-cluster:<key>``."""

STAND_IN = "Stand-in-for-an-encrypted-value-1"
"""What a secret is validated as where its value is not at hand (offline, or in the program): passes
every password rule, never a real secret. The one stand-in: the program (__main__.py) uses it too, and
rules that compare with a secret (the backup reminder) skip it."""

RULES = "esso_rules"
"""The pydantic error type that carries (sub-key, message) pairs in its context."""

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""Control characters (C0, DEL, C1): refused in every name, path and one-line text a stack file gives."""

# Characters that show nothing, or change how the text around them shows, yet are not control characters:
# Unicode's Default_Ignorable_Code_Point outside the categories below (combining grapheme joiner, Hangul
# fillers, Khmer inherent vowels, Mongolian and other variation selectors). Source: Unicode
# DerivedCoreProperties.txt (Default_Ignorable_Code_Point) and UTS #39 "Unicode Security Mechanisms".
_IGNORABLE = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef]")
# Categories whose characters are invisible or reorder text: Cf (format: zero-width, bidi controls, soft
# hyphen, BOM, tags), Zl/Zp (line/paragraph separators), Co (private use), Cn (unassigned), Cs (surrogates).
_HIDDEN_CATEGORIES = frozenset({"Cf", "Zl", "Zp", "Co", "Cn", "Cs"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration: the dotted key as the user writes it, and the fix."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{printable(self.key)}: {printable(self.message, limit=4096)}"


class SpecError(EssoError):
    """ESSO-040: the stack configuration is invalid. ``problems`` lists every key to fix."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__("ESSO-040", f"{count} problem{'s' if count != 1 else ''}:\n{lines}\n")

    def __reduce__(self) -> tuple[type[SpecError], tuple[list[Problem]]]:
        return (SpecError, (self.problems,))


def fail(problems: Sequence[tuple[str, str]]) -> NoReturn:
    """Raise the pydantic error that ``problems_of`` unpacks into one Problem per (sub-key, message)."""
    text = "; ".join(f"{sub}: {message}" if sub else message for sub, message in problems)
    raise PydanticCustomError(RULES, "{text}", {"text": text, "problems": tuple(problems)})


def raise_if(why: str | None) -> None:
    """Raise a rule's message as the error of the value being validated; nothing when the rule passed."""
    if why:
        fail([("", why)])


def quoted(value: str) -> str:
    """A non-secret value quoted for a message; control and invisible characters are escaped."""
    return f"'{value}'" if value.isprintable() and hidden_character(value) is None else ascii(value)


def codepoint(char: str) -> str:
    """``U+200B (ZERO WIDTH SPACE)``: how a message names a character a person cannot see."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def is_hidden(char: str) -> bool:
    """Whether one character is a control, invisible or text-reordering character (see ``hidden_character``)."""
    category = unicodedata.category(char)
    return bool(
        CONTROL.match(char)
        or category in _HIDDEN_CATEGORIES
        or (category == "Zs" and char != " ")
        or _IGNORABLE.match(char)
    )


MAX_SHOWN_CHARS = 512
"""The most characters of one value a log line shows; the rest is counted, not printed."""


def printable(value: object, *, limit: int = MAX_SHOWN_CHARS) -> str:
    """``value`` as text safe on one log line or terminal: the one helper every line this tool writes uses.

    Why (issue 13, L4): node names, steps and notes can come from a node's reply, and keys from a stack
    file. Written raw, a newline forges a second line, ``ESC[2K`` and a carriage return erase the line
    before, a bidi override reorders what a person reads. Every control, invisible or text-reordering
    character (``is_hidden``) is escaped the way Python writes it (``\\n``, ``\\x1b``, ``\\u202e``), and at most
    ``limit`` characters are shown; ordinary text, accented letters and Windows paths pass unchanged.
    Sources: CWE-117 (improper output neutralization for logs); Unicode UTS #39.
    """
    text = str(value)
    shown = "".join(char.encode("unicode_escape").decode("ascii") if is_hidden(char) else char for char in text[:limit])
    return shown + (f"...({len(text) - limit} more characters)" if len(text) > limit else "")


def hidden_character(value: str) -> str | None:
    """The first invisible or text-reordering character of ``value`` (issue 13, L2), named, or None.

    Control characters, format characters (zero-width, bidi overrides and isolates, soft hyphen, BOM),
    line and paragraph separators, spaces other than U+0020 (no-break, ideographic, ...), private-use,
    unassigned and surrogate code points, and the other default-ignorable characters: each makes a
    value differ from what a reviewer sees in a diff.
    """
    for char in value:
        if is_hidden(char):
            return codepoint(char)
    return None


def control_problem(value: str, what: str) -> str | None:
    """The one message for a control or invisible character in a name, path or line of text a stack file gives."""
    if CONTROL.search(value):
        return f"{quoted(value)} contains a control character: retype the {what}"
    hidden = hidden_character(value)
    if hidden:
        return (
            f"{quoted(value)} contains {hidden}, an invisible or text-reordering character, so what a reviewer "
            f"reads is not the value: retype the {what} without it"
        )
    return None


def non_ascii_problem(value: str, what: str, allowed: str) -> str | None:
    """Why ``value`` is refused for a non-ASCII character (a look-alike of a Latin letter passes review), or None."""
    for char in value:
        if not char.isascii():
            return (
                f"{quoted(value)} contains {codepoint(char)}, which is not ASCII; a look-alike "
                f"letter makes a changed name look unchanged: type the {what} with {allowed}"
            )
    return None


def unknown_key_message(key: str, known: Sequence[str], where: str) -> str:
    """The message for a key nobody declared, with the closest known key (or its camelCase spelling)."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    camel = to_camel(key) if key != to_camel(key) and to_camel(key) in known else None
    guess = camel or (close[0] if close else None)
    hint = f"did you mean {guess}? " if guess else ""
    return f"is not a known key of {where}: {hint}known keys are {', '.join(known)}"
