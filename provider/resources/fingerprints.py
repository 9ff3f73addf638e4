"""Secret inputs as fingerprints: what state records instead of a password, and the one rule for it.

Why: ``check()``, ``diff()`` and the outputs must agree on whether a password changed without keeping it.
A salted, slow fingerprint lets them compare; ``settled_fingerprint`` is the only place that decides what is
recorded, so the three cannot drift apart.

Why two steps (issue 15, point 5): a 60,000-round PBKDF2 per secret per resource was most of a no-op preview's
CPU time. A fingerprint is now ``pbkdf2-sha256$<rounds>$<stack salt>:<resource salt>$<digest>`` where the
digest is HMAC-SHA256(PBKDF2(password, stack salt), the salt field): the slow key is derived once per secret
and stack salt in an operation (``KeyRing``, kept by the provider host's ``Operation``), each resource then
costs one HMAC. The stack salt is the one already in state (every new fingerprint of an operation takes the
first one it sees, or one new random salt); the resource salt is kept across password changes.

A fingerprint of the first format (``pbkdf2-sha256$<rounds>$<salt>$<digest>``, PBKDF2 of the password itself)
is re-derived by the next ``check()`` that finds the password matching it: the new fingerprint carries a tag
of the old one in its salt field (``<stack>:<resource>:<tag>``, authenticated by the HMAC), and ``same_secret``
takes such a pair as the same password, so the re-derivation shows no diff.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from typing import Any

PBKDF2_ROUNDS = 60_000
_PREFIX = "pbkdf2-sha256$"


class KeyRing:
    """The slow keys of one operation: one PBKDF2 per (secret, stack salt), then only HMACs.

    The password is not kept: keys are found by an HMAC of it under a random key of this ring.
    """

    def __init__(self) -> None:
        self.derivations = 0
        self._keys: dict[tuple[str, bytes], bytes] = {}
        self._tagger = secrets.token_bytes(32)
        self._stack_salt: str | None = None
        self._lock = threading.Lock()

    def key(self, value: str, stack_salt: str) -> bytes:
        found = (stack_salt, hmac.new(self._tagger, value.encode("utf-8"), hashlib.sha256).digest())
        with self._lock:
            known = self._keys.get(found)
        if known is not None:
            return known
        derived = hashlib.pbkdf2_hmac("sha256", value.encode("utf-8"), bytes.fromhex(stack_salt), PBKDF2_ROUNDS)
        with self._lock:
            self.derivations += 1
            self._keys[found] = derived
        return derived

    def stack_salt(self, seen: str | None = None) -> str:
        """The stack salt for new fingerprints: the first one seen in state this operation, or a new one."""
        with self._lock:
            if self._stack_salt is None:
                self._stack_salt = seen or secrets.token_hex(16)
            return self._stack_salt


def _parts(stored: Any) -> tuple[int, str, str] | None:
    """(rounds, salt field, digest) of a fingerprint, or None."""
    if not is_fingerprint(stored):
        return None
    _, rounds, salt, digest = str(stored).split("$")
    return (int(rounds), salt, digest) if rounds.isdigit() else None


def _legacy_tag(stored: str) -> str:
    return hashlib.sha256(stored.encode("ascii")).hexdigest()[:16]


def fingerprint(value: str, salt: str | None = None) -> str:
    """A fingerprint of the first format (PBKDF2 of the password): still read, and used where one value is
    fingerprinted once (the backup password in use); ``settled_fingerprint`` records the keyed format."""
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", value.encode("utf-8"), bytes.fromhex(salt), PBKDF2_ROUNDS).hex()
    return f"{_PREFIX}{PBKDF2_ROUNDS}${salt}${digest}"


def keyed_fingerprint(value: str, ring: KeyRing, *, stack_salt: str, resource_salt: str, tag: str = "") -> str:
    """The keyed format: HMAC-SHA256 of the salt field under the password's key for ``stack_salt``."""
    field = f"{stack_salt}:{resource_salt}" + (f":{tag}" if tag else "")
    digest = hmac.new(ring.key(value, stack_salt), field.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{_PREFIX}{PBKDF2_ROUNDS}${field}${digest}"


def is_fingerprint(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(_PREFIX) and value.count("$") == 3


def salt_of(stored: Any) -> str | None:
    parts = _parts(stored)
    return parts[1] if parts else None


def fingerprint_matches(value: str, stored: str | None, ring: KeyRing | None = None) -> bool:
    """Whether ``stored`` is a fingerprint of ``value`` (either format)."""
    parts = _parts(stored)
    if parts is None or stored is None or parts[0] != PBKDF2_ROUNDS:
        return False
    salt = parts[1]
    if ":" not in salt:
        return hmac.compare_digest(fingerprint(value, salt), stored)
    stack, _, _ = salt.partition(":")
    expected = hmac.new((ring or KeyRing()).key(value, stack), salt.encode("ascii"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts[2])


def fingerprint_key(key: str) -> str:
    return f"{key}Fingerprint"


def settled_fingerprint(value: Any, stored: str | None, ring: KeyRing | None = None) -> str | None:
    """What state records for a secret input ``value`` when ``stored`` is recorded now: the one rule.

    None stays None; a fingerprint (from ``check()``) is kept; a password that matches a keyed ``stored`` keeps
    it (no spurious diff); one that matches a first-format ``stored`` gets a keyed fingerprint tagged with it
    (``same_secret`` says no change); any other password gets a new keyed fingerprint, keeping the stored
    resource salt. ``check()``, ``diff()`` and the outputs all use it, so they cannot disagree.
    """
    if value is None:
        return None
    if is_fingerprint(value):
        return str(value)
    ring = ring or KeyRing()
    password = str(value)
    parts = _parts(stored)
    salt = parts[1] if parts else ""
    stack, _, rest = salt.partition(":")
    keyed = bool(rest)
    if keyed:
        ring.stack_salt(stack)  # the first stack salt found in state is the operation's
    if parts is not None and stored is not None and fingerprint_matches(password, stored, ring):
        if keyed:
            return stored
        return keyed_fingerprint(
            password, ring, stack_salt=ring.stack_salt(), resource_salt=salt, tag=_legacy_tag(stored)
        )
    resource = rest.split(":")[0] if keyed else (salt or secrets.token_hex(16))
    return keyed_fingerprint(
        password, ring, stack_salt=ring.stack_salt(stack if keyed else None), resource_salt=resource
    )


def same_secret(recorded: str | None, stored: str | None) -> bool:
    """Whether the fingerprint ``recorded`` now stands for the same password as ``stored``: equal, or the
    keyed re-derivation of a first-format ``stored`` (``check()`` verified the password against it)."""
    if recorded == (stored or None):
        return True
    new, old = _parts(recorded), _parts(stored)
    if new is None or old is None or stored is None or ":" in old[1]:
        return False
    fields = new[1].split(":")
    return len(fields) == 3 and fields[1] == old[1] and hmac.compare_digest(fields[2], _legacy_tag(stored))
