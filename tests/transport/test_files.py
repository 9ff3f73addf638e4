"""File transfer over the transport: chunks sized from the envelope, each in one WS-Man request, and the
endpoint's MaxEnvelopeSize enforcement proving that a chunk sized for a larger envelope would fault."""

from __future__ import annotations

import hashlib
import math
import os
from typing import Any

import pytest
from pydantic import SecretStr

from provider.errors import EssoError
from provider.remote.psrp import DEFAULT_MAX_ENVELOPE_SIZE, PsrpRemote, chunk_bytes_for, script_text
from tests.transport.kit import PASSWORD, USER, MiniBackend, remote, transport

PATH = r"C:\Windows\Temp\esso-0123456789abcdef\SSOSecret.bak"


def test_chunks_grow_with_the_envelope_and_fit_it() -> None:
    text = script_text("Write-FileChunk")
    small = chunk_bytes_for(DEFAULT_MAX_ENVELOPE_SIZE, text)
    large = chunk_bytes_for(512_000, text)
    assert 32 * 1024 < small < DEFAULT_MAX_ENVELOPE_SIZE * 3 // 4
    assert large > 2 * small
    with pytest.raises(EssoError):
        chunk_bytes_for(16_384, text)


def test_send_and_fetch_a_file_in_envelope_sized_chunks(start_loopback: Any) -> None:
    backend = MiniBackend()
    lb = start_loopback(backend)
    r = remote(lb)
    data = os.urandom(300_000)
    digest = r.send_file("SSO02", PATH, data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert backend.files[("SSO02", PATH.lower())] == data
    chunks = math.ceil(len(data) / r.chunk_bytes)
    writes = lb.recorder.requests(script="Write-FileChunk", action="Command")
    assert len(writes) == chunks >= 3
    # One chunk, one request: no chunk spilled into Send fragments.
    assert lb.recorder.requests(script="Write-FileChunk", action="Send") == []
    assert r.fetch_file("SSO02", PATH) == data
    assert len(lb.recorder.requests(script="Read-FileChunk", action="Command")) == chunks
    for exchange in lb.recorder.exchanges:
        assert len(exchange.soap_request) <= lb.max_envelope_size
        if exchange.max_envelope:
            assert len(exchange.soap_response) <= exchange.max_envelope


def test_a_chunk_sized_for_a_larger_envelope_faults(start_loopback: Any) -> None:
    backend = MiniBackend()
    lb = start_loopback(backend)  # the node's MaxEnvelopeSize: 150 KiB
    oversized = PsrpRemote(
        transport(lb), username=USER, password=SecretStr(PASSWORD), resolver=lb.resolver, max_envelope_size=512_000
    )
    assert oversized.chunk_bytes > lb.max_envelope_size  # one chunk's request cannot fit this node's envelope
    with pytest.raises(EssoError) as err:
        oversized.send_file("SSO02", PATH, os.urandom(oversized.chunk_bytes))
    assert err.value.code == "ESSO-034"
    assert "HTTP 413" in str(err.value) and "MaxEnvelopeSizekb" in str(err.value)
    assert backend.files == {}
    # What Windows sends (ansible.windows#391, #620): HTTP 413 and no SOAP fault at all.
    refused = [e for e in lb.recorder.exchanges if e.status == 413]
    assert len(refused) == 1 and refused[0].soap_response == b""
    assert refused[0].wire_response.endswith(b"\r\n\r\n")  # headers only: no body
