"""What the loopback endpoint records: every HTTP exchange (wire bytes, SOAP, PSRP payloads) and every pipeline.

Why: secret scans need the bytes as they travelled and as the node saw them; overlap checks need when each
pipeline ran on each node.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass


@dataclass
class Exchange:
    """One HTTP request and its answer, as recorded by the endpoint."""

    node: str
    started: float
    ended: float = 0.0
    action: str = ""
    script: str | None = None  # the contract script whose pipeline this request created
    status: int = 0
    wire_request: bytes = b""  # as on the socket (TLS plaintext on HTTPS); encrypted parts stay encrypted
    wire_response: bytes = b""
    soap_request: bytes = b""  # after WinRM message decryption
    soap_response: bytes = b""
    psrp_in: bytes = b""  # PSRP fragments decoded from base64
    psrp_out: bytes = b""
    encrypted: bool = False
    dropped: bool = False
    max_envelope: int = 0  # the client's MaxEnvelopeSize header


@dataclass
class Operation:
    """One pipeline: from the request that created it to its Signal (or last Receive)."""

    node: str
    script: str
    started: float
    ended: float | None = None
    local_scope: bool = False  # the script ran in its own scope (AddScript useLocalScope): nothing stays behind


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.exchanges: list[Exchange] = []
        self.operations: list[Operation] = []
        self.decrypted_secrets: list[str] = []  # SecureString values the endpoint decrypted (for the scan)

    def add(self, exchange: Exchange) -> None:
        with self.lock:
            self.exchanges.append(exchange)

    def wire_bytes(self) -> bytes:
        with self.lock:
            return b"\n".join(e.wire_request + b"\n" + e.wire_response for e in self.exchanges)

    def decrypted_bytes(self) -> bytes:
        """Everything the endpoint saw in clear: SOAP after decryption and the decoded PSRP payloads."""
        with self.lock:
            return b"\n".join(
                b"\n".join((e.soap_request, e.soap_response, e.psrp_in, e.psrp_out)) for e in self.exchanges
            )

    def requests(
        self, *, node: str | None = None, script: str | None = None, action: str | None = None
    ) -> list[Exchange]:
        with self.lock:
            return [
                e
                for e in self.exchanges
                if (node is None or e.node == node)
                and (script is None or e.script == script)
                and (action is None or e.action == action)
            ]

    def clear(self) -> None:
        with self.lock:
            self.exchanges.clear()
            self.operations.clear()
            self.decrypted_secrets.clear()

    def overlaps(self, node: str) -> list[tuple[Operation, Operation]]:
        """Pairs of operations on ``node`` that ran at the same time (there must be none)."""
        with self.lock:
            ops = sorted((o for o in self.operations if o.node == node), key=lambda o: o.started)
        found = []
        for a, b in itertools.pairwise(ops):
            if a.ended is None or b.started < a.ended:
                found.append((a, b))
        return found
