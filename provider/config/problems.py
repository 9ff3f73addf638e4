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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from provider.errors import EssoError

PROJECT = "esso-cluster"
"""The Pulumi project name: stack files write this project's keys as ``esso-cluster:<key>``."""

RULES = "esso_rules"
"""The pydantic error type that carries (sub-key, message) pairs in its context."""

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
"""Control characters: refused in every name, path and one-line text a stack file gives."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration: the dotted key as the user writes it, and the fix."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


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
    """A non-secret value quoted for a message; control characters are escaped."""
    return f"'{value}'" if value.isprintable() else repr(value)


def control_problem(value: str, what: str) -> str | None:
    """The one message for a control character in a name, path or line of text a stack file gives."""
    return f"{quoted(value)} contains a control character: retype the {what}" if CONTROL.search(value) else None


def unknown_key_message(key: str, known: Sequence[str], where: str) -> str:
    """The message for a key nobody declared, with the closest known key (or its camelCase spelling)."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    camel = to_camel(key) if key != to_camel(key) and to_camel(key) in known else None
    guess = camel or (close[0] if close else None)
    hint = f"did you mean {guess}? " if guess else ""
    return f"is not a known key of {where}: {hint}known keys are {', '.join(known)}"
