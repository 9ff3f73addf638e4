"""The ``esso`` command: one entry point over check, plan, log and the simulator; secrets never on argv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from provider.operate import cli
from provider.operate.stack import SECRET_ENV, config_from_cli_json, load_config, load_state, state_from_export
from provider.remote.simulator import Simulator
from tests.support.procedure import BACKUP_PASSWORD, SERVICE_PASSWORD, Stack, demo_spec

ROOT = Path(__file__).resolve().parents[2]


def _cli_config(tmp_path: Path, **overrides: object) -> dict[str, object]:
    """The demo stack's config as `pulumi config --show-secrets --json` prints it."""
    values: dict[str, object] = {
        "target": "simulator",
        "simulatorState": str(tmp_path / "world.json"),
        "cluster": {"networkName": "BIZTALKSSO", "role": "SSO", "nodes": ["SSO01", "SSO02"]},
        "domain": {"name": "CONTOSO"},
        "sso": {"serviceAccount": "CONTOSO\\svc-entsso", "configuringAccount": "CONTOSO\\esso-config"},
        "database": {"server": "SQL01", "name": "SSODB"},
        "escrow": {"kind": "local", "path": str(tmp_path / "escrow")},
        "transport": {"auth": "credssp", "secondHop": "credssp"},
        "allowDisruption": False,
        **overrides,
    }
    document: dict[str, object] = {}
    for key, value in values.items():
        entry: dict[str, object] = {
            "value": json.dumps(value) if not isinstance(value, str) else value,
            "secret": False,
        }
        if isinstance(value, dict | list):
            entry["objectValue"] = value
        document[f"esso-cluster:{key}"] = entry
    document["esso-cluster:serviceAccountPassword"] = {"value": SERVICE_PASSWORD, "secret": True}
    document["esso-cluster:backupPassword"] = {"value": BACKUP_PASSWORD, "secret": True}
    document["aws:region"] = {"value": "eu-west-1", "secret": False}
    return document


def test_the_module_entry_points_and_esso_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "w.json"
    assert cli.main(["init", "--state", str(state)]) == 0
    assert cli.main(["show", "--summary", "--state", str(state)]) == 0
    assert "role SSO: Online on SSO01" in capsys.readouterr().out
    assert cli.main(["fault", "--state", str(state), "--node", "SSO02", "--script", "Join-SsoSystem"]) == 0
    assert Simulator(state).load().faults[0].node == "SSO02"
    assert cli.main(["check", "--allow-missing-secrets", str(ROOT / "stacks" / "Pulumi.demo.yaml")]) == 0
    assert cli.main(["nonsense"]) == 2


def test_the_console_script_is_declared_and_runs_as_a_module() -> None:
    project = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'esso = "provider.operate.cli:main"' in project
    done = subprocess.run(
        [sys.executable, "-m", "provider.operate", "--help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "esso plan --stack NAME" in done.stdout
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "$(VENV)/bin/esso" in makefile and "$(ESSO_CLI)" in makefile


def test_plan_json_and_markdown_from_a_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(_cli_config(tmp_path)), encoding="utf-8")
    spec = demo_spec(tmp_path)
    Simulator(tmp_path / "world.json").seed(spec)
    common = [
        "plan",
        "--stack",
        "demo",
        "--project-dir",
        str(tmp_path),
        "--config-json",
        str(config),
        "--no-pulumi-cli",
    ]
    assert cli.main([*common, "--json"]) == 1  # allowDisruption false: up would stop, so the plan says blocked
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) >= {"steps", "blocked", "preconditions"}
    assert printed["blocked"][0]["error"] == "ESSO-019"
    assert [s["script"] for s in printed["steps"]][:2] == ["Set-SsoDomainGroups", "Grant-ServiceLogonRight"]
    runbook = tmp_path / "runbook.md"
    assert cli.main([*common, "--markdown", str(runbook)]) == 1
    text = runbook.read_text(encoding="utf-8")
    for part in ("# Change runbook", "stack `demo`", "expected outages:", "## Rollback", "ESSO-019", "Move-SsoRole"):
        assert part in text, part
    for secret in (SERVICE_PASSWORD, BACKUP_PASSWORD):
        assert secret not in text and secret not in json.dumps(printed)
    # the plan's own remote calls are in the stack's record, as a run of their own
    capsys.readouterr()
    assert cli.main(["log", "--stack", "demo", "--project-dir", str(tmp_path)]) == 0
    header, *calls = capsys.readouterr().out.splitlines()
    assert "0 changed, 0 failed" in header
    assert "Get-NodeFacts" in "\n".join(calls)
    assert calls and all(" plan " in line and " read " in line for line in calls), calls


