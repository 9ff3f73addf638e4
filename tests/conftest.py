"""Suite-wide: the run record (``.esso/logs``, issue 18) of every test goes to a temporary folder, not the checkout.

Providers append each remote call to ``<project>/.esso/logs/<stack>.jsonl``; without this, every test that runs
the procedure would grow the developer's own record. Subprocess provider hosts inherit the variable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def _run_records_outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    saved = os.environ.get("ESSO_LOG_DIR")
    os.environ["ESSO_LOG_DIR"] = str(tmp_path_factory.mktemp("esso-logs"))
    yield
    if saved is None:
        os.environ.pop("ESSO_LOG_DIR", None)
    else:
        os.environ["ESSO_LOG_DIR"] = saved
