"""The one interface through which providers reach Windows: run a named script, move a small file.

Why an interface: the same providers run against the simulator (tests, the demo stack) and against
real nodes over pypsrp. Both validate what a script returns with that script's result model, and both
refuse a script that needs a second hop the transport does not declare (design rule 12) before
anything is sent.
"""

from __future__ import annotations

import base64
import hashlib
import time
from abc import ABC, abstractmethod
from typing import Any, TypeVar

from pydantic import ValidationError

from provider import contracts as c
from provider.errors import EssoError

P = TypeVar("P", bound=c.Params)
R = TypeVar("R", bound=c.Result)

# Bytes of file data per chunk: base64 grows it by 4/3 and the envelope (153,600 bytes by default)
# also carries the CLIXML wrapping, so 64 KiB of data stays well inside one message.
DEFAULT_CHUNK_BYTES = 64 * 1024

# Reads from a node are bounded (issue 13, M6): what a node answers decides nothing about how much this
# machine holds. The only file fetched is a master secret backup, a few KB; a script result is a small
# hashtable (the largest is one file chunk, bounded by the length asked for).
MAX_FETCH_BYTES = 1024 * 1024
MAX_RESULT_CHARS = 1024 * 1024
MAX_RESULT_DEPTH = 32


class TransientRemoteError(EssoError):
    """The connection dropped, timed out or was refused: the script may or may not have run.

    Reads are retried (bounded, with backoff). A change is never re-sent: the caller re-reads the
    facts and decides (``may_have_run`` says whether the request could have reached the node).
    """

    def __init__(self, code: str, detail: str, *, node: str, step: str, may_have_run: bool) -> None:
        super().__init__(code, detail, node=node, step=step)
        self.may_have_run = may_have_run


