"""`make demo` offline says exactly what to do, verifies the CLI archive before unpacking it, and leaves git clean.

Why: the old `curl | sh` hid curl's failure, so offline users saw `env: 'pulumi': No such file` instead of
the promised message, and the demo rewrote the tracked stack file. These run the Makefile's own recipes
(no Pulumi CLI, no network: the release URL points at a closed local port, or the files are pre-placed).
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")
VERSION = re.search(r"^PULUMI_VERSION := (\S+)$", MAKEFILE, re.M).group(1)  # type: ignore[union-attr]
CLOSED = "https://127.0.0.1:9"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )


def variable(name: str, demo_dir: Path) -> str:
    done = make(f"DEMO_DIR={demo_dir}", "-s", "--eval", f"print-var: ; @echo $({name})", "print-var")
    return done.stdout.strip()


def tracked_changes() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--", "stacks"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def test_offline_demo_says_exactly_what_to_do(tmp_path: Path) -> None:
    before = tracked_changes()
    working_copy = ROOT / "stacks" / "Pulumi.demo-local.yaml"
    existed = working_copy.exists()
    done = make("demo", f"DEMO_DIR={tmp_path}", f"PULUMI_RELEASES={CLOSED}")
    out = done.stdout + done.stderr
    archive = variable("PULUMI_ARCHIVE", tmp_path)
    assert done.returncode != 0
    assert f"Could not download the Pulumi CLI {VERSION}" in out
    assert f"{CLOSED}/v{VERSION}/{archive}" in out
    assert f"{CLOSED}/v{VERSION}/pulumi-{VERSION}-checksums.txt" in out
    assert f"copy both files into {tmp_path}/downloads/ and run 'make demo' again" in out
    assert "No such file" not in out and "| sh" not in out
    assert not (tmp_path / "cli").exists()
    assert tracked_changes() == before
    assert working_copy.exists() == existed  # the offline stop comes before any stack file is written


def fake_release(downloads: Path, archive: str, *, good_sum: bool) -> None:
    """A release archive holding pulumi/pulumi (a script that prints the version) and its checksums file."""
    downloads.mkdir(parents=True)
    script = f"#!/bin/sh\necho v{VERSION}\n".encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("pulumi/pulumi")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    data = buffer.getvalue()
    (downloads / archive).write_bytes(data)
    digest = hashlib.sha256(data if good_sum else b"something else").hexdigest()
    other = hashlib.sha256(b"other").hexdigest()
    (downloads / f"pulumi-{VERSION}-checksums.txt").write_text(
        f"{other}  pulumi-v{VERSION}-windows-x64.zip\n{digest}  {archive}\n", encoding="utf-8"
    )


def test_a_predownloaded_archive_is_verified_unpacked_and_kept(tmp_path: Path) -> None:
    archive = variable("PULUMI_ARCHIVE", tmp_path)
    fake_release(tmp_path / "downloads", archive, good_sum=True)
    done = make("demo-cli", f"DEMO_DIR={tmp_path}", f"PULUMI_RELEASES={CLOSED}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"v{VERSION}" in done.stdout
    assert (tmp_path / "cli" / VERSION / "pulumi" / "pulumi").is_file()
    again = make("demo-cli", f"DEMO_DIR={tmp_path}", f"PULUMI_RELEASES={CLOSED}")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_an_archive_that_does_not_match_its_checksum_is_refused_and_not_unpacked(tmp_path: Path) -> None:
    archive = variable("PULUMI_ARCHIVE", tmp_path)
    fake_release(tmp_path / "downloads", archive, good_sum=False)
    done = make("demo-cli", f"DEMO_DIR={tmp_path}", f"PULUMI_RELEASES={CLOSED}")
    assert done.returncode != 0
    assert f"{archive} does not match its published SHA-256: it was not unpacked" in done.stdout + done.stderr
    assert not (tmp_path / "cli" / VERSION).exists()
    assert not (tmp_path / "downloads" / archive).exists()


def test_the_demo_never_pipes_a_download_into_a_shell_and_keeps_secrets_out_of_the_tracked_stack() -> None:
    demo = MAKEFILE.split("\ndemo:", 1)[1]
    recipes = "\n".join(line for line in MAKEFILE.splitlines() if line.startswith("\t"))
    assert "curl" in recipes and not re.search(r"curl[^\n]*\|\s*(ba)?sh", recipes)
    assert "DEMO_STACK := demo-local" in MAKEFILE
    assert "config set --secret" in demo and "-s $(DEMO_STACK)" in demo
    assert " -s demo\n" not in demo and "-s demo " not in demo
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "stacks/Pulumi.demo-local.yaml"], cwd=ROOT, check=False
    ).returncode
    assert ignored == 0, "the demo's working stack file must be git-ignored"
    assert "show --summary" in demo
