"""Issue 5, scenario 8: providers are pickled by reference, so editing their module changes nothing in state."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.engine.world import SECRETS, SEED_ORDER, demo_stack, new_engine, remote_calls
from tests.support.engine import ROOT, Engine, learn
from tests.support.secrets_scan import find_secret

EDITED = "provider/resources/secret_server_name.py"
LOADER = """
import base64, json, sys
import dill
from pulumi.runtime._serialization import _deserialize
for blob in json.load(sys.stdin):
    provider = _deserialize(lambda: dill.loads(base64.b64decode(blob)))
    print(type(provider).__module__ + "." + type(provider).__qualname__, sorted(vars(provider)))
"""


def _copy_project(target: Path) -> Path:
    ignore = shutil.ignore_patterns(
        "venv", ".git", "tests", ".state", ".pulumi", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"
    )
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


def test_the_blobs_are_small_references_without_secrets_that_load_in_a_fresh_interpreter(tmp_path: Path) -> None:
    program = learn(demo_stack(tmp_path))
    blobs = {r.name: r.provider_blob for r in program.dynamic}
    assert list(blobs) == SEED_ORDER
    for name, text in blobs.items():
        raw = base64.b64decode(text)
        assert len(raw) < 120, (name, len(raw))  # a module path and a class name, no bytecode
        assert b"provider.resources." in raw and b"co_code" not in raw
        for secret in SECRETS.values():
            assert find_secret(raw, secret) == [] and find_secret(text, secret) == []
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    loaded = subprocess.run(
        [sys.executable, "-c", LOADER],
        cwd=ROOT,
        env=env,
        input=json.dumps(list(blobs.values())).encode(),
        capture_output=True,
        check=True,
        timeout=120,
    )
    assert loaded.stdout.decode().splitlines() == [
        "provider.resources.domain_groups.SsoDomainGroupsProvider []",
        "provider.resources.sso_system.SsoSystemProvider []",
        "provider.resources.node_join.SsoNodeJoinProvider []",
        "provider.resources.node_join.SsoNodeJoinProvider []",
        "provider.resources.secret_server_name.SecretServerNameProvider []",
        "provider.resources.clustered_service.ClusteredSsoServiceProvider []",
        "provider.resources.master_secret_restore.MasterSecretRestoreProvider []",
        "provider.resources.master_secret_restore.MasterSecretRestoreProvider []",
    ]


def test_editing_a_provider_module_leaves_the_blob_and_the_diff_unchanged(tmp_path: Path) -> None:
    config = demo_stack(tmp_path)
    engine = new_engine(tmp_path)
    original = learn(config)
    engine.up(original)
    stored = {r.name: r.plain_outputs["__provider"] for r in engine.state()}
    assert all("__provider" in r.secret_outputs for r in engine.state())  # kept encrypted in state

    project = _copy_project(tmp_path / "project")
    module = project / EDITED
    text = module.read_text(encoding="utf-8")
    module.write_text(
        text.replace('"""SecretServerName:', '"""SecretServerName (edited):', 1)
        + '\n\ndef _unused_helper() -> str:\n    """An edit that changes no behaviour."""\n    return "unused"\n',
        encoding="utf-8",
    )
    # the host started in the copy imports the edited file (same cwd and environment as the host)
    probe = subprocess.run(
        [sys.executable, "-c", "import provider.resources.secret_server_name as m; print(m.__file__)"],
        cwd=project,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert probe.stdout.decode().strip() == str(module)

    edited = learn(config, project_dir=project)  # the program run in a fresh interpreter in the copy
    assert {r.name: r.provider_blob for r in edited.dynamic} == stored  # byte-identical
    calls = remote_calls(config)
    rerun = Engine(engine.store.path, host="subprocess", project_dir=project).up(edited)
    assert rerun.plan == dict.fromkeys(SEED_ORDER, "same")
    assert [c.response.changes for c in rerun.calls if c.method == "Diff"] == [1] * len(SEED_ORDER)  # DIFF_NONE
    assert remote_calls(config) == calls
