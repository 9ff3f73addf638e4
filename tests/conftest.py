"""Suite-wide: the run record (``.esso/logs``, issue 18) of every test goes to a temporary folder, not the checkout.

Providers append each remote call to ``<project>/.esso/logs/<stack>.jsonl``; without this, every test that runs
the procedure would grow the developer's own record. Subprocess provider hosts inherit the variable.
"""

from __future__ import annotations

import os
import pickle
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


# pulumi.dynamic.serialize_provider wraps pickle._Pickler._batch_setitems in a sorting wrapper on every call and
# never restores it, so each call wraps the previous wrapper (pulumi 3.272.0, dynamic.py). A program registers a
# few dozen resources; this suite serializes providers thousands of times in one process, and the chain of
# wrappers ends in RecursionError. Each test starts from the original method.
_ORIGINAL_BATCH_SETITEMS = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _unwrapped_pickler() -> Iterator[None]:
    yield
    pickle._Pickler._batch_setitems = _ORIGINAL_BATCH_SETITEMS  # type: ignore[attr-defined]