def test_secrets_come_from_the_environment_with_the_stack_file(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    config = {
        k: (v.get("objectValue", v["value"]))
        for k, v in _cli_config(tmp_path).items()
        if isinstance(v, dict) and not v.get("secret") and k.startswith("esso-cluster:")
    }
    (stacks / "Pulumi.ops.yaml").write_text(yaml.safe_dump({"config": config}), encoding="utf-8")
    env = {SECRET_ENV["serviceAccountPassword"]: SERVICE_PASSWORD, SECRET_ENV["backupPassword"]: BACKUP_PASSWORD}
    spec, where = load_config("ops", project_dir=tmp_path, env=env, use_cli=False)
    assert spec.service_account_password.get_secret_value() == SERVICE_PASSWORD
    assert "environment" in where
    with pytest.raises(Exception, match="ESSO_SERVICE_ACCOUNT_PASSWORD"):
        load_config("ops", project_dir=tmp_path, env={}, use_cli=False)


def test_plan_takes_no_secret_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--service-account-password", "--backup-password", "--password"):
        with pytest.raises(SystemExit):
            cli.main(["plan", "--stack", "demo", flag, "x"])
    assert "unrecognized arguments" in capsys.readouterr().err


def test_config_json_and_state_export_formats(tmp_path: Path) -> None:
    values = config_from_cli_json(_cli_config(tmp_path))
    assert values["cluster"] == {"networkName": "BIZTALKSSO", "role": "SSO", "nodes": ["SSO01", "SSO02"]}
    assert "region" not in values  # another namespace
    with pytest.raises(Exception, match="show-secrets"):
        config_from_cli_json({"esso-cluster:backupPassword": {"secret": True}})
    export = {
        "deployment": {
            "resources": [
                {
                    "urn": "urn:pulumi:demo::esso-cluster::pulumi:pulumi:Stack::esso-cluster-demo",
                    "type": "pulumi:pulumi:Stack",
                },
                {
                    "urn": "urn:pulumi:demo::esso-cluster::esso:index:ClusteredMasterSecret$"
                    "pulumi-python:dynamic/esso:SsoSystem::sso-system",
                    "type": "pulumi-python:dynamic/esso:SsoSystem",
                    "id": "sys",
                    "inputs": {
                        "a": {
                            "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                            "plaintext": '"v"',
                        }
                    },
                    "outputs": {"b": 1},
                },
            ]
        }
    }
    state = state_from_export(export)
    assert list(state) == ["sso-system"] and state["sso-system"].inputs == {"a": "v"}


def test_esso_log_prints_the_last_up_as_a_timeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = demo_spec(tmp_path)
    Simulator(tmp_path / "world.json").seed(spec)
    Stack().up(spec)
    log = tmp_path / ".esso" / "logs" / "demo.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert {r["operation"] for r in records} == {"create"}
    assert any(r["script"] == "Install-SsoSystem" and r["changed"] for r in records)
    text = log.read_text(encoding="utf-8")
    for secret in (SERVICE_PASSWORD, BACKUP_PASSWORD):
        assert secret not in text
    assert cli.main(["log", "--stack", "demo", "--project-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Install-SsoSystem" in out and "changed" in out and "sso-system" in out
    assert os.path.getsize(log) > 0


def test_config_and_state_come_from_the_pulumi_cli_when_it_is_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in `pulumi` that answers `config --show-secrets --json` and `stack export --show-secrets`, and
    writes down how it was called."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "config.json").write_text(json.dumps(_cli_config(tmp_path)), encoding="utf-8")
    export: dict[str, dict[str, list[object]]] = {"deployment": {"resources": []}}
    (tmp_path / "export.json").write_text(json.dumps(export), encoding="utf-8")
    fake = bin_dir / "pulumi"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{tmp_path}/argv.txt"\n'
        f'case "$1" in config) cat "{tmp_path}/config.json";; stack) cat "{tmp_path}/export.json";; esac\n',
        encoding="utf-8",
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    spec, where = load_config("prod", project_dir=tmp_path)
    assert where == "the Pulumi CLI"
    assert spec.backup_password is not None and spec.backup_password.get_secret_value() == BACKUP_PASSWORD
    state, state_from = load_state("prod", project_dir=tmp_path)
    assert state == {} and state_from == "the Pulumi CLI"
    calls = (tmp_path / "argv.txt").read_text(encoding="utf-8").splitlines()
    assert calls[0].startswith("config --show-secrets --json --stack prod --non-interactive --cwd ")
    assert calls[1].startswith("stack export --show-secrets --stack prod --non-interactive --cwd ")
    assert not any(secret in line for line in calls for secret in (SERVICE_PASSWORD, BACKUP_PASSWORD))
