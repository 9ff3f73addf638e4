"""``python -m provider.spec check``: one ``<key>: <message>`` line per problem and exit 1, or ``ok: <file>``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from provider.config import cli
from provider.spec import main
from tests.spec.common import ROOT, base_config, changed

LINE = re.compile(r"^[A-Za-z][A-Za-z0-9.\[\]_:-]*: \S.*$")


def run(*args: str, module: str = "provider.spec") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_shipped_dev_and_prod_are_ok() -> None:
    result = run("check", "stacks/Pulumi.dev.yaml", "stacks/Pulumi.prod.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["ok: stacks/Pulumi.dev.yaml", "ok: stacks/Pulumi.prod.yaml"]


def test_demo_needs_the_flag_for_its_run_time_passwords() -> None:
    result = run("check", "stacks/Pulumi.demo.yaml")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["serviceAccountPassword", "backupPassword"]
    assert all(LINE.match(line) and "pulumi config set --secret" in line for line in lines)
    assert "ESSO-040" in result.stderr

    allowed = run("check", "--allow-missing-secrets", "stacks/Pulumi.demo.yaml")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert allowed.stdout.splitlines() == ["ok: stacks/Pulumi.demo.yaml"]


def test_a_bad_stack_file_prints_one_line_per_problem(tmp_path: Path) -> None:
    config = changed(
        base_config(),
        {"cluster.nodes[1]": "SSO 02", "transport.readTimeout": 30, "database.server": "localhost"},
    )
    config = {k: v for k, v in config.items() if not k.endswith("Password")}
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(yaml.safe_dump({"config": {f"esso-cluster:{k}": v for k, v in config.items()}}), "utf-8")

    result = run("check", "--allow-missing-secrets", str(path))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert all(LINE.match(line) for line in lines), lines
    assert sorted(line.split(": ")[0] for line in lines) == [
        "cluster.nodes[1]",
        "database.server",
        "transport.readTimeout",
    ]


def test_usage_errors_exit_2() -> None:
    assert run().returncode == 2
    assert run("check").returncode == 2


def test_in_process_main_and_a_missing_file(tmp_path: Path) -> None:
    printed: list[str] = []
    missing = tmp_path / "Pulumi.none.yaml"
    assert main(["check", str(missing)], out=printed.append) == 1
    assert len(printed) == 1 and printed[0].startswith(f"{missing}: cannot be read")
    printed.clear()
    assert main(["check", str(ROOT / "stacks" / "Pulumi.prod.yaml")], out=printed.append) == 0
    assert printed == [f"ok: {ROOT / 'stacks' / 'Pulumi.prod.yaml'}"]


@pytest.mark.parametrize("name", ["demo", "dev", "prod"])
def test_every_shipped_stack_passes_in_process(name: str) -> None:
    path = str(ROOT / "stacks" / f"Pulumi.{name}.yaml")
    assert main(["check", "--allow-missing-secrets", path], out=lambda _line: None) == 0


def test_the_package_runs_the_same_check() -> None:
    """``python -m provider.config`` is the CLI's own home; ``provider.spec`` is its old address."""
    result = run("check", "stacks/Pulumi.dev.yaml", module="provider.config")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["ok: stacks/Pulumi.dev.yaml"]
    assert "python -m provider.config" in run("--help", module="provider.config").stdout
    assert "python -m provider.spec" in run("--help").stdout


def test_project_file_command_finds_and_rewrites_a_stale_description(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = (ROOT / "Pulumi.yaml").read_text("utf-8")
    copy = tmp_path / "Pulumi.yaml"
    copy.write_text(original.replace("Where the remote steps run", "Where steps run"), "utf-8")
    monkeypatch.setattr(cli, "PROJECT_FILE", copy)
    printed: list[str] = []
    assert cli.main(["project-file"], out=printed.append) == 1
    assert "differ" in printed[-1]
    assert cli.main(["project-file", "--write"], out=printed.append) == 0
    assert copy.read_text("utf-8") == original
    assert cli.main(["project-file"], out=printed.append) == 0


def test_reference_command_prints_the_table() -> None:
    printed: list[str] = []
    assert cli.main(["reference"], out=printed.append) == 0
    assert printed[0].startswith("| Key | What it is | Default |")
    assert "| `cluster.nodes` |" in printed[0]
