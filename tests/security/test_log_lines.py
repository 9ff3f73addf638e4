"""Issue 13, L4: every line this tool writes shows what it holds; a node's reply cannot forge or erase a line.

The review's reproduction: a step noted as ``Restore-MasterSecret changed\\x1b[2K\\resso: [x] SSO01 preflight ok``
erased its own line on a terminal and printed a forged one. ``printable`` is the one helper; the provider's
stderr lines (``Steps``), the component's ``pulumi.log`` lines, configuration problems and the offline
check's output go through it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from components import clustered_master_secret
from provider.config.cli import main
from provider.config.problems import Problem, is_hidden, printable
from provider.resources.base import Steps

FORGED = "SSO02\x1b[2K\resso: [x] SSO01 preflight ok\n\u202etxt.exe"


def no_hidden(text: str) -> bool:
    return not any(is_hidden(char) for char in text)


def test_printable_escapes_controls_and_invisible_characters_and_keeps_ordinary_text() -> None:
    shown = printable(FORGED)
    assert no_hidden(shown)
    assert shown == "SSO02\\x1b[2K\\resso: [x] SSO01 preflight ok\\n\\u202etxt.exe"
    for ordinary in ("C:\\Windows\\Temp\\esso-1\\SSOSecret.bak", "Rôle SSO", "SSO01 Set-SecretServerName"):
        assert printable(ordinary) == ordinary
    assert printable("\u200b\u00a0\u2028\x85\x7f") == "\\u200b\\xa0\\u2028\\x85\\x7f"


def test_printable_bounds_a_value() -> None:
    shown = printable("A" * 10_000_000)
    assert len(shown) < 600 and shown.endswith("(9999488 more characters)")


def test_a_provider_step_is_one_escaped_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    Steps("master-secret-restore").add(FORGED, "Restore-MasterSecret", True, note="copied\r\nfrom escrow")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n")
    line = err[:-1]
    assert no_hidden(line) and "\\x1b[2K\\r" in line and "copied\\r\\nfrom escrow" in line


def test_the_component_logs_each_step_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    logged: list[str] = []
    monkeypatch.setattr(pulumi.log, "info", lambda message, resource=None, **_: logged.append(message))

    class StepsOutput:
        def apply(self, emit: Any) -> None:
            emit([{"node": FORGED, "step": "Restore-MasterSecret\n", "changed": True, "note": "a\x1bb"}])

    class Resource:
        steps = StepsOutput()

    clustered_master_secret._log_steps(Resource())  # type: ignore[arg-type]
    (message,) = logged
    assert no_hidden(message) and "\\x1b" in message and "Restore-MasterSecret\\n" in message


def test_configuration_problems_and_the_offline_check_print_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert str(Problem("esso-cluster:x\x1b[2K", "is not a known key")) == "esso-cluster:x\\x1b[2K: is not a known key"
    path = tmp_path / "Pulumi.x\x1b[2K.yaml"
    path.write_text('config:\n  "esso-cluster:clus\\e[2K\\rter": 1\n', encoding="utf-8")
    lines: list[str] = []
    assert main(["check", str(path)], out=lines.append) == 1
    assert lines and all(no_hidden(line) for line in lines)
    assert any("\\x1b[2K\\r" in line for line in lines)
    err = capsys.readouterr().err
    assert err.endswith("\n") and no_hidden(err[:-1]) and "Pulumi.x\\x1b[2K.yaml" in err
