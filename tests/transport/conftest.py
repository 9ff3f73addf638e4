"""Fixtures of the transport tests: TLS material, loopback endpoints, and a clean pool registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from provider.remote.psrp import close_pools
from tests.support.certs import TlsFiles, make_tls_files
from tests.support.loopback import Backend, Loopback
from tests.transport.kit import PASSWORD, USER


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "derived: a replay scenario that serves a response derived from a recording")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # pytest-timeout: a hung transport test fails in 30 s instead of stalling the suite (the folder runs in ~15 s).
    for item in items:
        if item.path.parent == Path(__file__).parent and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(30))


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # pypsrp trusts REQUESTS_CA_BUNDLE when validation is on without a bundle: the tests pin the trust store.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    close_pools()
    yield
    close_pools()


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


Start = Callable[..., Loopback]


@pytest.fixture
def start_loopback(tls: TlsFiles) -> Iterator[Start]:
    """``start_loopback(backend, nodes=..., https=False, **options)``: endpoints stopped after the test."""
    started: list[Loopback] = []

    def start(
        backend: Backend, nodes: tuple[str, ...] = ("SSO01", "SSO02"), *, https: bool = False, **kw: Any
    ) -> Loopback:
        kw.setdefault("users", {USER: PASSWORD})
        lb = Loopback(backend, list(nodes), tls=tls.server_context() if https else None, **kw)
        started.append(lb)
        return lb

    yield start
    close_pools()
    for lb in started:
        lb.stop()


@pytest.fixture
def scripts_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "provider" / "scripts"
