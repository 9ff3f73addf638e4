"""Fixtures of the simulator tests: a Driver that runs the seed procedure script by script."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.driver import Driver


@pytest.fixture
def driver(tmp_path: Path) -> Driver:
    return Driver(tmp_path)


@pytest.fixture
def make_driver(tmp_path: Path) -> Callable[..., Driver]:
    def make(nodes: Sequence[str] = ("SSO01", "SSO02"), **remote_kw: Any) -> Driver:
        return Driver(tmp_path, nodes, **remote_kw)

    return make
