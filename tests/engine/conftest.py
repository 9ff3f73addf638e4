"""Fixtures of the engine tests, and the cascade seeds of a failing test in its report."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from tests.engine.rig import rig
from tests.support.engine import SEEDS_USED

__all__ = ["rig"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, None]:
    """A failing test's report names every cascade seed its engine runs drew (``ESSO_ENGINE_SEED`` replays one)."""
    start = len(SEEDS_USED)
    if call.when == "setup":
        item.stash[_FIRST] = start
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        seeds = SEEDS_USED[item.stash.get(_FIRST, 0) :]
        if seeds:
            report.sections.append(("engine seeds", f"cascade order seeds, in run order: {seeds}"))


_FIRST = pytest.StashKey[int]()
