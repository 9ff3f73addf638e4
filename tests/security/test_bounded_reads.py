"""Issue 13, M6: what a node answers never decides how much this machine reads or holds.

A hostile node (a ``SimulatorRemote`` whose answers are rewritten after the real handler ran) reports a
huge size, sends longer chunks than asked for, changes its story between chunks, or returns a result of
megabytes; each is refused with ESSO-080 (file) or ESSO-081 (result) before it is used, and quickly.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from provider import contracts
from provider.errors import EssoError
from provider.remote.base import MAX_RESULT_DEPTH, parse_result, result_size_problem
from provider.remote.simulator import Simulator, SimulatorRemote, demo_world

PATH = "C:\\Shared\\backup.bak"
DATA = bytes(range(256)) * 40  # 10,240 bytes
Tamper = Callable[[contracts.Params, dict[str, Any]], dict[str, Any]]


class HostileRemote(SimulatorRemote):
    """The simulator with a node that rewrites its answers to one script."""

    def __init__(self, state: Path, script: str, tamper: Tamper) -> None:
        super().__init__(state)
        self.script = script
        self.tamper = tamper
        self.calls = 0

    def _invoke(self, node: str, script: contracts.Script[Any, Any], params: contracts.Params) -> Any:
        raw = super()._invoke(node, script, params)
        if script.name != self.script:
            return raw
        self.calls += 1
        return self.tamper(params, raw)


def hostile(tmp_path: Path, script: str, tamper: Tamper, *, chunk_bytes: int = 4096) -> HostileRemote:
    state = tmp_path / "world.json"
    Simulator(state).seed(demo_world(nodes=["SSO01", "SSO02"]))
    SimulatorRemote(state).send_file("SSO01", PATH, DATA)
    remote = HostileRemote(state, script, tamper)
    remote.chunk_bytes = chunk_bytes
    return remote


def refused(action: Callable[[], object], code: str) -> EssoError:
    started = time.monotonic()
    with pytest.raises(EssoError) as err:
        action()
    assert err.value.code == code, str(err.value)
    assert time.monotonic() - started < 5
    return err.value


def chunk(data: bytes, size: int, sha: str | None = None) -> dict[str, Any]:
    return {"dataBase64": base64.b64encode(data).decode("ascii"), "size": size, "sha256": sha or "0" * 64}


# ------------------------------------------------------------------------------------------- file reads


def test_an_honest_node_is_read_in_chunks_of_the_length_asked_for(tmp_path: Path) -> None:
    remote = hostile(tmp_path, contracts.READ_FILE_CHUNK.name, lambda params, raw: raw)
    assert remote.fetch_file("SSO01", PATH) == DATA
    assert remote.calls == 3  # 10,240 bytes in 4,096-byte chunks


def test_a_size_above_the_limit_is_refused_after_one_chunk(tmp_path: Path) -> None:
    # The review's reproduction: the node claims 256 MiB and keeps sending; the tool read all of it.
    def endless(params: Any, raw: dict[str, Any]) -> dict[str, Any]:
        if params.offset > 64 * params.length:  # the test's own watchdog: without the limit this ends ESSO-022
            return chunk(b"", params.offset)
        return chunk(b"\0" * params.length, 256 * 1024 * 1024)

    remote = hostile(tmp_path, contracts.READ_FILE_CHUNK.name, endless)
    error = refused(lambda: remote.fetch_file("SSO01", PATH), "ESSO-080")
    assert remote.calls == 1
    assert "268435456 bytes" in error.detail and error.node == "SSO01"


def test_the_limit_is_configurable_per_remote_and_per_read(tmp_path: Path) -> None:
    remote = hostile(tmp_path, contracts.READ_FILE_CHUNK.name, lambda params, raw: raw)
    remote.max_fetch_bytes = 10_000
    refused(lambda: remote.fetch_file("SSO01", PATH), "ESSO-080")
    assert remote.fetch_file("SSO01", PATH, max_bytes=len(DATA)) == DATA
    refused(lambda: remote.fetch_file("SSO01", PATH, max_bytes=len(DATA) - 1), "ESSO-080")


def test_a_chunk_longer_than_asked_for_is_refused(tmp_path: Path) -> None:
    def longer(params: Any, raw: dict[str, Any]) -> dict[str, Any]:
        return chunk(DATA[params.offset : params.offset + params.length + 3], len(DATA), raw["sha256"])

    remote = hostile(tmp_path, contracts.READ_FILE_CHUNK.name, longer)
    assert "more than the 4096 bytes asked for" in refused(lambda: remote.fetch_file("SSO01", PATH), "ESSO-080").detail


def test_a_chunk_eight_times_the_request_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    # The review measured 1,048,576 bytes accepted per 65,536-byte request. A result's limit follows the
    # length asked for, so even a chunk well under the general result limit is refused unparsed.
    def huge(params: Any, raw: dict[str, Any]) -> dict[str, Any]:
        return chunk(b"\0" * 512 * 1024, 512 * 1024, raw["sha256"])

    remote = hostile(tmp_path, contracts.READ_FILE_CHUNK.name, huge, chunk_bytes=64 * 1024)
    refused(lambda: remote.fetch_file("SSO01", PATH), "ESSO-081")


def test_a_chunk_past_the_reported_size_is_refused(tmp_path: Path) -> None:
    def past(params: Any, raw: dict[str, Any]) -> dict[str, Any]:
        return chunk(b"\0" * 100, 50, raw["sha256"])

    remote = hostile(tmp_path, contracts.READ_FILE_CHUNK.name, past)
    refused(lambda: remote.fetch_file("SSO01", PATH), "ESSO-080")


def test_a_size_or_checksum_that_changes_between_chunks_is_refused(tmp_path: Path) -> None:
    def growing(params: Any, raw: dict[str, Any]) -> dict[str, Any]:
        return {**raw, "size": raw["size"] + params.offset}

    remote = hostile(tmp_path, contracts.READ_FILE_CHUNK.name, growing)
    assert "changed between chunks" in refused(lambda: remote.fetch_file("SSO01", PATH), "ESSO-080").detail

    def other_sha(params: Any, raw: dict[str, Any]) -> dict[str, Any]:
        return {**raw, "sha256": hashlib.sha256(str(params.offset).encode()).hexdigest()}

    remote = hostile(tmp_path / "b", contracts.READ_FILE_CHUNK.name, other_sha)
    refused(lambda: remote.fetch_file("SSO01", PATH), "ESSO-080")


def test_non_canonical_base64_is_refused(tmp_path: Path) -> None:
    def sloppy(params: Any, raw: dict[str, Any]) -> dict[str, Any]:
        if params.offset < 8192:
            return raw
        text = raw["dataBase64"]  # the last, short chunk: room for four characters a lax decoder skips
        return {**raw, "dataBase64": text[:4] + "!\n!!" + text[4:]}

    remote = hostile(tmp_path, contracts.READ_FILE_CHUNK.name, sloppy)
    assert "base64" in refused(lambda: remote.fetch_file("SSO01", PATH), "ESSO-080").detail


# ---------------------------------------------------------------------------------------- script results


def test_a_result_of_ten_megabytes_is_refused_fast(tmp_path: Path) -> None:
    # The review's R05: a 10 MB computerName in Get-NodeFacts was accepted.
    def inflated(params: Any, raw: dict[str, Any]) -> dict[str, Any]:
        return {**raw, "computerName": "A" * 10_000_000}

    remote = hostile(tmp_path, contracts.GET_NODE_FACTS.name, inflated)
    params = contracts.GetNodeFactsParams(
        service_account="CONTOSO\\svc-entsso", admin_group="CONTOSO\\SSO Administrators"
    )
    error = refused(lambda: remote.run("SSO01", contracts.GET_NODE_FACTS, params), "ESSO-081")
    assert "Get-NodeFacts on SSO01" in error.detail and "A" * 100 not in str(error)


def test_a_result_of_many_small_items_or_deep_nesting_is_refused() -> None:
    many: dict[str, Any] = {"computerName": "SSO01", "ssossMsids": ["x"] * 2_000_000}
    assert result_size_problem(many, 1024 * 1024) is not None
    deep: Any = "leaf"
    for _ in range(MAX_RESULT_DEPTH + 1):
        deep = [deep]
    assert "nested deeper" in (result_size_problem({"a": deep}, 1024 * 1024) or "")
    with pytest.raises(EssoError) as err:
        parse_result("SSO01", contracts.GET_NODE_FACTS, many)
    assert err.value.code == "ESSO-081"


def test_the_result_limit_is_configurable_and_normal_results_pass(tmp_path: Path) -> None:
    remote = hostile(tmp_path, contracts.GET_NODE_FACTS.name, lambda params, raw: raw)
    params = contracts.GetNodeFactsParams(
        service_account="CONTOSO\\svc-entsso", admin_group="CONTOSO\\SSO Administrators"
    )
    assert remote.run("SSO01", contracts.GET_NODE_FACTS, params).computer_name == "SSO01"
    remote.max_result_chars = 50
    refused(lambda: remote.run("SSO01", contracts.GET_NODE_FACTS, params), "ESSO-081")
