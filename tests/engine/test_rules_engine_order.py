"""The engine rules of issue 12, each proven on the ledger provider: the cascade's random order, pending
replacements, a ``replaceWith`` replacement without Diff, refresh's Diff and parallel Reads, project defaults.

Go functions cited are pulumi/pulumi's at 1b5949891b (``pkg/resource/deploy/step_generator.go``, ``step.go``).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.engine.rig import CONFIG, Rig, program
from tests.support.engine import Engine, EngineError, Program, StackConfig
from tests.support.engine_program import project_defaults
from tests.support.engine_steps import StepGenerator

DEPENDENTS = ("b", "c", "d", "e")


def _graph(rig: Rig, zone: str) -> Program:
    """``a`` replaced delete-before-replace when its zone changes; four dependents name it in ``replace_with``;
    ``e`` has no dependency edge on it (the cascade needs none)."""
    return program(
        rig.reg("a", replaceKeys=["zone"], zone=zone, askDbr=True),
        *[rig.reg(n, deps=("a",) if n != "e" else (), replace_with=("a",)) for n in DEPENDENTS],
    )


def _deleted(rig: Rig) -> list[str]:
    return [name for op, name in rig.ops() if op == "delete"]


# ------------------------------------------------------------------------------ findDependentCascadeReplacements


def test_the_cascade_deletes_the_dependents_first_in_the_seeds_random_order(tmp_path: Path) -> None:
    orders: set[tuple[str, ...]] = set()
    for seed in range(8):
        (tmp_path / str(seed)).mkdir()
        rig = Rig(tmp_path / str(seed))
        rig.engine.seed = seed
        rig.engine.up(_graph(rig, "z1"))
        rig.reset()
        deployment = rig.engine.up(_graph(rig, "z2"))
        assert deployment.seed == seed
        deleted = _deleted(rig)
        assert deleted[-1] == "a" and sorted(deleted[:-1]) == sorted(DEPENDENTS), (seed, deleted)
        # the order is the seed's shuffle of the state's order, deleted back to front
        expected = list(DEPENDENTS)
        random.Random(seed).shuffle(expected)
        assert deleted[:-1] == list(reversed(expected)), seed
        assert [op for op, _ in rig.ops()[len(deleted) :]] == ["create"] * 5
        orders.add(tuple(deleted))
    assert len(orders) > 1, "every seed gave the same order: the cascade is not shuffled"


def test_a_fixed_seed_replays_the_same_order(tmp_path: Path) -> None:
    runs = []
    for attempt in range(2):
        (tmp_path / str(attempt)).mkdir()
        rig = Rig(tmp_path / str(attempt))
        rig.engine.seed = 1234
        rig.engine.up(_graph(rig, "z1"))
        rig.reset()
        rig.engine.up(_graph(rig, "z2"))
        runs.append(_deleted(rig))
    assert runs[0] == runs[1]


def test_a_failure_names_the_seed(rig: Rig) -> None:
    rig.engine.seed = 77
    rig.engine.up(_graph(rig, "z1"))
    rig.world({"a": "fail-create"})
    with pytest.raises(EngineError) as err:
        rig.engine.up(_graph(rig, "z2"))
    assert "ESSO_ENGINE_SEED=77" in "\n".join(getattr(err.value, "__notes__", []))


# ------------------------------------------------------------------------------ PendingReplacement


def test_deleted_dependents_stay_pending_replacement_and_the_next_run_deletes_them_again(rig: Rig) -> None:
    rig.engine.up(_graph(rig, "z1"))
    rig.world({"a": "fail-create"})
    rig.reset()
    with pytest.raises(EngineError) as err:
        rig.engine.up(_graph(rig, "z2"))
    assert (err.value.resource, err.value.method) == ("a", "Create")
    assert sorted(_deleted(rig)) == sorted([*DEPENDENTS, "a"])
    state = {s.name: s for s in rig.engine.state()}
    assert set(state) == {"a", *DEPENDENTS}  # NewDeleteReplacementStep(pendingReplace=true): kept in state
    assert all(s.pending_replacement for s in state.values())
    # RefreshStep.Apply: "pending-replace resources never change with a refresh": nothing is read
    rig.reset()
    rig.engine.refresh(CONFIG)
    assert rig.ops() == []
    # the next run: a is still replaced (no second delete of a: ``if !old.PendingReplacement``), but the
    # cascade finds its dependents again and DeleteStep.Apply calls Delete on each once more
    rig.world({})
    rig.engine.up(_graph(rig, "z2"))
    assert sorted(_deleted(rig)) == sorted(DEPENDENTS)
    assert [op for op, _ in rig.ops()[len(DEPENDENTS) :]] == ["create"] * 5
    assert not any(s.pending_replacement for s in rig.engine.state())
    assert [s.name for s in rig.engine.state()] == ["a", *DEPENDENTS]


def test_a_pending_replacement_no_longer_registered_leaves_without_a_delete(rig: Rig) -> None:
    rig.engine.up(_graph(rig, "z1"))
    rig.world({"a": "fail-create"})
    with pytest.raises(EngineError):
        rig.engine.up(_graph(rig, "z2"))
    rig.world({})
    rig.reset()
    # a is still pending replacement, so it is replaced (``old.PendingReplacement``), create-before-delete now,
    # and not deleted again; the dependents are no longer registered
    deployment = rig.engine.up(program(rig.reg("a", replaceKeys=["zone"], zone="z2")))
    assert {("remove-pending-replace", n) for n in DEPENDENTS} <= set(deployment.step_ops())
    assert rig.ops() == [("create", "a")]  # NewRemovePendingReplaceStep: no Delete
    assert [s.name for s in rig.engine.state()] == ["a"]
    assert not rig.engine.resource("a").pending_replacement


# ------------------------------------------------------------------------------ stepGenerator.diff: replaceWith


@pytest.mark.parametrize("option", [None, True], ids=["no-option", "option"])
def test_a_replace_with_replacement_skips_diff_and_honours_only_the_option(rig: Rig, option: bool | None) -> None:
    def graph(zone: str) -> Program:
        return program(
            rig.reg("a", replaceKeys=["zone"], zone=zone),  # create-before-delete, so nothing is cascaded
            rig.reg("b", deps=("a",), replace_with=("a",), askDbr=True, dbr=option),  # its Diff would ask DBR
        )

    rig.engine.up(graph("z1"))
    rig.reset()
    deployment = rig.engine.up(graph("z2"))
    assert ("diff", "b") not in rig.ops(mutations_only=False)
    assert next(s for s in deployment.steps if s.name == "b" and s.op == "replace").keys == ("replaceWith:a",)
    if option:  # delete-before-replace because the resource option says so
        assert rig.ops() == [("create", "a"), ("delete", "b"), ("create", "b"), ("delete", "a")]
    else:  # create-before-delete although the provider would have asked otherwise
        assert rig.ops() == [("create", "a"), ("create", "b"), ("delete", "b"), ("delete", "a")]


# ------------------------------------------------------------------------------ RefreshStep.Apply


def test_refresh_diffs_after_each_read_and_reads_in_parallel(rig: Rig) -> None:
    rig.engine.up(program(rig.reg("a", size=1, slowRead=0.3), rig.reg("b", size=1, slowRead=0.3)))
    rig.world({"a": {"size": 9}})
    rig.reset()
    deployment = rig.engine.refresh(CONFIG)
    calls = rig.ops(mutations_only=False)
    # GenerateRefreshes + ExecuteParallel: both Reads start before either ends
    assert [op for op, _ in calls[:2]] == ["read-start", "read-start"], calls
    # the provider's Diff runs after each Read: refreshed state as "olds", the program's last inputs as "news"
    assert sorted(n for op, n in calls if op == "diff") == ["a", "b"]
    assert deployment.refresh_diffs["a"] == ["size"] and deployment.refresh_diffs["b"] == []
    assert deployment.provider_calls("Read", "Diff").count(("Diff", "a")) == 1


def test_refresh_reads_one_at_a_time_would_fail_the_parallel_check(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parallel check above can fail: with one worker the Reads do not overlap."""
    monkeypatch.setattr("tests.support.engine_steps.REFRESH_WORKERS", 1)
    rig.engine.up(program(rig.reg("a", slowRead=0.1), rig.reg("b", slowRead=0.1)))
    rig.reset()
    rig.engine.refresh(CONFIG)
    assert [op for op, _ in rig.ops(mutations_only=False)[:2]] == ["read-start", "read"]


# ------------------------------------------------------------------------------ ApplyProjectConfig


def test_configure_gets_the_project_defaults_of_pulumi_yaml(tmp_path: Path) -> None:
    defaults = project_defaults()
    config = StackConfig.demo(tmp_path, {"serviceAccountPassword": "x-Sentinel-1!"})
    demo_keys = {"target", "cluster", "escrow", "transport"}
    unset = {k for k in defaults if k not in config.values or k not in demo_keys} - demo_keys
    assert unset, "Pulumi.yaml declares no default the demo stack leaves unset"
    engine = Engine(tmp_path / "state.json")
    with engine.session(config) as session:
        assert isinstance(session, StepGenerator)
        (configure,) = [c for c in session.deployment.calls if c.method == "Configure"]
    args = configure.request.args
    for key in unset:
        assert f"{config.project}:{key}" in args.fields, key
