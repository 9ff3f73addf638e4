"""Secret inputs as fingerprints: what state records instead of a password, and the one rule for it.

Why: ``check()``, ``diff()`` and the outputs must agree on whether a password changed without keeping it.
A salted, slow PBKDF2 fingerprint lets them compare; ``settled_fingerprint`` is the only place that decides
what is recorded, so the three cannot drift apart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

PBKDF2_ROUNDS = 60_000


def fingerprint(value: str, salt: str | None = None) -> str:
    """A salted, slow fingerprint: lets diff() see a changed password without keeping the password."""
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", value.encode("utf-8"), bytes.fromhex(salt), PBKDF2_ROUNDS).hex()
    return f"pbkdf2-sha256${PBKDF2_ROUNDS}${salt}${digest}"


def is_fingerprint(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("pbkdf2-sha256$") and value.count("$") == 3


def salt_of(stored: Any) -> str | None:
    return str(stored).split("$")[2] if is_fingerprint(stored) else None


def fingerprint_matches(value: str, stored: str | None) -> bool:
    if not stored or stored.count("$") != 3:
        return False
    _, rounds, salt, _ = stored.split("$")
    if int(rounds) != PBKDF2_ROUNDS:
        return False
    return hmac.compare_digest(fingerprint(value, salt), stored)


def fingerprint_key(key: str) -> str:
    return f"{key}Fingerprint"


def settled_fingerprint(value: Any, stored: str | None) -> str | None:
    """What state records for a secret input ``value`` when ``stored`` is recorded now: the one rule.

    None stays None; a fingerprint (from ``check()``) is kept; a password that matches ``stored`` keeps it
    (no spurious diff); any other password gets a new fingerprint, with the stored salt when there is one.
    ``check()``, ``diff()`` and the outputs all use it, so they cannot disagree.
    """
    if value is None:
        return None
    if is_fingerprint(value):
        return str(value)
    if fingerprint_matches(str(value), stored):
        return stored
    return fingerprint(str(value), salt_of(stored))
