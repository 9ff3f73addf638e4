"""Each operate test keeps its run record in its own ``tmp_path/.esso/logs`` (as ``<project>/.esso/logs``)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESSO_LOG_DIR", str(tmp_path / ".esso" / "logs"))
