"""Each engine rule the harness imitates, proven on a provider that writes its calls to a ledger."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from tests.engine.ledger_provider import LedgerProvider
from tests.engine.rig import CONFIG, SENTINEL, TYPE, Rig, program, urn
from tests.support.engine import EngineError, Program, Registration
from tests.support.engine_program import _guard
from tests.support.engine_wire import (
    Secret,
    StateCipher,
    annotate_secrets,
    diff_inputs,
    from_struct,
    mark_additional_secret_outputs,
    to_struct,
)
from tests.support.secrets_scan import find_secret

# ----------------------------------------------------------------------------------- values and secrets


def test_the_wire_keeps_a_secret_where_it_is_and_strips_it_for_the_provider() -> None:
    props = {"a": Secret("x"), "b": {"c": Secret([1]), "d": "plain"}, "n": 1}
    kept = from_struct(to_struct(props, keep_secrets=True))
    assert kept == {"a": Secret("x"), "b": {"c": Secret([1.0]), "d": "plain"}, "n": 1.0}
    stripped = from_struct(to_struct(props, keep_secrets=False))
    assert stripped == {"a": "x", "b": {"c": [1.0], "d": "plain"}, "n": 1.0}
    assert repr(Secret(SENTINEL)) == "Secret([secret])"


def test_annotate_secrets_follows_the_engine() -> None:
    # same top-level key: the output becomes secret; a new key derived from it does not
    outs = annotate_secrets({"password": "p", "token": "t"}, {"password": Secret("p")})
    assert outs == {"password": Secret("p"), "token": "t"}
    # both objects: recurse, so one secret field does not taint its neighbours
    outs = annotate_secrets({"obj": {"a": 1, "b": 2}}, {"obj": {"a": Secret(1), "b": 2}})
    assert outs == {"obj": {"a": Secret(1), "b": 2}}
    # arrays: a secret anywhere in the input array marks the whole output array
    outs = annotate_secrets({"arr": [1, 2]}, {"arr": [Secret(1), 2]})
    assert outs == {"arr": Secret([1, 2])}
    # a secret object input (not an object any more) marks the whole output object
    assert annotate_secrets({"obj": {"a": 1}}, {"obj": Secret({"a": 1})}) == {"obj": Secret({"a": 1})}
    # already secret stays as it is; keys only in the inputs are ignored
    assert annotate_secrets({"k": Secret(1)}, {"k": Secret(1), "gone": Secret(2)}) == {"k": Secret(1)}
    # additional_secret_outputs: named outputs become secret, missing names are ignored
    assert mark_additional_secret_outputs({"token": "t", "x": 1}, ["token", "absent"]) == {
        "token": Secret("t"),
        "x": 1,
    }


def test_the_engines_input_diff_compares_values_not_secretness_or_null() -> None:
    assert diff_inputs({"a": Secret("x"), "n": 1}, {"a": "x", "n": 1.0}) == []
    assert diff_inputs({"a": 1, "z": None}, {"a": 2}) == ["a"]
    assert diff_inputs({"__provider": "old"}, {"__provider": "new"}) == ["__provider"]


def test_the_state_cipher_needs_the_passphrase(tmp_path: Path) -> None:
    cipher = StateCipher("right")
    sealed = cipher.seal({"password": Secret(SENTINEL), "plain": 1})
    assert find_secret(json.dumps(sealed), SENTINEL) == []
    assert StateCipher("right", cipher.salt).unseal(sealed) == {"password": Secret(SENTINEL), "plain": 1}
    with pytest.raises(InvalidTag):
        StateCipher("wrong", cipher.salt).unseal(sealed)


def test_learning_refuses_chained_outputs() -> None:
    chained = Registration(urn("x"), TYPE, "x", True, "", {}, property_dependencies={"size": (urn("y"),)})
    with pytest.raises(NotImplementedError, match="outputs"):
        _guard([chained])


def test_secrets_are_stripped_for_the_host_and_re_derived_in_state(rig: Rig) -> None:
    deployment = rig.engine.up(
        program(
            rig.reg("marked", password=Secret(SENTINEL), aso=("token",)),
            rig.reg("unmarked", password=Secret(SENTINEL)),
        )
    )
    assert deployment.accept_secrets is False  # the host's Configure answer
    configure = next(c for c in deployment.calls if c.method == "Configure")
    assert configure.request.acceptSecrets is True
    create = next(c for c in deployment.calls if c.method == "Create" and c.resource == "marked")
    sent = from_struct(create.request.properties)
    assert sent["password"] == SENTINEL  # plain on the wire: KeepSecrets false
    assert not any(isinstance(v, Secret) for v in sent.values())
    marked, unmarked = rig.engine.resource("marked"), rig.engine.resource("unmarked")
    assert {"password", "token", "__provider"} <= set(marked.secret_outputs)
    assert "password" in unmarked.secret_outputs and "token" not in unmarked.secret_outputs
    assert marked.inputs["password"] == Secret(SENTINEL)
    assert find_secret(rig.engine.store.raw(), SENTINEL) == []
    # the sentinel really is in the state, encrypted: the decrypted view shows it
    assert marked.plain_outputs["password"] == SENTINEL


# ----------------------------------------------------------------------------------- diff and replacement


def test_diff_unknown_falls_back_to_the_engines_own_input_diff(rig: Rig) -> None:
    rig.engine.up(program(rig.reg("a", diffMode="unknown", size=1)))
    rig.reset()
    again = rig.engine.up(program(rig.reg("a", diffMode="unknown", size=1)))
    assert again.plan == {"a": "same"} and rig.ops() == []
    changed = rig.engine.up(program(rig.reg("a", diffMode="unknown", size=2)))
    assert changed.plan == {"a": "update"}
    assert next(s for s in changed.steps if s.name == "a").keys == ("size",)
    rig.reset()
    # the default diff: only the serialized provider changed, and that alone is an update
    recoded = rig.engine.up(program(rig.reg("a", provider=LedgerProvider("v2"), diffMode="unknown", size=2)))
    assert recoded.plan == {"a": "update"}
    assert next(s for s in recoded.steps if s.name == "a").keys == ("__provider",)
    assert rig.ops() == [("update", "a")]


def test_replacement_creates_before_deleting_by_default(rig: Rig) -> None:
    rig.engine.up(program(rig.reg("a", replaceKeys=["zone"], zone="z1"), rig.reg("b", size=1)))
    first_id = rig.engine.resource("a").id
    rig.reset()
    deployment = rig.engine.up(program(rig.reg("a", replaceKeys=["zone"], zone="z2"), rig.reg("b", size=2)))
    assert deployment.plan == {"a": "replace", "b": "update"}
    # the old a is deleted with the other deletes, after every create and update
    assert rig.ops() == [("create", "a"), ("update", "b"), ("delete", "a")]
    assert rig.engine.resource("a").id != first_id
    assert [r.name for r in rig.engine.state()] == ["a", "b"]


def test_delete_before_replace_from_the_provider_or_the_option(rig: Rig) -> None:
    rig.engine.up(
        program(
            rig.reg("p", replaceKeys=["zone"], zone="z1", askDbr=True), rig.reg("o", replaceKeys=["zone"], zone="z1")
        )
    )
    rig.reset()
    rig.engine.up(
        program(
            rig.reg("p", replaceKeys=["zone"], zone="z2", askDbr=True),  # the provider asks for it
            rig.reg("o", replaceKeys=["zone"], zone="z2", dbr=True),  # the deleteBeforeReplace option
        )
    )
    assert rig.ops() == [("delete", "p"), ("create", "p"), ("delete", "o"), ("create", "o")]


@pytest.mark.parametrize("host", ["in-process", "subprocess"])
def test_replace_with_replaces_dependents_and_deletes_them_first(tmp_path: Path, host: str) -> None:
    rig = Rig(tmp_path, host)

    def graph(zone: str) -> Program:
        return program(
            rig.reg("a", replaceKeys=["zone"], zone=zone, dbr=True),
            rig.reg("b", deps=("a",), replace_with=("a",)),
            rig.reg("c", deps=("a",)),
        )

    rig.engine.up(graph("z1"))
    rig.reset()
    preview = rig.engine.preview(graph("z2"))
    assert preview.plan == {"b": "replace", "a": "replace", "c": "same"}
    assert rig.ops() == []
    rig.engine.up(graph("z2"))
    # b follows a (replaceWith), though its own diff sees no change; it is deleted before a and recreated after
    assert rig.ops() == [("delete", "b"), ("delete", "a"), ("create", "a"), ("create", "b")]
    assert [s.name for s in rig.engine.state()] == ["a", "b", "c"]


def test_replace_with_forces_a_create_before_delete_replacement_too(rig: Rig) -> None:
    def graph(zone: str) -> Program:
        return program(rig.reg("a", replaceKeys=["zone"], zone=zone), rig.reg("b", deps=("a",), replace_with=("a",)))

    rig.engine.up(graph("z1"))
    rig.reset()
    deployment = rig.engine.up(graph("z2"))
    assert deployment.plan == {"a": "replace", "b": "replace"}
    assert next(s for s in deployment.steps if s.name == "b" and s.op == "replace").keys == ("replaceWith:a",)
    assert rig.ops() == [("create", "a"), ("create", "b"), ("delete", "b"), ("delete", "a")]


# ----------------------------------------------------------------------------------- protect and retain


def test_protect_refuses_replacement_and_deletion(rig: Rig) -> None:
    rig.engine.up(program(rig.reg("a", replaceKeys=["zone"], zone="z1", protect=True)))
    before = rig.engine.store.raw()
    rig.reset()
    with pytest.raises(EngineError, match="marked for protection") as err:
        rig.engine.up(program(rig.reg("a", replaceKeys=["zone"], zone="z2", protect=True)))
    assert rig.ops() == [] and rig.engine.store.raw() == before
    # a preview reports the plan and the error
    with pytest.raises(EngineError, match="marked for protection") as err:
        rig.engine.preview(program(rig.reg("a", replaceKeys=["zone"], zone="z2", protect=True)))
    assert err.value.deployment is not None and err.value.deployment.plan == {"a": "replace"}
    with pytest.raises(EngineError, match="marked for protection"):
        rig.engine.up(program())  # removing it from the program
    with pytest.raises(EngineError, match="marked for protection"):
        rig.engine.destroy(CONFIG)
    assert rig.ops() == []
    # unprotecting and replacing in one update is allowed ("we don't look at old.Protect here")
    rig.engine.up(program(rig.reg("a", replaceKeys=["zone"], zone="z2")))
    assert rig.ops() == [("create", "a"), ("delete", "a")]


def test_retain_on_delete_drops_from_state_without_calling_delete(rig: Rig) -> None:
    rig.engine.up(program(rig.reg("kept", retain=True), rig.reg("gone")))
    rig.reset()
    deployment = rig.engine.up(program())
    assert deployment.plan == {"gone": "delete", "kept": "delete"}
    assert rig.ops() == [("delete", "gone")]
    assert rig.engine.state() == []


# ----------------------------------------------------------------------------------- preview, refresh, destroy


def test_preview_runs_check_and_diff_only(rig: Rig) -> None:
    first = rig.engine.preview(program(rig.reg("a", size=1), rig.reg("b", size=1)))
    assert first.plan == {"a": "create", "b": "create"}
    assert rig.ops(mutations_only=False) == [("check", "a"), ("check", "b")]
    assert not rig.engine.store.path.exists()
    rig.engine.up(program(rig.reg("a", size=1), rig.reg("b", size=1), rig.reg("c", replaceKeys=["zone"], zone="z1")))
    before = rig.engine.store.raw()
    rig.reset()
    planned = rig.engine.preview(
        program(rig.reg("a", size=1), rig.reg("b", size=2), rig.reg("c", replaceKeys=["zone"], zone="z2"), rig.reg("d"))
    )
    assert planned.plan == {"a": "same", "b": "update", "c": "replace", "d": "create"}
    assert {op for op, _ in rig.ops(mutations_only=False)} == {"check", "diff"}
    assert rig.engine.store.raw() == before
    removal = rig.engine.preview(program(rig.reg("a", size=1)))
    assert removal.plan == {"a": "same", "c": "delete", "b": "delete"}
    assert rig.engine.store.raw() == before


def test_refresh_reads_every_resource_and_drops_the_gone(rig: Rig) -> None:
    rig.engine.up(program(rig.reg("a", size=1, password=Secret(SENTINEL), aso=("token",)), rig.reg("b", size=1)))
    rig.world({"a": {"size": 9}, "b": "gone"})
    rig.reset()
    deployment = rig.engine.refresh(CONFIG)
    assert sorted(rig.ops()) == [("read", "a"), ("read", "b")]  # in parallel: any order
    assert deployment.refreshed == {"a": ["size"]}
    assert deployment.gone == ["b"]
    (a,) = rig.engine.state()
    assert a.plain_outputs["size"] == 9
    assert {"password", "token"} <= set(a.secret_outputs)  # secretness survives a refresh
    assert find_secret(rig.engine.store.raw(), SENTINEL) == []


def test_destroy_runs_in_reverse_dependency_order(rig: Rig) -> None:
    rig.engine.up(program(rig.reg("a"), rig.reg("b", deps=("a",)), rig.reg("c", deps=("b",))))
    rig.reset()
    planned = rig.engine.destroy(CONFIG, preview=True)
    assert planned.plan == {"c": "delete", "b": "delete", "a": "delete"} and rig.ops() == []
    rig.engine.destroy(CONFIG)
    assert rig.ops() == [("delete", "c"), ("delete", "b"), ("delete", "a")]
    assert rig.engine.state() == []


def test_a_provider_error_names_the_resource_and_keeps_the_state_consistent(rig: Rig) -> None:
    rig.engine.up(program(rig.reg("a"), rig.reg("b", deps=("a",))))
    broken = rig.reg("a", size=2)
    broken = replace(broken, inputs={**broken.inputs, "ledger": str(rig.ledger.parent / "missing" / "ledger")})
    with pytest.raises(EngineError) as err:
        rig.engine.up(program(broken, rig.reg("b", deps=("a",))))
    assert err.value.resource == "a" and err.value.method == "Check"
    assert "FileNotFoundError" in err.value.summary
    assert [s.name for s in rig.engine.state()] == ["a", "b"]
