"""The GitHub workflows are valid, audited, pinned, least-privilege, and take secrets only from environments.

Why here: ``make test`` is the only gate these files get before they run with production credentials.
The schema is check-jsonschema's vendored GitHub workflow schema and the audit is zizmor in offline
mode, both pinned in requirements-dev.txt, so this needs no network; each check is shown to fail on a
planted defect.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
# The environment stacks: every tracked stack file but the demo's (and the demo's git-ignored working copy).
SHIPPED_STACKS = sorted(
    name for p in (ROOT / "stacks").glob("Pulumi.*.yaml") if not (name := p.name.split(".")[1]).startswith("demo")
)


def workflow(name: str) -> dict[Any, Any]:
    loaded = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def schema_check(*files: Path) -> subprocess.CompletedProcess[str]:
    argv = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, files)]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def zizmor(folder: Path) -> subprocess.CompletedProcess[str]:
    argv = [str(BIN / "zizmor"), "--offline", "--persona", "pedantic", "--no-progress", str(folder)]
    return subprocess.run(argv, capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"})


def test_the_workflows_exist() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["preview.yml", "up.yml"]


def test_the_workflows_match_the_github_workflow_schema() -> None:
    done = schema_check(*sorted(WORKFLOWS.glob("*.yml")))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_fails_on_a_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    text = (WORKFLOWS / "preview.yml").read_text(encoding="utf-8")
    bad.write_text(text.replace("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04"), encoding="utf-8")
    assert schema_check(bad).returncode != 0


def test_zizmor_finds_nothing_offline() -> None:
    done = zizmor(WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1", "actions/checkout@v7"),
        ("permissions: {}", "permissions: write-all"),
        (
            'run: venv/bin/python -m provider.spec check "stacks/Pulumi.${STACK}.yaml"',
            "run: venv/bin/python -m provider.spec check stacks/Pulumi.${{ github.head_ref }}.yaml",
        ),
    ],
)
def test_zizmor_fails_on_a_planted_defect(tmp_path: Path, old: str, new: str) -> None:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    text = (WORKFLOWS / "preview.yml").read_text(encoding="utf-8")
    assert old in text
    (folder / "preview.yml").write_text(text.replace(old, new), encoding="utf-8")
    assert zizmor(folder).returncode != 0


def test_every_action_is_pinned_by_commit_with_its_tag() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "uses:" in line:
                used = line.split("uses:", 1)[1].strip()
                assert PINNED.match(used), f"{path.name}: {used} is not pinned as owner/repo@<sha> # vX.Y.Z"


def test_permissions_are_empty_at_the_top_and_minimal_per_job() -> None:
    allowed = {
        "preview.yml": {"contents": "read", "pull-requests": "write"},
        "up.yml": {"contents": "read", "id-token": "write"},
    }
    for name, expected in allowed.items():
        doc = workflow(name)
        assert doc["permissions"] == {}
        for job in doc["jobs"].values():
            assert job["permissions"] == expected


def test_secrets_come_only_from_environments() -> None:
    for name in ("preview.yml", "up.yml"):
        doc = workflow(name)
        text = (WORKFLOWS / name).read_text(encoding="utf-8")
        assert "secrets: inherit" not in text
        assert set(re.findall(r"secrets\.(\w+)", text)) == {"PULUMI_ACCESS_TOKEN"}
        for job in doc["jobs"].values():
            assert job.get("environment"), f"{name}: a job without an environment would read repository secrets"


def test_preview_runs_per_stack_checks_offline_and_comments_the_diff() -> None:
    job = workflow("preview.yml")["jobs"]["preview"]
    assert job["strategy"]["matrix"]["stack"] == SHIPPED_STACKS
    assert job["environment"] == "preview-${{ matrix.stack }}"
    steps = job["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "pip install" in runs and "--require-hashes -r requirements.lock" in runs and "provider.spec check" in runs
    pulumi = [s for s in steps if s.get("uses", "").startswith("pulumi/actions@")]
    assert len(pulumi) == 1
    assert pulumi[0]["with"]["command"] == "preview"
    assert pulumi[0]["with"]["diff"] is True and pulumi[0]["with"]["comment-on-pr"] is True


def test_up_runs_on_merge_to_main_behind_the_environments_in_order() -> None:
    doc = workflow("up.yml")
    on = doc.get("on", doc.get(True))  # PyYAML reads the bare key `on` as True
    assert on == {"push": {"branches": ["main"]}}
    jobs = doc["jobs"]
    assert [j["environment"] for j in jobs.values()] == SHIPPED_STACKS
    assert jobs["up-prod"]["needs"] == "up-dev"
    for stack, job in zip(SHIPPED_STACKS, jobs.values(), strict=True):
        pulumi = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
        assert pulumi[0]["with"]["command"] == "up"
        assert pulumi[0]["with"]["stack-name"].endswith(f"/esso-cluster/{stack}")
        assert any(f"stacks/Pulumi.{stack}.yaml" in s.get("run", "") for s in job["steps"])


def test_the_cli_version_in_the_workflows_is_the_pinned_sdk() -> None:
    sdk = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(encoding="utf-8"), re.M)
    assert sdk is not None
    for name in ("preview.yml", "up.yml"):
        versions = set(re.findall(r"pulumi-version: (\S+)", (WORKFLOWS / name).read_text(encoding="utf-8")))
        assert versions == {sdk.group(1)}


def test_the_tools_are_installed_from_requirements_dev() -> None:
    dev = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    assert re.search(r"^check-jsonschema==", dev, re.M) and re.search(r"^zizmor==", dev, re.M)
    assert shutil.which("zizmor", path=str(BIN)) and shutil.which("check-jsonschema", path=str(BIN))
