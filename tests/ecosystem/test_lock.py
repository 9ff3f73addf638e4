"""Every install path uses lock files whose packages are all pinned with hashes and agree with requirements*.txt.

Why: requirements*.txt pin only the direct dependencies; about fifty transitive ones were resolved fresh on
each install, with no hashes. `make lock` (pip-tools' pip-compile --generate-hashes) writes the .lock files,
and `make test`, `make demo` and the workflows install them with `pip install --require-hashes`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAIRS = [("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements-dev.lock")]


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, str]:
    """``name==version`` lines (extras dropped, names normalised); ``-r`` includes are not followed."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)", line)
        if m:
            found[norm(m.group(1))] = m.group(3)
    return found


def locked(text: str) -> dict[str, tuple[str, int]]:
    """Each locked package: its version and how many sha256 hashes follow it."""
    entries: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if m:
            current = norm(m.group(1))
            entries[current] = (m.group(2), 0)
        elif current and re.match(r"^\s+--hash=sha256:[0-9a-f]{64}", line):
            version, count = entries[current]
            entries[current] = (version, count + 1)
    return entries


def out_of_sync(requirements: str, lock: str) -> list[str]:
    """What a lock misses or pins differently from the requirements, and packages locked without a hash."""
    entries = locked(lock)
    problems = [
        f"{name}=={version}: the lock has {entries[name][0] if name in entries else 'nothing'}"
        for name, version in pins(requirements).items()
        if entries.get(name, ("", 0))[0] != version
    ]
    problems += [f"{name}: no --hash" for name, (_, count) in entries.items() if count == 0]
    return problems


def text(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(("requirements", "lock"), PAIRS)
def test_each_lock_matches_its_requirements_and_hashes_every_package(requirements: str, lock: str) -> None:
    direct = text(requirements)
    if requirements == "requirements-dev.txt":
        direct += text("requirements.txt")
    assert out_of_sync(direct, text(lock)) == [], f"run 'make lock' after editing {requirements}"


def test_the_runtime_lock_agrees_with_the_dev_lock() -> None:
    runtime, dev = locked(text("requirements.lock")), locked(text("requirements-dev.lock"))
    assert {n: v for n, (v, _) in runtime.items() if dev.get(n, ("", 0))[0] != v} == {}


def test_a_changed_pin_or_a_missing_hash_is_caught() -> None:
    lock = "pydantic==2.14.3 \\\n    --hash=sha256:" + "a" * 64 + "\nlxml==6.1.3\n"
    assert out_of_sync("pydantic==2.14.4\n", lock) == ["pydantic==2.14.4: the lock has 2.14.3", "lxml: no --hash"]
    assert out_of_sync("pypsrp[credssp]==0.9.1\n", lock)[0] == "pypsrp==0.9.1: the lock has nothing"


def test_every_install_path_requires_the_hashes() -> None:
    makefile = text("Makefile")
    assert "--require-hashes -r requirements-dev.lock" in makefile
    assert "--require-hashes -r requirements.lock" in makefile
    flags = makefile.split("\nLOCK_FLAGS :=", 1)[1].split("\nlock:", 1)[0]
    lock_target = makefile.split("\nlock:", 1)[1].split("\n\n", 1)[0]
    assert "--generate-hashes" in flags and "--no-emit-index-url" in flags
    assert "$(LOCK_FLAGS) --output-file requirements.lock requirements.txt" in lock_target
    assert "$(LOCK_FLAGS) --output-file requirements-dev.lock requirements-dev.txt" in lock_target
    for workflow in (ROOT / ".github" / "workflows").glob("*.yml"):
        installs = [line for line in workflow.read_text(encoding="utf-8").splitlines() if "pip install" in line]
        assert installs and all("--require-hashes -r requirements.lock" in line for line in installs), workflow.name
