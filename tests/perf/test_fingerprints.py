"""Password fingerprints: one key derivation per secret per operation, then an HMAC per resource (issue 15,
point 5); first-format fingerprints in state are re-derived by the next ``up`` without a diff."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from provider.remote.cache import Operation
from provider.remote.simulator import Simulator, demo_world
from provider.resources import base as resources_base
from provider.resources.fingerprints import (
    KeyRing,
    fingerprint,
    fingerprint_matches,
    is_fingerprint,
    salt_of,
    same_secret,
    settled_fingerprint,
)
from tests.engine.world import SECRETS, SEED_ORDER, demo_stack, new_engine, remote_calls
from tests.support.engine import learn
from tests.support.engine_wire import strip_secrets

SECRET_KEYS = ("serviceAccountPassword", "backupPassword")


def legacy_settled(value: Any, stored: str | None, ring: KeyRing | None = None) -> str | None:
    """The rule before issue 15: a PBKDF2 of the password per resource (what older state holds)."""
    if value is None:
        return None
    if is_fingerprint(value):
        return str(value)
    if stored and fingerprint_matches(str(value), stored):
        return stored
    return fingerprint(str(value), salt_of(stored))


def recorded(engine: Any, name: str) -> dict[str, str]:
    """The fingerprints a resource's state holds: inputs (from check) and outputs."""
    state = engine.resource(name)
    inputs = strip_secrets(state.inputs)
    found = {f"in:{k}": inputs[k] for k in SECRET_KEYS if k in inputs}
    found.update({f"out:{k}": state.plain_outputs[k + "Fingerprint"] for k in SECRET_KEYS if k in inputs})
    return found


def test_one_derivation_per_secret_per_operation_and_the_same_answers(tmp_path: Path) -> None:
    ring = KeyRing()
    first = settled_fingerprint("Pass-Word-1!", None, ring)
    for _ in range(10):  # ten more resources with the same secret
        settled_fingerprint("Pass-Word-1!", None, ring)
    assert ring.derivations == 1
    assert first is not None and is_fingerprint(first)
    assert settled_fingerprint("Pass-Word-1!", first, ring) == first  # unchanged: the stored one is kept
    assert fingerprint_matches("Pass-Word-1!", first) and not fingerprint_matches("Pass-Word-2!", first)
    changed = settled_fingerprint("Pass-Word-2!", first, ring)
    assert changed != first and not same_secret(changed, first)
    assert str(changed).split("$")[2].split(":")[1] == str(first).split("$")[2].split(":")[1]  # resource salt kept
    assert ring.derivations == 2


def test_a_first_format_fingerprint_is_re_derived_and_counts_as_the_same_secret() -> None:
    legacy = fingerprint("Pass-Word-1!")
    ring = KeyRing()
    migrated = settled_fingerprint("Pass-Word-1!", legacy, ring)
    assert migrated != legacy and is_fingerprint(migrated) and same_secret(migrated, legacy)
    assert fingerprint_matches("Pass-Word-1!", migrated, ring)
    other = settled_fingerprint("Other-Pass-9!", legacy, ring)
    assert not same_secret(other, legacy)
    # a tag copied onto another password's fingerprint is refused by its HMAC, never taken as the same
    forged = str(other).replace(str(other).split("$")[2], str(migrated).split("$")[2])
    assert not fingerprint_matches("Other-Pass-9!", forged, ring)


@pytest.mark.parametrize("n", [2, 4])
def test_a_preview_derives_each_secret_once(tmp_path: Path, n: int) -> None:
    nodes = [f"SSO{i:02d}" for i in range(1, n + 1)]
    config = demo_stack(tmp_path, cluster={"nodes": nodes})
    Simulator(config.simulator_state).seed(demo_world(nodes=nodes))
    engine = new_engine(tmp_path)
    engine.up(learn(config))
    engine.preview(learn(config))
    operation = Operation._current
    assert operation is not None
    assert operation.keys.derivations == len(SECRET_KEYS)  # not 2 + 2N: one per secret


def test_the_next_up_re_derives_old_fingerprints_without_a_diff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path)
    with monkeypatch.context() as old_code:
        old_code.setattr(resources_base, "settled_fingerprint", legacy_settled)
        engine.up(learn(config))
    before = recorded(engine, "sso-system")
    assert all(":" not in str(salt_of(v)) for v in before.values())  # state holds the first format
    calls = remote_calls(config)

    assert engine.preview(learn(config)).plan == dict.fromkeys(SEED_ORDER, "same")
    up = engine.up(learn(config))
    assert up.plan == dict.fromkeys(SEED_ORDER, "same") and remote_calls(config) == calls
    after = recorded(engine, "sso-system")
    for key in SECRET_KEYS:
        assert ":" in str(salt_of(after[f"in:{key}"]))  # re-derived in the keyed format
        assert same_secret(after[f"in:{key}"], after[f"out:{key}"])
    assert engine.preview(learn(config)).plan == dict.fromkeys(SEED_ORDER, "same")
    assert Operation._current is not None and Operation._current.keys.derivations == len(SECRET_KEYS)

    rotated = config.with_(serviceAccountPassword=SECRETS["serviceAccountPassword"] + "x")
    plan = engine.preview(learn(rotated)).plan
    assert plan["sso-system"] == "update" and plan["sso-join-sso01"] == "update"
