"""The run record: one redacted line per remote call, for up, refresh, destroy and plan (issue 18, point 6)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from provider import contracts
from provider.errors import EssoError
from provider.remote.recorder import FileRecorder, last_run, new_run, read_log, stack_log
from provider.remote.simulator import Simulator, SimulatorRemote
from tests.support.procedure import SERVICE_PASSWORD, Stack, demo_spec

ROOT = Path(__file__).resolve().parents[2]


def test_a_failed_call_keeps_its_esso_id_and_nothing_of_its_text(tmp_path: Path) -> None:
    spec = demo_spec(tmp_path)
    sim = Simulator(tmp_path / "world.json")
    sim.seed(spec)
    sim.inject("SSO01", "Grant-ServiceLogonRight", "error")
    remote = SimulatorRemote(tmp_path / "world.json")
    remote.recorder = FileRecorder(tmp_path / "log.jsonl", run="r1", operation="update", resource="groups")
    with pytest.raises(EssoError) as failed:
        remote.run("SSO01", contracts.GRANT_SERVICE_LOGON_RIGHT, contracts.AccountParams(account="CONTOSO\\svc-entsso"))
    remote.run("SSO01", contracts.GRANT_SERVICE_LOGON_RIGHT, contracts.AccountParams(account="CONTOSO\\svc-entsso"))
    bad, good = read_log(tmp_path / "log.jsonl")
    assert (bad.error, bad.changed, bad.changes) == ("ESSO-041", None, True)
    assert failed.value.detail not in (tmp_path / "log.jsonl").read_text(encoding="utf-8")
    assert (good.error, good.changed, good.node, good.script) == (None, True, "SSO01", "Grant-ServiceLogonRight")
    assert "svc-entsso" not in (tmp_path / "log.jsonl").read_text(encoding="utf-8")  # no parameter is kept


def test_refresh_and_destroy_are_recorded_with_their_operation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = demo_spec(tmp_path)
    Simulator(tmp_path / "world.json").seed(spec)
    stack = Stack()
    stack.up(spec)
    stack.refresh(spec)
    stack.delete(spec, "clustered-sso-service")
    records = read_log(stack_log(tmp_path, "demo"))
    operations = [r.operation for r in records]
    assert operations.index("create") < operations.index("read") < operations.index("delete")
    assert any(r.operation == "delete" and r.script == "Remove-ClusteredSsoService" and r.changed for r in records)
    text = stack_log(tmp_path, "demo").read_text(encoding="utf-8")
    assert SERVICE_PASSWORD not in text
    assert all(set(json.loads(line)) == set(records[0].model_dump()) for line in text.splitlines())


def test_the_last_run_and_stack_names_that_leave_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    for run in ("a", "b"):
        recorder = FileRecorder(path, run=run)
        recorder.end(
            "N", "Get-NodeFacts", recorder.begin("N", "Get-NodeFacts"), changes=False, changed=None, error=None
        )
    path.write_text(path.read_text(encoding="utf-8") + "{torn", encoding="utf-8")
    assert [r.run for r in last_run(read_log(path))] == ["b"]
    with pytest.raises(ValueError, match="stack name"):
        stack_log(tmp_path, "../etc")
    assert new_run() != new_run()


def test_the_log_folder_is_not_tracked() -> None:
    assert ".esso/" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".esso/logs/demo.jsonl"], cwd=ROOT, capture_output=True, check=False
    )
    assert ignored.returncode == 0
