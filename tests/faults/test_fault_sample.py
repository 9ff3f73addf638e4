"""A bounded sample of the fault matrix in the normal test run (issue 14, point 4), and proof that it can fail.

The full matrix (``make faults``, ``tests/faults/matrix.py``) runs every cell for 2 and 3 nodes; this module runs,
at 2 nodes, the first cell of every (script, fault kind, phase) over all scenarios: every change script at
least once, every fault kind (``interrupt`` at every phase a script declares), every scenario. Each cell must
converge in one fault-free re-run to exactly the clean build, leave no file, lose no backup and fail only with
an ESSO id. The planted-defect tests show that each of those measures catches its defect.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from provider import contracts
from provider.remote.simulator import Simulator
from provider.remote.world import SimFile
from tests.faults import matrix
from tests.faults.matrix import Baseline, Cell
from tests.support.procedure import Stack

NODES = matrix.node_names(2)


@pytest.fixture(scope="module")
def baselines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Baseline]]:
    matrix.install_ledger()
    root = tmp_path_factory.mktemp("faults")
    with matrix.fast_fingerprints():  # for this module's tests, which use the baselines' states
        yield {name: matrix.baseline(s, NODES, root / name) for name, s in matrix.SCENARIOS.items()}


def _sample(baselines: dict[str, Baseline]) -> list[tuple[Baseline, Cell]]:
    """The first cell of every (script, kind, phase), and in every scenario ``drop_after`` (the change applied,
    the reply lost) on the first call of each of its first four change scripts."""
    firsts: dict[tuple[str, str, str | None], tuple[Baseline, Cell]] = {}
    for line in baselines.values():
        for cell in line.cells():
            firsts.setdefault((cell.script, cell.kind, cell.phase), (line, cell))
    chosen = list(firsts.values())
    for line in baselines.values():
        changes = [
            cell
            for cell in line.cells()
            if cell.kind == "drop_after" and cell.occurrence == 1 and (line, cell) not in chosen
        ]
        chosen += [(line, cell) for cell in changes[:4]]
    return chosen


def test_the_sample_covers_every_change_script_kind_phase_and_scenario(baselines: dict[str, Baseline]) -> None:
    cells = [cell for _, cell in _sample(baselines)]
    changes = {name for name, script in contracts.SCRIPTS.items() if script.changes}
    assert changes - {cell.script for cell in cells} == set()
    assert {cell.kind for cell in cells} == {*matrix.KINDS, "interrupt"}
    declared = {(name, phase) for name, script in contracts.SCRIPTS.items() for phase in script.phases}
    assert declared - {(cell.script, cell.phase) for cell in cells if cell.phase} == set(), "a phase no run reaches"
    assert {line.scenario for line, _ in _sample(baselines)} == set(matrix.SCENARIOS)


def test_every_sampled_cell_converges_in_one_rerun_to_the_clean_build(baselines: dict[str, Baseline]) -> None:
    outcomes = [matrix.run_cell(line, cell) for line, cell in _sample(baselines)]
    totals = matrix.totals(outcomes)
    summary = matrix.report(outcomes, 0)
    assert totals.not_fired == 0, summary
    assert totals.converged_in_one == totals.cells, summary
    assert (totals.never_converged, totals.differing, totals.files_left, totals.backups_lost) == (0, 0, 0, 0), summary
    assert totals.without_id == 0, summary


# ---------------------------------------------------------------------------------- the measures can fail


def _cell(baselines: dict[str, Baseline], script: str, kind: str = "error") -> tuple[Baseline, Cell]:
    line = baselines["first-up"]
    return line, next(cell for cell in line.cells() if cell.script == script and cell.kind == kind)


def test_a_file_left_on_a_node_is_counted(baselines: dict[str, Baseline]) -> None:
    def leave(_stack: Stack, work: Path) -> None:
        with Simulator(work / "world.json").edit() as world:
            world.nodes["SSO02"].files["c:\\windows\\temp\\esso-left\\ssosecret.bak"] = SimFile(data_base64="")

    outcome = matrix.run_cell(*_cell(baselines, "Join-SsoSystem"), after=leave)
    assert outcome.files_left == ["SSO02:c:\\windows\\temp\\esso-left\\ssosecret.bak"]
    assert not outcome.converged_in_one


def test_a_world_that_differs_from_the_clean_build_is_counted(baselines: dict[str, Baseline]) -> None:
    def unset(_stack: Stack, work: Path) -> None:
        with Simulator(work / "world.json").edit() as world:
            service = next(r for r in world.cluster.resources.values() if r.type == "Generic Service")
            service.parameters["UseNetworkName"] = 0

    outcome = matrix.run_cell(*_cell(baselines, "Set-ClusteredSsoService"), after=unset)
    assert any(d.startswith("world.cluster.resources.") for d in outcome.differs), outcome.differs


def test_outputs_that_differ_from_the_clean_build_are_counted(baselines: dict[str, Baseline]) -> None:
    def forget(stack: Stack, _work: Path) -> None:
        stack.state["master-secret-restore-sso02"].outputs["failoverVerifiedAt"] = None

    outcome = matrix.run_cell(*_cell(baselines, "Restore-MasterSecret"), after=forget)
    assert "outputs.master-secret-restore-sso02.failoverVerifiedAt" in outcome.differs


def test_a_lost_or_altered_backup_is_counted(baselines: dict[str, Baseline]) -> None:
    def alter(stack: Stack, _work: Path) -> None:
        Path(str(stack.outputs("sso-system")["escrowLocation"])).write_bytes(b"not the backup")

    outcome = matrix.run_cell(*_cell(baselines, "Remove-MasterSecretBackup"), after=alter)
    assert outcome.backup_lost


def test_a_run_that_never_converges_is_counted(baselines: dict[str, Baseline]) -> None:
    def break_for_good(_stack: Stack, work: Path) -> None:
        Simulator(work / "world.json").inject("SSO02", "Join-SsoSystem", "error", remaining=99)

    outcome = matrix.run_cell(*_cell(baselines, "Join-SsoSystem"), before=break_for_good)
    assert outcome.reruns is None and outcome.errors[-1].startswith("ESSO-041")


def test_an_error_without_an_esso_id_is_counted(
    baselines: dict[str, Baseline], monkeypatch: pytest.MonkeyPatch
) -> None:
    from provider.remote import simulator

    original = simulator.HANDLERS["Set-SsoPossibleOwners"]
    calls = iter(range(1000))

    def bare(*args: object) -> object:
        if next(calls) == 0:
            raise ValueError("a bare error")
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setitem(simulator.HANDLERS, "Set-SsoPossibleOwners", bare)
    outcome = matrix.run_cell(*_cell(baselines, "Get-NodeFacts"))
    assert outcome.without_id and "ValueError" in outcome.without_id[0]
