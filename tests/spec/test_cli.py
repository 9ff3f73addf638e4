"""``python -m provider.spec check``: one ``<key>: <message>`` line per problem and exit 1, or ``ok: <file>``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from provider.spec import main
from tests.spec.common import ROOT, base_config, changed

LINE = re.compile(r"^[A-Za-z][A-Za-z0-9.\[\]_:-]*: \S.*$")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "provider.spec", *args],
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