class Remote(ABC):
    """Runs contract scripts on named nodes. Implementations: simulator, pypsrp."""

    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    max_fetch_bytes: int = MAX_FETCH_BYTES
    """The largest file ``fetch_file`` accepts (ESSO-080 beyond it); set on an instance to configure."""
    max_result_chars: int = MAX_RESULT_CHARS
    """The largest script result ``run`` accepts, in characters of its values (ESSO-081 beyond it)."""

    def __init__(self, *, second_hop: bool, retries: int = 2, backoff: float = 0.5) -> None:
        self.second_hop = second_hop
        self.retries = retries
        self.backoff = backoff

    # -- what implementations provide ------------------------------------------------------------
    @abstractmethod
    def _invoke(self, node: str, script: c.Script[Any, Any], params: c.Params) -> Any:
        """Run the script on the node and return its raw output (one dict)."""

    @abstractmethod
    def renew_logon(self, node: str) -> None:
        """Start a new logon session on the node, so the token carries new group memberships (rule 13)."""

    def close(self) -> None:  # noqa: B027 - optional hook: the default holds no connection
        """Release connections; the default holds none."""

    # -- the shared contract ---------------------------------------------------------------------
    def run(self, node: str, script: c.Script[P, R], params: P) -> R:
        """Run ``script`` on ``node`` and return its validated result."""
        if not isinstance(params, script.params):
            raise TypeError(f"{script.name} takes {script.params.__name__}, not {type(params).__name__}")
        if script.second_hop and not self.second_hop:
            raise EssoError(
                "ESSO-015",
                f"{script.name} reaches SQL Server or a domain controller from {node}, and the transport "
                "declares no second hop.",
                node=node,
                step=script.name,
            )
        attempt = 0
        while True:
            try:
                raw = self._invoke(node, script, params)
                break
            except TransientRemoteError:
                if script.changes or attempt >= self.retries:
                    raise
                time.sleep(self.backoff * (2**attempt))
                attempt += 1
        limit = self.max_result_chars
        if isinstance(params, c.ReadFileChunkParams):  # a chunk is never more than the length asked for
            limit = min(limit, encoded_chars(params.length) + _ENVELOPE_CHARS)
        return parse_result(node, script, raw, limit=limit)

    def send_file(self, node: str, path: str, data: bytes) -> str:
        """Write ``data`` to ``path`` on the node in envelope-sized chunks; returns the verified SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        offsets = list(range(0, len(data), self.chunk_bytes)) or [0]
        written: c.WrittenFile | None = None
        for offset in offsets:
            chunk = data[offset : offset + self.chunk_bytes]
            written = self.run(
                node,
                c.WRITE_FILE_CHUNK,
                c.WriteFileChunkParams(
                    path=path,
                    data_base64=base64.b64encode(chunk).decode("ascii"),
                    offset=offset,
                    final=offset == offsets[-1],
                    expected_sha256=digest,
                ),
            )
        assert written is not None
        if written.size != len(data) or written.sha256 != digest:
            raise EssoError(
                "ESSO-022",
                f"{path} on {node} holds {written.size} bytes with SHA-256 {written.sha256}, "
                f"expected {len(data)} bytes with {digest}.",
                node=node,
                step="send-file",
            )
        return digest

    def fetch_file(self, node: str, path: str, *, max_bytes: int | None = None) -> bytes:
        """Read ``path`` from the node in chunks and verify it against the node's own SHA-256.

        Bounded (M6): a size above ``max_bytes`` (default ``max_fetch_bytes``), a chunk longer than asked
        for or past the size, a size or SHA-256 that changes between chunks, or non-canonical base64 is
        refused (ESSO-080) before more is read.
        """
        limit = self.max_fetch_bytes if max_bytes is None else max_bytes
        parts: list[bytes] = []
        offset = 0
        first: c.FileChunk | None = None
        while True:
            length = max(1, min(self.chunk_bytes, limit - offset))
            chunk = self.run(node, c.READ_FILE_CHUNK, c.ReadFileChunkParams(path=path, offset=offset, length=length))
            first = first or chunk
            data = checked_chunk(node, path, chunk, first, offset=offset, length=length, limit=limit)
            parts.append(data)
            offset += len(data)
            if offset >= chunk.size or not data:
                break
        content = b"".join(parts)
        if hashlib.sha256(content).hexdigest() != chunk.sha256:
            raise EssoError(
                "ESSO-022",
                f"{path} fetched from {node} does not match the SHA-256 the node reported.",
                node=node,
                step="fetch-file",
            )
        return content


def parse_result(node: str, script: c.Script[Any, R], raw: Any, *, limit: int = MAX_RESULT_CHARS) -> R:
    """Validate raw script output against the script's result model (ESSO-037 on a mismatch).

    A result larger than ``limit`` characters, or nested deeper than ``MAX_RESULT_DEPTH``, is refused
    first (ESSO-081): no script of this tool returns one, so a node that does is not answered in kind.
    """
    why = result_size_problem(raw, limit)
    if why:
        raise EssoError(
            "ESSO-081",
            f"{script.name} on {node} returned {why}; nothing of it was used.",
            node=node,
            step=script.name,
        )
    try:
        return script.result.model_validate(raw)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) or "(root)" for err in exc.errors())
        raise EssoError(
            "ESSO-037",
            f"{script.name} on {node} returned output that does not match its contract (fields: {fields}).",
            node=node,
            step=script.name,
        ) from None


# Room for the rest of a file chunk's result (size, sha256, keys) beyond its base64 text.
_ENVELOPE_CHARS = 4096


def encoded_chars(length: int) -> int:
    """How many base64 characters ``length`` bytes take."""
    return 4 * ((max(length, 0) + 2) // 3)


def checked_chunk(
    node: str, path: str, chunk: c.FileChunk, first: c.FileChunk, *, offset: int, length: int, limit: int
) -> bytes:
    """One chunk's bytes, or ESSO-080 when the node answered more, or otherwise, than was asked for."""

    def refuse(why: str) -> EssoError:
        return EssoError("ESSO-080", f"{path} on {node}: {why}; nothing was kept.", node=node, step="fetch-file")

    if chunk.size < 0 or chunk.size > limit:
        raise refuse(f"the node reports {chunk.size} bytes, more than the {limit} this read allows")
    if (chunk.size, chunk.sha256) != (first.size, first.sha256):
        raise refuse("the size or SHA-256 the node reports changed between chunks")
    if len(chunk.data_base64) > encoded_chars(length):
        raise refuse(f"a chunk holds more than the {length} bytes asked for")
    try:
        data = base64.b64decode(chunk.data_base64, validate=True)
    except ValueError:
        raise refuse("a chunk is not canonical base64") from None
    if len(data) > length or offset + len(data) > chunk.size:
        raise refuse(f"a chunk of {len(data)} bytes at offset {offset} exceeds what was asked for or the file size")
    return data


def result_size_problem(raw: Any, limit: int) -> str | None:
    """Why ``raw`` is too large to parse (characters of its keys and values, or its nesting), or None.

    Iterative and stops at the limit, so an answer of any size costs no more than ``limit`` to judge.
    """
    total = 0
    stack: list[tuple[Any, int]] = [(raw, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_RESULT_DEPTH:
            return f"a result nested deeper than {MAX_RESULT_DEPTH} levels"
        if isinstance(value, str | bytes):
            total += len(value)
        elif isinstance(value, dict):
            total += 1 + len(value)  # counted before anything is stacked: a huge container stops here
            if total > limit:
                break
            for key, item in value.items():
                stack.append((key, depth + 1))
                stack.append((item, depth + 1))
        elif isinstance(value, list | tuple):
            total += 1 + len(value)
            if total > limit:
                break
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, int) and not isinstance(value, bool):
            total += value.bit_length() // 3 + 1
        else:
            total += 1
        if total > limit:
            break
    if total > limit:
        return f"more than {limit} characters, the most a result of this call may hold"
    return None
